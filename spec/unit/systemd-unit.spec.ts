/**
 * deploy/docker-python-sandbox.service: systemd's own checker finds nothing wrong with it, the
 * flags its ExecStart gives `serve` are ones serve takes (with valid values), and systemd waits
 * longer for the service to stop than the service lets runs in flight finish.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { execa } from 'execa';
import { serve, ServeUsageError } from '../../lib/serve-command.js';

const UNIT = fileURLToPath(new URL('../../deploy/docker-python-sandbox.service', import.meta.url));
const UNIT_NAME = 'docker-python-sandbox.service';
/** The service's close grace when --close-grace is not given (lib/server/server.ts). */
const DEFAULT_CLOSE_GRACE_MS = 30_000;

/** The unit's settings as key -> values (a key may appear more than once), continuation lines joined. */
function settings(text: string): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const line of text.replace(/\\\n/g, ' ').split('\n')) {
    const setting = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (setting === null) continue;
    const [, key = '', value = ''] = setting;
    found.set(key, [...(found.get(key) ?? []), value.trim()]);
  }
  return found;
}

function only(unit: Map<string, string[]>, key: string): string {
  const values = unit.get(key) ?? [];
  assert.equal(values.length, 1, `the unit sets ${key} once`);
  return values[0]!;
}

/** ExecStart's program and the arguments it gives `serve`. */
function execStart(unit: Map<string, string[]>): { program: string; serveArgs: string[] } {
  const [program = '', command, ...serveArgs] = only(unit, 'ExecStart').split(/\s+/);
  assert.equal(command, 'serve', 'ExecStart runs the serve command');
  return { program, serveArgs };
}

test('systemd-analyze verify finds nothing to say about the unit', async (t) => {
  const analyze = await execa('systemd-analyze', ['--version'], { reject: false, stdin: 'ignore' });
  if (analyze.failed) {
    t.skip(`systemd-analyze is not installed (${analyze.shortMessage}): the unit is not checked by systemd here`);
    return;
  }
  const text = await readFile(UNIT, 'utf8');
  // verify insists that ExecStart's program exists and is executable: the package's bin is not
  // installed globally here, so the copy checked starts node instead (its arguments unchanged).
  const { program } = execStart(settings(text));
  const dir = await mkdtemp(join(tmpdir(), 'dps-systemd-unit-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const copy = join(dir, UNIT_NAME);
  await writeFile(copy, text.replace(`ExecStart=${program} `, `ExecStart=${process.execPath} `));
  const verified = await execa('systemd-analyze', ['verify', '--man=no', copy], { reject: false, stdin: 'ignore', all: true });
  assert.equal(verified.exitCode, 0, String(verified.all));
  // Unknown keys and values that do not parse are only warnings (exit code 0) to verify.
  assert.equal(String(verified.all).trim(), '', 'systemd-analyze verify says nothing about the unit');
});

test("the unit's ExecStart gives serve only flags it takes, with valid values", async () => {
  const { program, serveArgs } = execStart(settings(await readFile(UNIT, 'utf8')));
  assert.match(program, /\/docker-python-sandbox$/, 'ExecStart runs the package bin');
  assert.ok(serveArgs.includes('--token-file'), 'the tokens come from a file (the credential)');
  // serve() checks every flag and value, then reads the token file before it makes anything: a
  // token file that does not exist makes it stop there, having started nothing.
  const missing = join(tmpdir(), `dps-no-such-credentials-${process.pid}`);
  const args = serveArgs.map((arg) => arg.replace('%d', missing));
  await assert.rejects(
    async () => {
      const service = await serve(args, {});
      await service.close(); // only if the check above failed to stop it
    },
    (error: unknown) => error instanceof ServeUsageError && /^--token-file .* cannot be read/.test(error.message),
    `serve ${args.join(' ')} passes every check up to reading the token file`,
  );
});

test('systemd waits longer for the service to stop than the service waits for runs in flight', async () => {
  const unit = settings(await readFile(UNIT, 'utf8'));
  const { serveArgs } = execStart(unit);
  const graceFlag = serveArgs.indexOf('--close-grace');
  const graceMs = graceFlag === -1 ? DEFAULT_CLOSE_GRACE_MS : Number(serveArgs[graceFlag + 1]);
  const timeout = /^(\d+)s?$/.exec(only(unit, 'TimeoutStopSec'));
  assert.ok(timeout !== null, 'TimeoutStopSec is in seconds');
  assert.ok(Number(timeout[1]) * 1000 > graceMs, `TimeoutStopSec (${timeout[1]} s) is above the close grace (${graceMs} ms)`);
  assert.equal(only(unit, 'KillSignal'), 'SIGTERM');
  // SIGTERM to the service alone: its docker CLI children would pass it on to the sandboxes.
  assert.equal(only(unit, 'KillMode'), 'mixed');
  assert.equal(only(unit, 'LoadCredential'), 'tokens:/etc/docker-python-sandbox/tokens');
  assert.ok(only(unit, 'ExecStart').includes('--token-file %d/tokens'), 'the token file is the credential');
});
