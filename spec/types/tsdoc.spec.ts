/**
 * The public options, run parameters and results are documented where an editor shows it: hovering
 * `poolSize` in `new Sandbox({ poolSize: 1 })` shows its meaning and default. Every field has TSDoc,
 * the `@default` values are the defaults the code applies, and the wording is README's (the source
 * of truth): a change to one that is not made to the other fails here.
 *
 * Checks what a consumer of the package sees: lib's declarations are emitted (in memory) the way
 * the build emits dist/*.d.ts, and the TypeScript language service answers over a consumer's file
 * importing them. (Schemas' inferred types lose their comments in .d.ts files: that is why the
 * public types are written out by hand.)
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { parseRunParams, parseSandboxOptions } from '../../lib/options.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
/** Where the emitted declarations seem to be: inside the project, so that `zod` resolves. */
const DIST = `${ROOT}spec/types/.virtual-dist/`;
const INDEX = `${DIST}index.d.ts`;

/** A consumer's code, as a user of the package writes it. */
const CONSUMER = `${DIST}consumer.ts`;
const CONSUMER_TEXT = [
  "import Sandbox, { removeOrphans } from './index.js';",
  'const sandbox = new Sandbox({ poolSize: 2, maxQueue: 10 });',
  "const result = await sandbox.run({ code: 'print(1)', collect: ['*.png'] });",
  'result.timings.queuedMs;',
  'sandbox.options.timeoutMs;',
  'await removeOrphans({ all: true });',
  '',
].join('\n');

const config = ts.getParsedCommandLineOfConfigFile(`${ROOT}tsconfig.build.json`, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
assert.ok(config !== undefined);
const files = new Map([[CONSUMER, CONSUMER_TEXT], ...emitDeclarations(config)]);
const service = createLanguageService(config.options);
const program = service.getProgram();
assert.ok(program !== undefined);
const checker = program.getTypeChecker();

/** lib's .d.ts files, by the path they would have in DIST, as `npm run build` makes them. */
function emitDeclarations(build: ts.ParsedCommandLine): Map<string, string> {
  const emitted = new Map<string, string>();
  const options = { ...build.options, outDir: DIST, declaration: true, emitDeclarationOnly: true, noEmit: false, declarationMap: false };
  const result = ts.createProgram(build.fileNames, options).emit(undefined, (file, text) => emitted.set(file, text));
  assert.deepEqual(
    result.diagnostics.map((diagnostic) => ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')),
    [],
  );
  assert.ok(emitted.has(INDEX), `no ${INDEX} among ${[...emitted.keys()].join(', ')}`);
  return emitted;
}

function createLanguageService(options: ts.CompilerOptions): ts.LanguageService {
  const read = (file: string): string | undefined => files.get(file) ?? ts.sys.readFile(file);
  return ts.createLanguageService({
    getScriptFileNames: () => [CONSUMER],
    getScriptVersion: () => '1',
    getScriptSnapshot: (file) => {
      const text = read(file);
      return text === undefined ? undefined : ts.ScriptSnapshot.fromString(text);
    },
    getCurrentDirectory: () => ROOT,
    getCompilationSettings: () => ({ ...options, rootDir: undefined, outDir: undefined }),
    getDefaultLibFileName: ts.getDefaultLibFilePath,
    fileExists: (file) => files.has(file) || ts.sys.fileExists(file),
    readFile: read,
  });
}

interface Hover {
  signature: string;
  documentation: string;
  tags: string[];
}

/** What an editor shows when hovering (the first) `word` in the consumer's code. */
function hover(word: string): Hover {
  const position = CONSUMER_TEXT.indexOf(word);
  assert.ok(position >= 0, `${word} is not in the consumer's code`);
  const info = service.getQuickInfoAtPosition(CONSUMER, position + 1);
  assert.ok(info !== undefined, `no quick info at ${word}`);
  return {
    signature: ts.displayPartsToString(info.displayParts),
    documentation: ts.displayPartsToString(info.documentation),
    tags: (info.tags ?? []).map((tag) => `@${tag.name} ${ts.displayPartsToString(tag.text)}`),
  };
}

/** A public type, as the package's index.d.ts exports it. */
function exportedType(name: string): ts.Type {
  const source = program!.getSourceFile(INDEX);
  assert.ok(source !== undefined);
  const module = checker.getSymbolAtLocation(source);
  assert.ok(module !== undefined);
  let symbol = checker.getExportsOfModule(module).find((candidate) => candidate.name === name);
  assert.ok(symbol !== undefined, `index.d.ts does not export ${name}`);
  if (symbol.flags & ts.SymbolFlags.Alias) symbol = checker.getAliasedSymbol(symbol);
  return checker.getDeclaredTypeOfSymbol(symbol);
}

/** The object form of RunParams (`string | { code, ... }`). */
function runParamsObjectType(): ts.Type {
  const runParams = exportedType('RunParams');
  assert.ok(runParams.isUnion());
  const objects = runParams.types.filter((member) => member.flags & ts.TypeFlags.Object);
  assert.equal(objects.length, 1);
  return objects[0]!;
}

interface FieldDoc {
  documentation: string;
  /** The text of `@default`, or undefined without one. */
  default: string | undefined;
}

function fieldDocs(type: ts.Type): Map<string, FieldDoc> {
  return new Map(
    checker.getPropertiesOfType(type).map((property) => {
      const tag = property.getJsDocTags(checker).find((candidate) => candidate.name === 'default');
      return [
        property.name,
        {
          documentation: ts.displayPartsToString(property.getDocumentationComment(checker)),
          default: tag === undefined ? undefined : ts.displayPartsToString(tag.text),
        },
      ];
    }),
  );
}

const PUBLIC_TYPES = {
  SandboxOptions: () => exportedType('SandboxOptions'),
  RunParamsObject: runParamsObjectType,
  RemoveOrphansOptions: () => exportedType('RemoveOrphansOptions'),
  RunResult: () => exportedType('RunResult'),
  RunTimings: () => exportedType('RunTimings'),
  RunUsage: () => exportedType('RunUsage'),
  SkippedFile: () => exportedType('SkippedFile'),
};

test("hovering an option, a run parameter or a result field in a consumer's code shows its documentation and default", () => {
  const poolSize = hover('poolSize');
  assert.match(poolSize.signature, /poolSize\?: number/);
  assert.match(
    poolSize.documentation,
    /^Containers kept warm \(1 to 64\); runs beyond them wait in FIFO order\. With `engines`, each\sengine's own `poolSize` counts instead\.$/,
  );
  assert.deepEqual(poolSize.tags, ['@default 1']);
  assert.deepEqual(hover('maxQueue').tags, ['@default no limit']);
  assert.match(hover('collect').documentation, /^Paths or globs relative to the work dir/);
  assert.match(hover('queuedMs').documentation, /^Time waiting for a container\.$/);
  assert.match(hover('all').documentation, /^Remove every container with the label/);
  assert.match(hover('timings').documentation, /queuedMs, runMs/);
  // The resolved options (`sandbox.options`) keep the options' documentation.
  const resolved = hover('timeoutMs');
  assert.match(resolved.signature, /timeoutMs: number$/);
  assert.match(resolved.documentation, /^Wall-clock limit of a run, unless the run sets its own\.$/);
});

test('every field of the public options, run parameters and results has TSDoc', () => {
  const undocumented = Object.entries(PUBLIC_TYPES).flatMap(([name, type]) =>
    [...fieldDocs(type())].filter(([, doc]) => doc.documentation.trim() === '').map(([field]) => `${name}.${field}`),
  );
  assert.deepEqual(undocumented, []);
  // Not trivially true: the types have their fields.
  assert.ok(fieldDocs(PUBLIC_TYPES.SandboxOptions()).size >= 28);
  assert.ok(fieldDocs(PUBLIC_TYPES.RunResult()).size >= 15);
});

test('every Sandbox option has a @default, and a literal one is the default the Sandbox applies', () => {
  const applied: Record<string, unknown> = { ...parseSandboxOptions({}) };
  for (const [name, doc] of fieldDocs(PUBLIC_TYPES.SandboxOptions())) {
    assert.ok(doc.default !== undefined, `SandboxOptions.${name} has no @default`);
    const literal = leadingLiteral(doc.default);
    // `engines` is always resolved: one engine built from dockerHost/context/poolSize (checked below).
    if (name === 'engines') continue;
    // "the engine's (runc)", "no limit": the option is left unset.
    if (literal === undefined) assert.equal(applied[name], undefined, `SandboxOptions.${name}: @default ${doc.default}, applied ${String(applied[name])}`);
    else assert.deepEqual(applied[name], literal.value, `SandboxOptions.${name}: @default ${doc.default}`);
  }
  assert.deepEqual(applied.engines, [{ name: 'default', poolSize: 1 }]);
});

test('a literal @default of a run parameter is the default a run applies', () => {
  const applied: Record<string, unknown> = { ...parseRunParams({ code: '' }, parseSandboxOptions({})) };
  const checked = [...fieldDocs(PUBLIC_TYPES.RunParamsObject())].flatMap(([name, doc]) => {
    const literal = doc.default === undefined ? undefined : leadingLiteral(doc.default);
    if (literal === undefined) return [];
    assert.deepEqual(applied[name], literal.value, `RunParamsObject.${name}: @default ${doc.default}`);
    return [name];
  });
  assert.deepEqual(checked.sort(), ['argv', 'collect', 'env']);
});

/** `1`, `'docker'`, `true`, `[]`, `{}` or `10485760 (10 MiB)` at the start of a @default text. */
function leadingLiteral(text: string): { value: unknown } | undefined {
  const match = /^(?:(-?\d+(?:\.\d+)?)|'([^']*)'|(true|false)|(\[\])|(\{\}))(?=$|[\s,(])/.exec(text.trim());
  if (match === null) return undefined;
  const [, number, string, boolean, array, object] = match;
  if (number !== undefined) return { value: Number(number) };
  if (string !== undefined) return { value: string };
  if (boolean !== undefined) return { value: boolean === 'true' };
  if (array !== undefined) return { value: [] };
  if (object !== undefined) return { value: {} };
  return undefined;
}

// --- README's tables --------------------------------------------------------------------------

interface ReadmeRow {
  keys: string[];
  meaning: string;
  default: string | undefined;
}

/** The `tableIndex`-th table under the README heading `heading`, as rows of (keys, meaning, default?). */
function readmeTable(heading: string, tableIndex = 0): ReadmeRow[] {
  const start = README.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `README has no heading ${heading}`);
  const section = README.slice(start + heading.length + 2).split(/\n#{1,3} /)[0]!;
  // A table is a run of lines starting with "|".
  const tables: string[][] = [];
  let inTable = false;
  for (const line of section.split('\n')) {
    const isRow = line.startsWith('|');
    if (isRow && !inTable) tables.push([]);
    if (isRow) tables.at(-1)!.push(line);
    inTable = isRow;
  }
  const table = tables[tableIndex];
  assert.ok(table !== undefined, `README has no table ${tableIndex} under ${heading}`);
  const [header, , ...rows] = table;
  const columns = header!
    .split('|')
    .map((cell) => cell.trim())
    .filter(Boolean);
  return rows.map((row) => {
    const cells = row
      .slice(1, -1)
      .split(' | ')
      .map((cell) => cell.trim());
    assert.equal(cells.length, columns.length, `README row has ${cells.length} cells: ${row}`);
    return {
      keys: [...cells[0]!.matchAll(/`(\w+)`/g)].map((match) => match[1]!),
      meaning: cells[columns.indexOf('meaning')]!,
      default: columns.includes('default') ? cells[columns.indexOf('default')] : undefined,
    };
  });
}

/** Case of the first letter, backticks, line breaks and a final full stop do not count. */
function normalized(text: string): string {
  const flat = text.replaceAll('`', '').replace(/\s+/g, ' ').trim().replace(/\.$/, '');
  return flat.charAt(0).toLowerCase() + flat.slice(1);
}

/**
 * Each README row's keys exist, and a row of one key says what its TSDoc says. Rows of several keys
 * (`stdout`, `stderr`) share a text the TSDoc of each adapts; their defaults, listed in the same
 * order as the keys, are still checked.
 */
function assertMatchesReadme(typeName: keyof typeof PUBLIC_TYPES, rows: ReadmeRow[], notInReadme: readonly string[] = []): void {
  const docs = fieldDocs(PUBLIC_TYPES[typeName]());
  const inReadme = rows.flatMap((row) => row.keys);
  assert.ok(rows.length >= 3, `README's table for ${typeName} has ${rows.length} rows`);
  assert.deepEqual(
    inReadme.filter((key) => !docs.has(key)),
    [],
    `README lists fields ${typeName} does not have`,
  );
  assert.deepEqual(
    [...docs.keys()].filter((key) => !inReadme.includes(key) && !notInReadme.includes(key)),
    [],
    `${typeName} has fields README does not list`,
  );
  for (const row of rows) {
    if (row.keys.length === 1) {
      const key = row.keys[0]!;
      assert.equal(normalized(docs.get(key)!.documentation), normalized(row.meaning), `${typeName}.${key}: TSDoc and README differ`);
    }
    if (row.default === undefined) continue;
    const defaults = row.keys.length === 1 ? [row.default] : row.default.split(', ');
    assert.equal(defaults.length, row.keys.length, `README defaults of ${row.keys.join(', ')}: ${row.default}`);
    row.keys.forEach((key, index) => {
      assert.equal(normalized(docs.get(key)!.default ?? ''), normalized(defaults[index]!), `${typeName}.${key}: @default and README differ`);
    });
  }
}

test('the Sandbox options say what README says, with the same defaults', () => {
  assertMatchesReadme('SandboxOptions', readmeTable('### `new Sandbox(options?)`'));
});

test('the run parameters say what README says', () => {
  assertMatchesReadme('RunParamsObject', readmeTable('### `run(param, callback?)`', 0));
});

test('the result fields say what README says', () => {
  assertMatchesReadme('RunResult', readmeTable('### `run(param, callback?)`', 1));
});

test('the removeOrphans options say what README says, with the same defaults', () => {
  // beforeRemoving (the CLI's progress line) has no README row yet.
  assertMatchesReadme('RemoveOrphansOptions', readmeTable('### `removeOrphans(options?)`'), ['beforeRemoving']);
});
