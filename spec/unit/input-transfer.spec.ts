/** How runs' inputs reach an engine's containers: the choice per engine, and what its failures look like (no Docker). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ContainerStartError } from '../../lib/errors.js';
import {
  inputsUnseen,
  InputsUnseenError,
  inputTmpfsSizeMb,
  InputTransferChoice,
  startWithInputTransfer,
  type TransferMode,
} from '../../lib/runner/input-transfer.js';
import { INPUTS_UNSEEN } from '../../lib/runner/loader.js';
import { MAX_STDIN_BYTES } from '../../lib/options/run-params.js';

const UNSEEN = new InputsUnseenError('dps-x-1', 'bind source path does not exist: /tmp/dps-a', 'docker run ...');

test('a start failure means "the engine does not see this host\'s files" when docker or the loader says so, and only then', () => {
  assert.equal(
    inputsUnseen(
      'docker: Error response from daemon: invalid mount config for type "bind": bind source path does not exist: /tmp/dps-1\n\nRun \'docker run --help\'',
    ),
    'docker: Error response from daemon: invalid mount config for type "bind": bind source path does not exist: /tmp/dps-1',
  );
  assert.match(inputsUnseen('docker: Error response from daemon: Mounts denied: \nThe path /tmp/x is not shared from the host') ?? '', /Mounts denied/);
  assert.equal(
    inputsUnseen(`${INPUTS_UNSEEN} /sandbox-in/.dps-input-probe: [Errno 2] No such file or directory\n`),
    'the container cannot read /sandbox-in/.dps-input-probe: [Errno 2] No such file or directory',
  );
  assert.equal(inputsUnseen('docker: Error response from daemon: No such image: img:1'), undefined);
  assert.equal(inputsUnseen('preload: cannot import numpy'), undefined);
  assert.equal(inputsUnseen(''), undefined);
});

test("the input tmpfs holds a run's largest stdin and files, and room for the code", () => {
  const mib = 1024 * 1024;
  assert.equal(inputTmpfsSizeMb(10 * mib), MAX_STDIN_BYTES / mib + 10 + 64);
  assert.equal(inputTmpfsSizeMb(1), MAX_STDIN_BYTES / mib + 64 + 1, 'rounded up to whole MiB');
});

test("'auto' tries the mount path until a container decides it, then keeps what it found", () => {
  const seen = new InputTransferChoice('auto');
  assert.equal(seen.mode, undefined);
  assert.equal(seen.next(), 'mount');
  seen.sawInputs('mount');
  assert.equal(seen.mode, 'mount');

  const unseen = new InputTransferChoice('auto');
  assert.equal(unseen.unseen(UNSEEN, 'unix:///x.sock'), undefined, 'no error: start again on stdin');
  assert.equal(unseen.mode, 'stdin');
  assert.equal(unseen.next(), 'stdin');
  unseen.sawInputs('stdin');
  assert.equal(unseen.mode, 'stdin');

  // A later mount-path container that cannot see its inputs (the engine changed) turns it to stdin for good.
  assert.equal(seen.unseen(UNSEEN, 'unix:///x.sock'), undefined);
  assert.equal(seen.next(), 'stdin');
});

test("a forced mode is kept; forced 'mount' on an engine that does not see this host's files is a ContainerStartError saying what to do", () => {
  const stdin = new InputTransferChoice('stdin');
  assert.equal(stdin.mode, 'stdin');
  assert.equal(stdin.next(), 'stdin');
  const mount = new InputTransferChoice('mount');
  assert.equal(mount.next(), 'mount');
  const error = mount.unseen(UNSEEN, 'ssh://sandbox@host');
  assert.ok(error instanceof ContainerStartError);
  assert.equal(error.code, 'ERR_CONTAINER_START');
  assert.equal(error.command, 'docker run ...');
  assert.match(error.message, /engine at ssh:\/\/sandbox@host does not see this host's files \(bind source path does not exist: \/tmp\/dps-a\)/);
  assert.match(error.message, /inputTransfer: 'auto' \(the default\) or 'stdin'/);
  assert.equal(mount.next(), 'mount');
});

test('startWithInputTransfer starts again on stdin when the mount path is not seen, and passes other failures on', async () => {
  const attempts: TransferMode[] = [];
  const choice = new InputTransferChoice('auto');
  const started = await startWithInputTransfer(choice, 'unix:///x.sock', (mode) => {
    attempts.push(mode);
    return mode === 'mount' ? Promise.reject(UNSEEN) : Promise.resolve(`container on ${mode}`);
  });
  assert.equal(started, 'container on stdin');
  assert.deepEqual(attempts, ['mount', 'stdin']);
  assert.equal(await startWithInputTransfer(choice, 'unix:///x.sock', (mode) => Promise.resolve(mode)), 'stdin', 'decided: no mount attempt');

  const other = new Error('image gone');
  await assert.rejects(
    startWithInputTransfer(new InputTransferChoice('auto'), 'x', () => Promise.reject(other)),
    (error) => error === other,
  );
  await assert.rejects(
    startWithInputTransfer(new InputTransferChoice('mount'), 'unix:///x.sock', () => Promise.reject(UNSEEN)),
    ContainerStartError,
  );
  const local = new InputTransferChoice('auto');
  assert.equal(await startWithInputTransfer(local, 'x', (mode) => Promise.resolve(mode)), 'mount');
  assert.equal(local.mode, 'mount');
});
