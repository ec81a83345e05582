/**
 * Which engine the integration specs run against: Docker by default, Podman when DPS_TEST_DOCKER
 * says so (`DPS_TEST_DOCKER=podman`, as `npm run test:podman` sets it). Specs pass their Sandbox
 * options through withTestEngine() (startSandbox() does), and run their own CLI calls with
 * TEST_DOCKER, so that the same spec checks either engine. Specs that only make sense on Docker
 * (private dockerd engines, ssh and TLS to a Docker socket, contexts, netns holders) are not in
 * scripts/test-podman.sh's list.
 */
import { basename } from 'node:path';
import type { SandboxOptions } from '../../lib/index.js';

/** The CLI binary the specs drive: `docker`, or DPS_TEST_DOCKER (e.g. `podman`). */
export const TEST_DOCKER = process.env.DPS_TEST_DOCKER || 'docker';

/** Whether the specs run against Podman. */
export const ON_PODMAN = basename(TEST_DOCKER).startsWith('podman');

// Fixture CLIs (spec/fixtures/docker/*) hand every command they do not fake to this binary.
if (process.env.DPS_TEST_DOCKER !== undefined) process.env.DPS_FIXTURE_DOCKER = TEST_DOCKER;

/** Sandbox options for the engine under test: `dockerPath` added on Podman (one given by the spec wins). */
export function withTestEngine<T extends SandboxOptions>(options: T): T {
  return TEST_DOCKER === 'docker' ? options : { dockerPath: TEST_DOCKER, ...options };
}

/**
 * The container's init process (`--init`) as /proc/<pid>/cmdline names it: Docker's docker-init
 * (tini), or the catatonit that Podman mounts at /run/podman-init.
 */
export const INIT_PROCESS = ON_PODMAN ? '/run/podman-init' : '/sbin/docker-init';
