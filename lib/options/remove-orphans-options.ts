/** The options of `removeOrphans(options?)`: documented type, schema, parser. */
import { z } from 'zod';
import { SandboxOptionsError } from '../errors.js';
import { engineAddress, nonEmptyString, toIssues, type DifferingKeys, type NoDifference } from './schema-helpers.js';

/** Options of `removeOrphans(options?)`. A bad or unknown option rejects with `SandboxOptionsError`. */
export type RemoveOrphansOptions = {
  /**
   * Remove every container with the label, whoever owns it: live Sandboxes', other hosts' and older
   * versions' too (temp dirs are still only dead owners').
   *
   * @default false
   */
  all?: boolean;

  /**
   * The docker CLI binary, or `'podman'` (see [Podman](#podman)).
   *
   * @default 'docker'
   */
  dockerPath?: string;

  /**
   * Engine address (`unix://`, `ssh://`, `tcp://`); not with `context`.
   *
   * @default the environment's `DOCKER_HOST`
   */
  dockerHost?: string;

  /**
   * A Docker context (`docker context ls`) to reach the engine through, instead of `dockerHost`.
   *
   * @default the environment's (`DOCKER_CONTEXT`, or the CLI's current context)
   */
  context?: string;

  /**
   * Called with how many containers carry the label and how many will go, before any is removed.
   */
  beforeRemoving?: (found: { labelled: number; removing: number }) => void;
};

const CONTEXT_RULE = 'a Docker context name (see `docker context ls`)';

/** Validates RemoveOrphansOptions (documented there; a check below keeps the two alike). */
const removeOrphansShape = z
  .object({
    all: z.boolean({ error: 'must be true or false' }).optional(),
    dockerPath: nonEmptyString('the path or name of the docker binary').default('docker'),
    dockerHost: engineAddress().optional(),
    // The same rule as the Sandbox's `context` option.
    context: z
      .string({ error: `must be ${CONTEXT_RULE}` })
      .regex(/^[A-Za-z0-9][\w.+-]*$/, { error: `must be ${CONTEXT_RULE}` })
      .optional(),
    beforeRemoving: z
      .custom<(found: { labelled: number; removing: number }) => void>((value) => typeof value === 'function', {
        error: 'must be a function ({ labelled, removing }) => void',
      })
      .optional(),
  })
  .strict();

const removeOrphansSchema = removeOrphansShape.superRefine((options, context) => {
  if (options.dockerHost !== undefined && options.context !== undefined) {
    context.addIssue({ code: 'custom', path: ['context'], message: 'must not be given with dockerHost; give one of them' });
  }
});

export type ResolvedRemoveOrphansOptions = z.output<typeof removeOrphansShape>;
// Compilation fails here when RemoveOrphansOptions and what the schema accepts differ (see SandboxOptions).
type _RemoveOrphansOptionsMatchSchema = NoDifference<DifferingKeys<RemoveOrphansOptions, z.input<typeof removeOrphansShape>>>;

/** Validates `removeOrphans()` options the way Sandbox options are: SandboxOptionsError naming each problem. */
export function parseRemoveOrphansOptions(input: unknown): ResolvedRemoveOrphansOptions {
  const parsed = removeOrphansSchema.safeParse(input ?? {});
  if (!parsed.success) throw new SandboxOptionsError(toIssues(parsed.error, input, Object.keys(removeOrphansShape.shape)));
  return parsed.data;
}
