/**
 * The pool reuses empty network namespaces (one holder per slot, lent to one container at a time)
 * to save the engine ~105 ms of CPU per container. Isolation is not for sale: these specs show
 * that concurrent runs cannot reach each other, that nothing a run leaves in a namespace is
 * visible to a later run in it, and that programs cannot change the namespace.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { holderContainers, startSandbox } from '../helpers/engine.js';

const fixture = (name: string): string => readFileSync(new URL(`../fixtures/hostile/${name}`, import.meta.url), 'utf8');

test('whenWarm() waits for the holders a new pool makes in the background', async (t) => {
  // initialize() does not wait for them (they serve replacements, not the first runs).
  const sandbox = await startSandbox(t, { poolSize: 2 });
  await sandbox.whenWarm();
  assert.equal((await holderContainers(sandbox.id)).length, 4, 'two holders per slot, all made');
});

test('two concurrent runs cannot reach each other over loopback TCP, UDP or abstract unix sockets', async (t) => {
  const sandbox = await startSandbox(t, { poolSize: 2 });
  // Rounds until both runs are on reused namespaces (the first containers get their own).
  for (let round = 0; round < 3; round++) {
    await sandbox.whenWarm();
    const [a, b] = await Promise.all([
      sandbox.run(`MY_NAME, PEER_NAME = "a", "b"\n${fixture('peer_probe.py')}`),
      sandbox.run(`MY_NAME, PEER_NAME = "b", "a"\n${fixture('peer_probe.py')}`),
    ]);
    assert.equal(a.stdout, 'reached [] reached_by []\n', a.stderr);
    assert.equal(b.stdout, 'reached [] reached_by []\n', b.stderr);
  }
});

test('nothing a run leaves in a reused namespace is visible to the next run in it', async (t) => {
  const sandbox = await startSandbox(t, { poolSize: 1 });
  const namespaces: string[] = [];
  for (let round = 0; round < 6; round++) {
    await sandbox.whenWarm();
    const result = await sandbox.run(`ROUND = ${round}\n${fixture('netns_probe.py')}`);
    const [netns, leftovers, own] = result.stdout.trim().split('\n');
    assert.equal(leftovers, 'leftovers []', `round ${round} found what an earlier run left: ${result.stdout}`);
    assert.equal(own, "own ['tcp', 'unix']", 'a run reaches its own listeners (the probe works)');
    namespaces.push(netns!);
  }
  // Proof that namespaces were in fact reused, so the check above means something.
  assert.ok(new Set(namespaces).size < namespaces.length, `namespaces were reused: ${namespaces.join(', ')}`);
});

test('a program cannot change its network namespace (no capabilities)', async (t) => {
  const sandbox = await startSandbox(t);
  const result = await sandbox.run(
    'import fcntl, socket, struct\n' +
      'try:\n    socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)\n    print("raw socket OPENED")\n' +
      'except PermissionError:\n    print("raw socket refused")\n' +
      'SIOCSIFFLAGS = 0x8914\n' +
      'try:\n    fcntl.ioctl(socket.socket(), SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", 0))\n    print("lo DOWN")\n' +
      'except PermissionError:\n    print("lo change refused")\n' +
      'try:\n    open("/proc/sys/net/ipv4/ip_forward", "w").write("1")\n    print("sysctl WRITTEN")\n' +
      'except OSError:\n    print("sysctl refused")\n',
  );
  assert.equal(result.stdout, 'raw socket refused\nlo change refused\nsysctl refused\n');
});
