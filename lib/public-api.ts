/**
 * Every runtime export of the package, in one place: lib/index.ts re-exports them for ES modules
 * and hangs them on the Sandbox class for CommonJS, so the two lists cannot drift apart.
 */
export { Sandbox } from './sandbox.js';
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
} from './errors.js';
export { LABEL as CONTAINER_LABEL } from './docker/labels.js';
export { removeOrphans } from './runner/orphan-reaper.js';
