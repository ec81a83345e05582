/**
 * `docker-python-sandbox doctor`: checks what this host really gives the sandbox (the docker CLI,
 * the engine, cgroups, gVisor, the image, the limits as probe containers find them, timing) and
 * prints one pass/fail line per check with the fix for each failure, or JSON. Resolves with the
 * exit code: 0 when every check passed, 1 otherwise; bad flags throw DoctorUsageError (exit 2).
 */
import { parseArgs } from 'node:util';
import { runDoctor } from './doctor/run-doctor.js';
import { renderJson, renderTable, useColor } from './doctor/render.js';

export const DOCTOR_USAGE = `Usage: docker-python-sandbox doctor [--docker-host ADDRESS | --context NAME] [--runtime runsc]
         [--image NAME] [--docker PATH] [--json]

Checks what this host gives the sandbox, each a PASS or FAIL line with the fix for a failure:
the docker CLI; the engine (at which address) and its version; the cgroup version and driver;
gVisor (runsc); the image (present, and built from this version of the package); then the
limits as probe containers find them (memory, no swap, pids, CPU quota, tmpfs size, file size,
read-only root, no network, non-root user) and the time of one container start and one warm run.
Probe containers carry the label docker-python-sandbox and are removed afterwards.
--runtime runsc runs every probe under gVisor. --json prints {"checks": [{"name", "ok", "detail", "fix"}]}.
Exits 0 when every check passed, 1 otherwise, 2 for a usage error.
`;

/** A flag the doctor command cannot take. */
export class DoctorUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DoctorUsageError';
  }
}

export async function doctor(argv: readonly string[], env: NodeJS.ProcessEnv, out: NodeJS.WriteStream): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        'docker-host': { type: 'string' },
        context: { type: 'string' },
        runtime: { type: 'string' },
        image: { type: 'string' },
        docker: { type: 'string' },
        json: { type: 'boolean', default: false },
      },
    }));
  } catch (error) {
    throw new DoctorUsageError((error as Error).message);
  }
  for (const flag of ['docker-host', 'context', 'runtime', 'image', 'docker'] as const) {
    if (values[flag] === '') throw new DoctorUsageError(`--${flag} needs a value`);
  }
  if (values['docker-host'] !== undefined && values.context !== undefined) throw new DoctorUsageError('give --docker-host or --context, not both');
  const checks = await runDoctor({
    dockerPath: values.docker ?? 'docker',
    ...(values['docker-host'] !== undefined && { dockerHost: values['docker-host'] }),
    ...(values.context !== undefined && { context: values.context }),
    ...(values.runtime !== undefined && { runtime: values.runtime }),
    ...(values.image !== undefined && { image: values.image }),
    env,
  });
  out.write(values.json ? renderJson(checks) : renderTable(checks, { color: useColor(out, env) }));
  return checks.every((check) => check.ok) ? 0 : 1;
}
