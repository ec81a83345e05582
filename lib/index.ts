export { Sandbox, type SandboxState } from './sandbox.js';
export type { Callback } from './callback.js';
export type { RunResult, RunStatus, RunTimings, RunUsage, SkippedFile } from './result.js';
export type { SandboxOptions, ResolvedSandboxOptions, RunParams } from './options.js';
export type { SandboxStats } from './sandbox.js';
export {
  SandboxError,
  AbortError,
  SandboxOptionsError,
  RunParamsError,
  DockerCliError,
  EngineUnavailableError,
  ImageNotFoundError,
  RuntimeNotFoundError,
  ContainerStartError,
  NotInitializedError,
  SandboxClosedError,
  QueueFullError,
  QueueTimeoutError,
  type SandboxErrorCode,
  type ValidationIssue,
} from './errors.js';
export { LABEL as CONTAINER_LABEL } from './docker/labels.js';
export { removeOrphans, type RemoveOrphansOptions, type OrphanReport } from './runner/orphan-reaper.js';

import { Sandbox } from './sandbox.js';
export default Sandbox;

// `const Sandbox = require('docker-python-sandbox')` works as it did in version 1 (Node's
// require() of an ES module returns this export).
export { Sandbox as 'module.exports' };
