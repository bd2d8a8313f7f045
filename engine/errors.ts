// Typed errors: each carries the message a user sees and the exit code the CLI maps it to.
import type { StepFailure } from '../machines/types.js';

export const ExitCode = {
  ok: 0,
  runFailed: 1,
  usage: 2,
  precondition: 3,
  notResumable: 4,
  sigint: 130,
  sigterm: 143,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

// Base class: `message` is user-facing, one line per problem; `hint` says what to do.
export class MeshRunError extends Error {
  readonly exitCode: number;
  readonly code: string;
  readonly hint: string | undefined;

  constructor(code: string, message: string, exitCode: number, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.exitCode = exitCode;
    this.hint = options.hint;
  }

  toJSON(): { code: string; message: string; hint?: string } {
    return { code: this.code, message: this.message, ...(this.hint ? { hint: this.hint } : {}) };
  }
}

// Bad input: flags, config files, run ids. Nothing was changed anywhere.
export class UsageError extends MeshRunError {
  constructor(message: string, options: { hint?: string } = {}) {
    super('usage', message, ExitCode.usage, options);
  }
}

// A config file that fails validation: one line per problem, each naming the field.
export class ConfigError extends MeshRunError {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super('config', problems.join('\n'), ExitCode.usage);
    this.problems = problems;
  }
}

// The environment is not fit to run: missing tools, unreachable contexts, a store we cannot use, a run held by another process.
export class PreconditionError extends MeshRunError {
  constructor(code: string, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(code, message, ExitCode.precondition, options);
  }
}

// The journal could not be read or written (disk full, read-only file system, corrupt file).
export class StoreError extends PreconditionError {
  // Another process held the database's write lock: the store works, just not now.
  readonly busy: boolean;
  constructor(message: string, options: { hint?: string; cause?: unknown; busy?: boolean } = {}) {
    super('store', message, options);
    this.busy = options.busy ?? false;
  }
}

// The run exists but cannot be resumed as asked (already succeeded, config changed, unknown id).
export class NotResumableError extends MeshRunError {
  constructor(code: string, message: string, options: { hint?: string } = {}) {
    super(code, message, ExitCode.notResumable, options);
  }
}

// Thrown by step activities; `retryable` marks transient failures the retry policy may repeat.
export class StepError extends Error {
  readonly retryable: boolean;
  readonly hint: string | undefined;
  constructor(message: string, options: { retryable?: boolean; hint?: string } = {}) {
    super(message);
    this.name = 'StepError';
    this.retryable = options.retryable ?? false;
    this.hint = options.hint;
  }
}

// Converts anything thrown by a step into the JSON-safe shape the machine stores.
export function toStepFailure(error: unknown): StepFailure {
  if (error instanceof StepError) {
    return { message: error.message, retryable: error.retryable, ...(error.hint ? { hint: error.hint } : {}) };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { message, retryable: false };
}
