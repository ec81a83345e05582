/**
 * Docker or Podman: what `<binary> --version` says, what a binary's name suggests, the process
 * limit Podman's containers are given, and both engines' event lines.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DockerEngine } from '../../lib/docker/engine.js';
import { ContainerStartError, ImageNotFoundError } from '../../lib/errors.js';
import { flavourOfVersion, guessFlavour, parseProcessLimit, podmanProcessLimit } from '../../lib/docker/engine-flavour.js';
import { parseContainerEvent } from '../../lib/runner/container-events.js';

test('--version tells Docker from Podman, also when Podman is installed as docker', () => {
  assert.deepEqual(flavourOfVersion('Docker version 28.2.2, build e6534b4\n', 'docker'), {
    kind: 'docker',
    version: '28.2.2',
    remote: false,
    nproc: undefined,
  });
  const podman = flavourOfVersion('podman version 4.3.1\n', 'podman');
  assert.equal(podman?.kind, 'podman');
  assert.equal(podman.version, '4.3.1');
  // Debian's podman-docker: /usr/bin/docker runs podman.
  assert.equal(
    flavourOfVersion('Emulate Docker CLI using podman. Create /etc/containers/nodocker to quiet msg.\npodman version 4.3.1\n', 'docker')?.kind,
    'podman',
  );
  // A remote client's containers get its service's limits: none are given.
  assert.deepEqual(flavourOfVersion('podman-remote version 4.3.1\n', 'podman'), { kind: 'podman', version: '4.3.1', remote: true, nproc: undefined });
  assert.equal(flavourOfVersion('my wrapper 1.0\n', 'docker'), undefined);
});

test("before --version, the binary's name decides", () => {
  assert.equal(guessFlavour('docker').kind, 'docker');
  assert.equal(guessFlavour('/usr/local/bin/docker').kind, 'docker');
  assert.equal(guessFlavour('/usr/bin/podman').kind, 'podman');
  assert.equal(guessFlavour('podman-remote').nproc, undefined);
});

test('the process limit comes from a /proc/<pid>/limits text; unlimited is -1', () => {
  const limits = [
    'Limit                     Soft Limit           Hard Limit           Units     ',
    'Max open files            20000                20000                files     ',
    'Max processes             4096                 96364                processes ',
  ].join('\n');
  assert.deepEqual(parseProcessLimit(limits), { soft: 4096, hard: 96364 });
  assert.deepEqual(parseProcessLimit('Max processes             unlimited            unlimited            processes\n'), { soft: -1, hard: -1 });
  assert.equal(parseProcessLimit('Max open files 1 1 files\n'), undefined);
});

test("Podman's own process limit: pid_max when that is within the hard limit, else the limit it started with", () => {
  assert.deepEqual(podmanProcessLimit({ soft: 96364, hard: 96364 }, 32768), { soft: 32768, hard: 32768 });
  assert.deepEqual(podmanProcessLimit({ soft: 4096, hard: 96364 }, 32768), { soft: 32768, hard: 32768 }, 'the soft limit is raised to it');
  assert.deepEqual(podmanProcessLimit({ soft: 96364, hard: 96364 }, 4194304), { soft: 96364, hard: 96364 });
  assert.deepEqual(podmanProcessLimit({ soft: -1, hard: -1 }, 4194304), { soft: 4194304, hard: 4194304 });
  assert.deepEqual(podmanProcessLimit({ soft: 100, hard: 200 }, Number.NaN), { soft: 100, hard: 200 });
});

test("event lines: Docker's die and oom, Podman's died, and lines that are not events", () => {
  assert.deepEqual(parseContainerEvent('{"status":"die","id":"abc","Type":"container","Action":"die","Actor":{"ID":"abc","Attributes":{"name":"dps-x-1"}}}'), {
    name: 'dps-x-1',
    status: 'die',
  });
  assert.deepEqual(parseContainerEvent('{"status":"oom","Actor":{"Attributes":{"name":"dps-x-2"}}}'), { name: 'dps-x-2', status: 'oom' });
  assert.deepEqual(parseContainerEvent('{"ID":"abc","Image":"img","Name":"dps-x-3","Status":"died","Type":"container","Attributes":{"a":"b"}}'), {
    name: 'dps-x-3',
    status: 'die',
  });
  assert.equal(parseContainerEvent('not json'), undefined);
  assert.equal(parseContainerEvent('null'), undefined);
  assert.equal(parseContainerEvent('{"Status":"died"}'), undefined);
});

test("Podman's start failures: catatonit missing, and an image that is not in Podman's store, each say what to do", () => {
  const podman = new DockerEngine({ binary: 'podman', host: undefined });
  const noInit = podman.startFailure(
    'img',
    'podman run',
    125,
    'Error: container-init binary not found on the host: stat /usr/libexec/podman/catatonit: no such file or directory',
  );
  assert.ok(noInit instanceof ContainerStartError);
  assert.match(noInit.message, /install catatonit \(as root on Debian: `npm run setup:podman`\)/);
  const missing = podman.startFailure('docker-python-sandbox:latest', 'podman run', 125, 'Error: docker-python-sandbox:latest: image not known');
  assert.ok(missing instanceof ImageNotFoundError);
  assert.match(missing.message, /not in Podman's store, which is separate from Docker's\. Put it there with `npm run setup:podman`/);
  const docker = new DockerEngine({ binary: 'docker', host: undefined });
  assert.match(docker.startFailure('img', 'docker run', 125, 'Unable to find image img locally').message, /is not on the Docker engine/);
});
