/**
 * Network-namespace holders expire (lib/runner/netns-holders.ts): with their lifetime shortened to
 * seconds, holders whose owner was SIGKILLed remove themselves with nobody's help, and a live
 * Sandbox goes on running programs, in containers whose holder has expired and in new holders.
 * Holders are waited for through the engine's own events, each wait with a deadline.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { test, type TestContext } from 'node:test';
import { execa } from 'execa';
import { ROLE_LABEL, SANDBOX_LABEL } from '../../lib/docker/labels.js';
import { Sandbox } from '../../lib/index.js';
import { setHolderLifetime } from '../../lib/runner/netns-holders.js';
import { startPrivateEngine } from '../helpers/private-engine.js';
import { jsonLines, watchedProcess, type WatchedProcess } from '../helpers/watched-process.js';

const OWNER = fileURLToPath(new URL('../fixtures/holder-owner.ts', import.meta.url));

interface ContainerEvent {
  status: string;
  id: string;
  name: string;
  sandbox: string;
  /** When this process read it (performance.now()). */
  at: number;
}

/** The engine's events of network-namespace holders, from now on, as they come. */
function holderEvents(t: TestContext, dockerHost: string | undefined): { process: WatchedProcess; list(): ContainerEvent[] } {
  const args = [...(dockerHost === undefined ? [] : ['--host', dockerHost]), 'events', '--format', '{{json .}}', '--filter', 'type=container'];
  const events = watchedProcess('docker', [...args, '--filter', `label=${ROLE_LABEL}=netns`]);
  t.after(() => events.kill());
  const seen: ContainerEvent[] = [];
  let read = 0;
  return {
    process: events,
    list() {
      const chunks = events.stdoutChunks;
      for (; read < chunks.length; read++) {
        for (const event of jsonLines(chunks[read]!.text)) {
          const actor = event.Actor as { ID: string; Attributes: Record<string, string> };
          seen.push({
            status: String(event.status),
            id: actor.ID,
            name: actor.Attributes.name ?? '',
            sandbox: actor.Attributes[SANDBOX_LABEL] ?? '',
            at: chunks[read]!.at,
          });
        }
      }
      return seen;
    },
  };
}

/** Waits until the events satisfy a condition, for at most ms. */
async function waitForEvents(events: ReturnType<typeof holderEvents>, what: string, condition: (seen: ContainerEvent[]) => boolean, ms: number): Promise<void> {
  await events.process.waitForOutput(what, () => condition(events.list()), ms);
}

/** `docker events` prints nothing until something happens: a holder-labelled no-op container proves it is listening. */
async function listening(events: ReturnType<typeof holderEvents>, dockerHost: string | undefined): Promise<void> {
  const host = dockerHost === undefined ? [] : ['--host', dockerHost];
  const name = `dps-holder-expiry-probe-${process.pid}-${Date.now()}`;
  // Without the library's label: nothing of the library ever lists or removes it; --rm removes it.
  await execa(
    'docker',
    [...host, 'run', '--rm', '--name', name, '--label', `${ROLE_LABEL}=netns`, '--network', 'none', 'docker-python-sandbox:latest', 'true'],
    {
      stdin: 'ignore',
    },
  );
  await waitForEvents(events, 'the events stream is listening', (seen) => seen.some((event) => event.name === name && event.status === 'destroy'), 30_000);
}

test('holders whose owner was SIGKILLed remove themselves within their lifetime (no reaper, no cleanup)', async (t) => {
  const lifetimeMs = 5_000;
  const engine = await startPrivateEngine(t);
  const events = holderEvents(t, engine.host);
  await listening(events, engine.host);

  const owner = watchedProcess(process.execPath, ['--import', 'tsx', OWNER], {
    env: { ...process.env, DPS_FIXTURE_DOCKER_HOST: engine.host, DPS_FIXTURE_HOLDER_LIFETIME_MS: String(lifetimeMs) },
  });
  t.after(() => owner.kill());
  await owner.waitForOutput('the owner process has its holders', (stdout) => stdout.includes('\n'), 60_000);
  const { sandbox, holders } = jsonLines(owner.stdout)[0] as { sandbox: string; holders: string[] };
  owner.kill('SIGKILL');
  await owner.exited;
  const killedAt = performance.now();

  // Everything the dead owner left as a holder, including any made in its last moments.
  const left = (
    await engine.docker(['ps', '--all', '--filter', `label=${SANDBOX_LABEL}=${sandbox}`, '--filter', `label=${ROLE_LABEL}=netns`, '--format', '{{.Names}}'])
  ).stdout
    .split('\n')
    .filter(Boolean);
  assert.ok(holders.every((holder) => left.includes(holder) || events.list().some((event) => event.name === holder && event.status === 'destroy')));
  const all = [...new Set([...holders, ...left])];
  // Each holder ends within its lifetime of being made, which was before the kill; the engine then
  // removes it (--rm). 15 s of slack for a loaded machine.
  await waitForEvents(
    events,
    `the dead owner's holders (${all.join(', ')}) are destroyed`,
    (seen) => all.every((holder) => seen.some((event) => event.name === holder && event.status === 'destroy')),
    lifetimeMs + 15_000,
  );
  const gone = all.map((holder) => events.list().find((event) => event.name === holder && event.status === 'destroy')!.at - killedAt);
  t.diagnostic(`holders with a ${lifetimeMs} ms lifetime were removed ${gone.map((ms) => Math.round(ms)).join(', ')} ms after their owner was killed`);
  assert.ok(
    gone.every((ms) => ms <= lifetimeMs + 5_000),
    `gone within the lifetime: ${gone.join(', ')} ms`,
  );
  // Each died of its own accord (its sleep ended) before it was destroyed: nothing killed it.
  for (const holder of all) {
    const own = events.list().filter((event) => event.name === holder);
    assert.deepEqual(
      own.map((event) => event.status).filter((status) => status !== 'create' && status !== 'start'),
      ['die', 'destroy'],
      `${holder}: ${own.map((event) => event.status).join(', ')}`,
    );
  }
  const remaining = await engine.docker(['ps', '--all', '--quiet', '--filter', `label=${SANDBOX_LABEL}=${sandbox}`, '--filter', `label=${ROLE_LABEL}=netns`]);
  assert.equal(remaining.stdout.trim(), '');
});

test('a live Sandbox keeps running programs across holder expiry: in a container whose holder expired, and in new holders', async (t) => {
  const lifetimeMs = 6_000;
  t.after(setHolderLifetime({ lifetimeMs, lendMarginMs: 1_000 }));
  const events = holderEvents(t, undefined);
  await listening(events, undefined);
  const sandbox = new Sandbox({ poolSize: 1 });
  t.after(() => sandbox.cleanup());
  const mine = (seen: ContainerEvent[]): ContainerEvent[] => seen.filter((event) => event.sandbox === sandbox.id);
  await sandbox.initialize();
  assert.equal((await sandbox.run('print(1)')).stdout, '1\n');

  // The first pool's container has its own namespace; the holders come once it is ready.
  await waitForEvents(events, 'two holders start', (seen) => mine(seen).filter((event) => event.status === 'start').length >= 2, 30_000);
  assert.equal((await sandbox.run('print(2)')).stdout, '2\n');
  await sandbox.whenWarm();
  // The replacement joined a holder (it had nearly its whole lifetime left).
  const first = await holderOfWarmContainer(sandbox.id);
  const firstHolder = mine(events.list()).find((event) => event.status === 'start' && (event.id === first || event.name === first));
  assert.ok(firstHolder !== undefined, `the warm container joined one of this Sandbox's holders: network mode container:${first}`);

  // Its holder expires while the container waits for a run.
  await waitForEvents(
    events,
    `holder ${firstHolder.name} expires`,
    (seen) => mine(seen).some((event) => event.name === firstHolder.name && event.status === 'destroy'),
    lifetimeMs + 15_000,
  );
  const expiredAt = mine(events.list()).find((event) => event.name === firstHolder.name && event.status === 'destroy')!.at;
  // The expiry makes the pool start a new holder. Meanwhile the container whose holder expired runs a program.
  await waitForEvents(
    events,
    'a new holder starts after the expiry',
    (seen) => mine(seen).some((event) => event.status === 'start' && event.at > expiredAt),
    30_000,
  );
  // The engine's start event comes before the creating docker CLI returns, and only then can the
  // pool lend the new holder: wait for creations in flight, or the replacement below may find none.
  await sandbox.whenWarm();
  const result = await sandbox.run('import socket\ns = socket.socket()\ns.bind(("127.0.0.1", 0))\nprint("ran", s.getsockname()[0])');
  assert.equal(result.stdout, 'ran 127.0.0.1\n', result.stderr);

  // Its replacement joins a holder made after the expiry (the other first holder is too close to its end to be lent).
  await sandbox.whenWarm();
  const second = await holderOfWarmContainer(sandbox.id);
  const secondHolder = mine(events.list()).find((event) => event.status === 'start' && (event.id === second || event.name === second));
  assert.ok(secondHolder !== undefined && secondHolder.at > expiredAt, `a holder made after the expiry: container:${second}`);
  assert.equal((await sandbox.run('print(3)')).stdout, '3\n');
  const made = mine(events.list()).filter((event) => event.status === 'start').length;
  t.diagnostic(`${made} holders were made over the test (lifetime ${lifetimeMs} ms)`);
});

/** What the Sandbox's one warm container joined (`--network container:<holder>`): the holder's id or name, or '' for a namespace of its own. */
async function holderOfWarmContainer(sandboxId: string): Promise<string> {
  const { stdout } = await execa('docker', [
    'ps',
    '--filter',
    `label=${SANDBOX_LABEL}=${sandboxId}`,
    '--filter',
    `label=${ROLE_LABEL}=runner`,
    '--format',
    '{{.Names}}',
  ]);
  const runners = stdout.split('\n').filter(Boolean);
  assert.equal(runners.length, 1, `one warm container: ${runners.join(', ')}`);
  const mode = (await execa('docker', ['inspect', '--format', '{{.HostConfig.NetworkMode}}', runners[0]!])).stdout.trim();
  return mode.startsWith('container:') ? mode.slice('container:'.length) : '';
}
