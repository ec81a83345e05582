/**
 * The shape of lib/: its import graph has no cycles, and no module imports from a layer above it.
 * Layers, bottom up: shared modules at lib/ (errors, options, owner, debug, ...), then docker/
 * (the only one that runs docker) and pool/ (which knows nothing of Docker), then runner/, then
 * the facade (sandbox.ts, result.ts), the entry points (index.ts, public-api.ts), the HTTP service
 * (server/, which uses the library as its users do), and the command line (cli.ts, its commands and doctor/).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const LIB = fileURLToPath(new URL('../../lib/', import.meta.url));
const ENTRY_POINTS = ['index.ts', 'public-api.ts', 'cli.ts'];
// result.ts shapes executions into results for the facade.
const FACADE = ['sandbox.ts', 'result.ts'];

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') ? [relative(LIB, path)] : [];
  });
}

/** Module -> the lib modules it imports (type-only imports count: they shape the code too). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sources(LIB)) {
    const text = readFileSync(join(LIB, file), 'utf8');
    const targets = [...text.matchAll(/^(?:import|export)\b[^'"]*?from\s+'(\.[^']+)'/gm)].map((match) =>
      relative(LIB, resolve(dirname(join(LIB, file)), match[1]!)).replace(/\.js$/, '.ts'),
    );
    graph.set(file, targets);
  }
  return graph;
}

function layer(file: string): number {
  if (file === 'cli.ts' || file === 'serve-command.ts' || file === 'doctor-command.ts' || file.startsWith('doctor/')) return 6;
  if (file.startsWith('server/')) return 5;
  if (ENTRY_POINTS.includes(file)) return 4;
  if (FACADE.includes(file)) return 3;
  if (file.startsWith('runner/')) return 2;
  if (file.startsWith('docker/') || file.startsWith('pool/')) return 1;
  return 0;
}

test('lib/ has no import cycle', () => {
  const graph = importGraph();
  const done = new Set<string>();
  const path: string[] = [];
  const visit = (file: string): void => {
    const at = path.indexOf(file);
    assert.ok(at < 0, `import cycle: ${[...path.slice(at), file].join(' -> ')}`);
    if (done.has(file)) return;
    path.push(file);
    for (const target of graph.get(file) ?? []) visit(target);
    path.pop();
    done.add(file);
  };
  for (const file of graph.keys()) visit(file);
  assert.ok(graph.size > 20, `read ${graph.size} modules`);
});

test('no module imports from a layer above it; docker/ and pool/ never import each other', () => {
  const problems: string[] = [];
  for (const [file, targets] of importGraph()) {
    for (const target of targets) {
      if (layer(target) > layer(file)) problems.push(`${file} imports ${target} (a layer above)`);
      if ((file.startsWith('pool/') && target.startsWith('docker/')) || (file.startsWith('docker/') && target.startsWith('pool/'))) {
        problems.push(`${file} imports ${target}`);
      }
    }
  }
  assert.deepEqual(problems, []);
});

test('only lib/docker/cli.ts imports execa', () => {
  const users = sources(LIB).filter((file) => /from\s+'execa'/.test(readFileSync(join(LIB, file), 'utf8')));
  assert.deepEqual(users, ['docker/cli.ts']);
});
