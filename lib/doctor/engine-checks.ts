/**
 * doctor's checks of the docker CLI, the engine and the runtime: each runs one query (or none) and
 * returns its check. Failures name the address asked and say what to do.
 */
import type { DockerCli } from '../docker/cli.js';
import { DockerCliError, EngineUnavailableError } from '../errors.js';
import { CHECK, failed, passed, type DoctorCheck } from './check.js';
import { cliVersion, dockerCliVersion, engineFacts, INFO_TIMEOUT_MS, type EngineFacts } from './engine-facts.js';

/** Nothing listens at the address (a socket file missing, a port closed). */
const NOTHING_LISTENS = /Cannot connect to the Docker daemon|connect: connection refused|connect: no such file or directory/i;

/** `docker run --pull never`, which the library uses, came with Docker 20.10. */
const MIN_DOCKER_CLI: [number, number] = [20, 10];

export async function checkCli(cli: DockerCli, binary: string): Promise<DoctorCheck> {
  try {
    return cliVerdict(await cliVersion(cli));
  } catch (error) {
    if (error instanceof EngineUnavailableError) {
      return failed(
        CHECK.cli,
        `"${binary}" was not found`,
        'Install Docker (on Debian as root: `npm run setup`), or give the CLI with --docker PATH (Podman: --docker podman).',
      );
    }
    return failed(
      CHECK.cli,
      `\`${binary} --version\` failed: ${(error as Error).message}`,
      'Give the docker CLI binary with --docker PATH (Podman: --docker podman).',
    );
  }
}

/** Pure: a Docker CLI older than 20.10 fails; another CLI (Podman) is reported as it is. */
export function cliVerdict(line: string): DoctorCheck {
  const version = dockerCliVersion(line);
  if (version !== undefined && (version[0] < MIN_DOCKER_CLI[0] || (version[0] === MIN_DOCKER_CLI[0] && version[1] < MIN_DOCKER_CLI[1]))) {
    return failed(
      CHECK.cli,
      `${line}: older than ${MIN_DOCKER_CLI.join('.')}`,
      'Upgrade the docker CLI to 20.10 or newer: the library runs `docker run --pull never`.',
    );
  }
  return passed(CHECK.cli, line);
}

/** The engine's facts, or the failed engine check naming where it was asked. */
export async function checkEngine(cli: DockerCli): Promise<{ check: DoctorCheck; facts: EngineFacts | undefined }> {
  try {
    // open() resolves a context's endpoint and opens an ssh:// engine's connection: its failures name the engine too.
    await cli.open();
    const facts = await engineFacts(cli);
    const kind = facts.kind === 'podman' ? 'Podman' : 'Docker Engine';
    return { check: passed(CHECK.engine, `${kind} ${facts.serverVersion} answers at ${cli.engineAddress}`), facts };
  } catch (error) {
    const address = cli.engineAddress;
    if (error instanceof EngineUnavailableError && NOTHING_LISTENS.test(error.stderr)) {
      const said = error.stderr.trim().split('\n')[0] ?? '';
      return {
        check: failed(
          CHECK.engine,
          `no engine answers at ${address} (docker said: ${said})`,
          'Start the engine (as root on Debian: `npm run setup`), or point --docker-host, --context or DOCKER_HOST at one that runs.',
        ),
        facts: undefined,
      };
    }
    // TLS, ssh, a missing context...: the library's own message names the engine and the fix.
    if (error instanceof EngineUnavailableError) return { check: failed(CHECK.engine, `no engine answers at ${address}`, error.message), facts: undefined };
    if (error instanceof DockerCliError && error.timedOut) {
      return {
        check: failed(
          CHECK.engine,
          `the engine at ${address} did not answer \`docker info\` within ${INFO_TIMEOUT_MS / 1000} s`,
          'Is it hung? Restart it (`systemctl restart docker`), or point --docker-host / --context at one that answers.',
        ),
        facts: undefined,
      };
    }
    return {
      check: failed(CHECK.engine, `\`docker info\` at ${address} failed: ${(error as Error).message}`, 'Fix what docker says, then run doctor again.'),
      facts: undefined,
    };
  }
}

/** Why the library refuses gVisor on Podman (lib/docker/engine.ts says the same when a Sandbox asks). */
const GVISOR_ON_PODMAN =
  "the library refuses runtime 'runsc' on Podman: a gVisor sandbox killed at its memory limit is told apart only by the engine's OOM event, which Podman 4.3 does not have";

/** Pure: the runtime asked for with --runtime is registered (Podman lists only its default one: a probe decides, but gVisor is refused there). */
export function runtimeVerdict(facts: EngineFacts, runtime: string): DoctorCheck {
  if (facts.runtimes.includes(runtime)) return passed(CHECK.runtime, `${runtime} is registered with the engine`);
  if (facts.kind === 'podman' && runtime === 'runsc')
    return failed(CHECK.runtime, GVISOR_ON_PODMAN, 'Use Docker for gVisor (--docker docker), or drop --runtime.');
  if (facts.kind === 'podman') return passed(CHECK.runtime, `Podman does not list its runtimes; the probes below run under ${runtime}`);
  const how =
    runtime === 'runsc'
      ? "Install and register gVisor: `npm run setup` as root (scripts/ensure-gvisor.sh), or see the README's gVisor section."
      : `Register it in /etc/docker/daemon.json ("runtimes") and reload the engine, or drop --runtime.`;
  return failed(CHECK.runtime, `${runtime} is not registered (the engine has: ${facts.runtimes.join(', ') || 'none listed'})`, how);
}

/** Pure: whether gVisor can be asked for, when it is not (its probe, if it is registered, decides the rest). */
export function gvisorAbsentVerdict(facts: EngineFacts): DoctorCheck | undefined {
  if (facts.runtimes.includes('runsc')) return undefined;
  if (facts.kind === 'podman') return passed(CHECK.gvisor, `not available (optional): ${GVISOR_ON_PODMAN}; Docker with runsc has it`);
  return passed(CHECK.gvisor, "runsc is not registered (optional: for runtime 'runsc'; `npm run setup` as root installs and registers it)");
}
