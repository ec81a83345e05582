/**
 * The public options of a Sandbox, the parameters of a run and the options of removeOrphans(),
 * validated once at the boundary: internal modules receive the parsed (defaulted) values and
 * never check again. Each lives in lib/options/ with its documented type and its schema.
 */
export * from './options/sandbox-options.js';
export * from './options/run-params.js';
export * from './options/remove-orphans-options.js';
export type { DifferingKeys, NoDifference } from './options/schema-helpers.js';
