/**
 * doctor's checks in order: the CLI, the engine (and what `docker info` says of cgroups and
 * runtimes), the image, then, when those allow, one timed container start and run, and the probe
 * containers, all at once, that show which limits the host really enforces.
 */
import { DockerCli } from '../docker/cli.js';
import { DEFAULT_IMAGE } from '../options.js';
import { CHECK, failed, passed, type DoctorCheck } from './check.js';
import { checkCli, checkEngine, gvisorAbsentVerdict, runtimeVerdict } from './engine-checks.js';
import { imageLabels } from './engine-facts.js';
import { expectedHashes, imageVerdict, SCIENTIFIC_IMAGE } from './image-check.js';
import { cgroupVerdict } from './probe-verdicts.js';
import { probeGvisor, probeLimitsEnforced, type ProbeTarget } from './probe-runs.js';
import { measureTiming } from './timing.js';

export interface DoctorOptions {
  dockerPath: string;
  dockerHost?: string;
  context?: string;
  /** The runtime to probe under (--runtime); undefined: the engine's default. */
  runtime?: string;
  /** The image to check and probe with (--image); undefined: the default, and the scientific one is checked too. */
  image?: string;
  env: Readonly<Record<string, string | undefined>>;
}

export async function runDoctor(options: DoctorOptions): Promise<DoctorCheck[]> {
  const cli = new DockerCli({ binary: options.dockerPath, host: options.dockerHost, context: options.context });
  try {
    return await runChecks(cli, options);
  } finally {
    await cli.close();
  }
}

async function runChecks(cli: DockerCli, options: DoctorOptions): Promise<DoctorCheck[]> {
  const cliCheck = await checkCli(cli, options.dockerPath);
  if (!cliCheck.ok) return [cliCheck];
  const { check: engineCheck, facts } = await checkEngine(cli);
  if (facts === undefined) return [cliCheck, engineCheck];

  const image = options.image ?? DEFAULT_IMAGE;
  const [expected, labels, scientificLabels] = await Promise.all([
    expectedHashes(options.env),
    imageLabels(cli, image),
    options.image === undefined ? imageLabels(cli, SCIENTIFIC_IMAGE) : Promise.resolve(undefined),
  ]);
  const address = cli.engineAddress;
  const imageChecks = [imageVerdict({ image, labels, expected, address, binary: options.dockerPath }, options.env)];
  if (options.image === undefined) {
    imageChecks.push(
      imageVerdict({ image: SCIENTIFIC_IMAGE, labels: scientificLabels, expected, address, binary: options.dockerPath }, options.env, {
        name: CHECK.scientificImage,
        optional: true,
      }),
    );
  }
  const runtimeCheck = options.runtime === undefined ? undefined : runtimeVerdict(facts, options.runtime);
  // With --runtime runsc the runtime check and every probe speak for gVisor.
  const gvisorAbsent = options.runtime === 'runsc' ? undefined : gvisorAbsentVerdict(facts);
  const head = [cliCheck, engineCheck];
  const runtimeChecks = runtimeCheck === undefined ? [] : [runtimeCheck];

  const blocker = [imageChecks[0]!, ...runtimeChecks].find((check) => !check.ok);
  if (blocker !== undefined) {
    // No container can start: the probes are not run, and say so.
    const notRun = failed(CHECK.probes, `not run: the ${blocker.name} check failed`, 'Fix the failed check above, then run doctor again.');
    const gvisor =
      options.runtime === 'runsc' ? [] : [gvisorAbsent ?? passed(CHECK.gvisor, 'runsc is registered (no probe ran under it: see the failed checks)')];
    return [...head, cgroupVerdict(facts, undefined), ...runtimeChecks, ...gvisor, ...imageChecks, notRun];
  }

  const target: ProbeTarget = {
    dockerPath: options.dockerPath,
    image,
    ...(options.dockerHost !== undefined && { dockerHost: options.dockerHost }),
    ...(options.context !== undefined && { context: options.context }),
  };
  // Timed alone, before the probes load the machine (its removal overlaps them); then every probe at once.
  const timing = await measureTiming(target, options.runtime);
  const gvisorProbe = gvisorAbsent !== undefined || options.runtime === 'runsc' ? Promise.resolve(gvisorAbsent) : probeGvisor(target);
  const [limits, gvisorChecked, timingCheck] = await Promise.all([probeLimitsEnforced(target, options.runtime), gvisorProbe, timing.check]);
  const gvisor =
    gvisorChecked ??
    // Asked for with --runtime runsc: every probe ran under it.
    (limits.checks.every((check) => check.ok)
      ? passed(CHECK.gvisor, 'runsc is registered and every probe below ran under it')
      : failed(CHECK.gvisor, 'runsc is registered, but probes under it failed (below)', 'See the failed probe checks below.'));
  return [...head, cgroupVerdict(facts, limits.view), ...runtimeChecks, gvisor, ...imageChecks, ...limits.checks, timingCheck];
}
