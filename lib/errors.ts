/**
 * Every error the library throws or rejects with is a SandboxError with a stable `code`.
 * Untrusted code failing is not an error: it is a RunResult with `isError: true`.
 */

export type SandboxErrorCode =
  | 'ERR_SANDBOX_OPTIONS'
  | 'ERR_RUN_PARAMS'
  | 'ERR_ENGINE_UNAVAILABLE'
  | 'ERR_IMAGE_NOT_FOUND'
  | 'ERR_RUNTIME_NOT_FOUND'
  | 'ERR_DOCKER_CLI'
  | 'ERR_CONTAINER_START'
  | 'ERR_NOT_INITIALIZED'
  | 'ERR_ABORTED'
  | 'ERR_SANDBOX_CLOSED'
  | 'ERR_QUEUE_FULL'
  | 'ERR_QUEUE_TIMEOUT';

export interface SandboxErrorDetails {
  cause?: unknown;
  /** The docker command that failed, when one did (argv joined, already escaped). */
  command?: string;
}

export class SandboxError extends Error {
  readonly code: SandboxErrorCode;
  readonly command: string | undefined;
  /** The engine (its name in `options.engines`) the error comes from, when it comes from one. */
  engine: string | undefined;

  constructor(code: SandboxErrorCode, message: string, details: SandboxErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.code = code;
    this.command = details.command;
    this.engine = undefined;
  }

  /**
   * Names the engine the error comes from: in `engine`, and at the start of the message when the
   * Sandbox has several engines (`named`). Returns this error.
   */
  fromEngine(engine: string, named: boolean): this {
    if (this.engine !== undefined) return this;
    this.engine = engine;
    if (named) this.message = `Engine "${engine}": ${this.message}`;
    return this;
  }
}

/** One problem found in options or run parameters: where it is and what rule it breaks. */
export interface ValidationIssue {
  path: string;
  message: string;
}

function describeIssues(subject: string, issues: readonly ValidationIssue[]): string {
  const lines = issues.map((issue) => `  - ${issue.path || '(root)'}: ${issue.message}`);
  return `Invalid ${subject}:\n${lines.join('\n')}`;
}

/** `new Sandbox(options)` got a bad value or an unknown key. Nothing was started. */
export class SandboxOptionsError extends SandboxError {
  readonly issues: readonly ValidationIssue[];
  constructor(issues: readonly ValidationIssue[]) {
    super('ERR_SANDBOX_OPTIONS', describeIssues('Sandbox options', issues));
    this.issues = issues;
  }
}

/** `run(param)` got a bad parameter. No container was used. */
export class RunParamsError extends SandboxError {
  readonly issues: readonly ValidationIssue[];
  constructor(issues: readonly ValidationIssue[]) {
    super('ERR_RUN_PARAMS', describeIssues('run() parameters', issues));
    this.issues = issues;
  }
}

/** A docker command failed for a reason not covered by a more specific class. */
export class DockerCliError extends SandboxError {
  readonly exitCode: number | undefined;
  readonly stderr: string;
  /** The command was killed after its time limit (the engine did not answer in time). */
  readonly timedOut: boolean;
  constructor(message: string, details: { command: string; exitCode: number | undefined; stderr: string; timedOut?: boolean; cause?: unknown }) {
    super('ERR_DOCKER_CLI', message, details);
    this.exitCode = details.exitCode;
    this.stderr = details.stderr;
    this.timedOut = details.timedOut ?? false;
  }
}

/** The docker CLI is missing, or no engine answers at the configured address. */
export class EngineUnavailableError extends SandboxError {
  readonly stderr: string;
  constructor(message: string, details: { command: string; stderr: string; cause?: unknown }) {
    super('ERR_ENGINE_UNAVAILABLE', message, details);
    this.stderr = details.stderr;
  }
}

/** The sandbox image is not present on the engine. */
export class ImageNotFoundError extends SandboxError {
  readonly image: string;
  constructor(image: string, details: { command: string; cause?: unknown }) {
    super(
      'ERR_IMAGE_NOT_FOUND',
      `The image "${image}" is not on the Docker engine. ` +
        (image === 'docker-python-sandbox:latest'
          ? 'Build it with `npm run setup` (or `bash node_modules/docker-python-sandbox/scripts/build-image.sh`).'
          : `Build or pull it (e.g. \`docker pull ${image}\`), or leave the \`image\` option at its default.`),
      details,
    );
    this.image = image;
  }
}

/** The `runtime` option names a runtime the engine does not have. */
export class RuntimeNotFoundError extends SandboxError {
  readonly runtime: string;
  constructor(runtime: string, available: readonly string[], details: { command: string }) {
    super(
      'ERR_RUNTIME_NOT_FOUND',
      `The Docker engine has no runtime "${runtime}" (it has: ${available.join(', ') || 'none listed'}). ` +
        (runtime === 'runsc'
          ? 'Install and register gVisor with `npm run setup` (as root with apt-get), or leave the `runtime` option unset.'
          : "Register it in the engine's daemon.json, or leave the `runtime` option unset."),
      details,
    );
    this.runtime = runtime;
  }
}

/** A container was created but its loader never said it was ready. */
export class ContainerStartError extends SandboxError {
  constructor(message: string, details: SandboxErrorDetails = {}) {
    super('ERR_CONTAINER_START', message, details);
  }
}

/** The run's AbortSignal fired: it left the queue, or its container was killed. `cause` is the signal's reason. */
export class AbortError extends SandboxError {
  constructor(reason: unknown, whileRunning: boolean) {
    super('ERR_ABORTED', whileRunning ? 'The run was aborted while it ran; its container was killed.' : 'The run was aborted before it started.', {
      cause: reason,
    });
  }
}

/** `run()` was called before `initialize()` finished. */
export class NotInitializedError extends SandboxError {
  constructor() {
    super('ERR_NOT_INITIALIZED', 'The sandbox is not initialized: call `await sandbox.initialize()` before `run()`.');
  }
}

/** The Sandbox was cleaned up: queued and new runs are refused. */
export class SandboxClosedError extends SandboxError {
  constructor(message = 'The sandbox was cleaned up; create a new Sandbox to run more code.') {
    super('ERR_SANDBOX_CLOSED', message);
  }
}

/** `maxQueue` runs were already waiting for a container: this one was refused at once. */
export class QueueFullError extends SandboxError {
  readonly maxQueue: number;
  constructor(maxQueue: number) {
    super('ERR_QUEUE_FULL', `${maxQueue} runs are already waiting for a container (the Sandbox's maxQueue); try again later, or raise maxQueue or poolSize.`);
    this.maxQueue = maxQueue;
  }
}

/**
 * A queued run waited `queueTimeoutMs` for a container and got none. When the pool was failing to
 * make containers meanwhile, the run rejects with that failure instead (e.g. EngineUnavailableError).
 */
export class QueueTimeoutError extends SandboxError {
  readonly queueTimeoutMs: number;
  constructor(queueTimeoutMs: number) {
    super(
      'ERR_QUEUE_TIMEOUT',
      `The run waited ${queueTimeoutMs} ms (the Sandbox's queueTimeoutMs) for a free container; raise queueTimeoutMs or poolSize, or send fewer runs at once.`,
    );
    this.queueTimeoutMs = queueTimeoutMs;
  }
}
