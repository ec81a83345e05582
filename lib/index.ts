import * as publicApi from './public-api.js';
import { Sandbox } from './sandbox.js';

export * from './public-api.js';
export type { SandboxState, SandboxStats, EngineStats } from './sandbox.js';
export type { Callback } from './callback.js';
export type { RunResult, RunStatus, RunTimings, RunUsage, SkippedFile } from './result.js';
export type { SandboxOptions, ResolvedSandboxOptions, EngineOptions, ResolvedEngineOptions, InputTransfer, RunParams, RunParamsObject } from './options.js';
export type { SandboxErrorCode, ValidationIssue } from './errors.js';
export type { RemoveOrphansOptions, OrphanReport } from './runner/orphan-reaper.js';
export default Sandbox;

/** What `require('docker-python-sandbox')` returns: the Sandbox class, carrying every named export. */
export type CommonJsExports = typeof Sandbox & typeof publicApi;

// Node's require() of an ES module returns the export named 'module.exports'. Version 1 users wrote
// `const Sandbox = require('docker-python-sandbox')`, so that must stay the class itself (the same
// object as the ESM default, so instances, `instanceof` and `.constructor` agree across both).
// CommonJS has no named exports beside it, so the class carries them as properties:
// `const { Sandbox, removeOrphans, SandboxOptionsError } = require('docker-python-sandbox')`.
// They are ordinary enumerable properties, like any CommonJS module's exports.
const commonJsExports: CommonJsExports = Object.assign(Sandbox, publicApi);
export { commonJsExports as 'module.exports' };
