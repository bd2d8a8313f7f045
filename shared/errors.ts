// mesh-run's one error family. Every error carries the message a user sees (one line per problem), what to
// do about it, and the exit code the entry point maps it to; each keeps its cause. A step's failure reaches
// the journal through one converter, toStepFailure.

import { listOf, nearest } from './words.js';

export const ExitCode = {
  ok: 0,
  runFailed: 1,
  usage: 2,
  precondition: 3,
  notResumable: 4,
  // A read-only check found something to act on (mesh-run drift, trust audit: a scheduler's "alert"); nothing failed or changed.
  found: 5,
  internal: 70,
  sigint: 130,
  sigterm: 143,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

// A step's failure as the machine keeps it in context and the journal records it.
export interface StepFailure {
  message: string;
  hint?: string;
  retryable: boolean;
}

interface ErrorOptions {
  hint?: string;
  cause?: unknown;
}

// Base class: `message` is user-facing, one line per problem; `hint` says what to do.
export class MeshRunError extends Error {
  readonly exitCode: number;
  readonly code: string;
  readonly hint: string | undefined;

  constructor(code: string, message: string, exitCode: number, options: ErrorOptions = {}) {
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
  constructor(message: string, options: ErrorOptions = {}) {
    super('usage', message, ExitCode.usage, options);
  }
}

// A filter (--cluster, --step) names what its scope (a run, the journal, a run kind) does not have. One line:
// the flag, the value, the nearest known value when one is close, and the known values.
export class UnknownFilterError extends MeshRunError {
  readonly flag: string;
  readonly value: string;
  readonly known: readonly string[];
  // scope: "run mr-k3x9p2qa", "the journal"; noun: "cluster", "step".
  constructor(flag: string, value: string, scope: string, noun: string, known: readonly string[]) {
    const near = nearest(value, known);
    const shownValue = value.length > 60 ? `${value.slice(0, 59)}…` : value;
    const shown = known.length > 0 ? `; its ${noun}s: ${listOf(known)}` : `; it has no ${noun}s yet`;
    super(
      'unknown-filter',
      `${flag} "${shownValue}": ${scope} has no ${noun} "${shownValue}"${near ? ` (did you mean ${near}?)` : ''}${shown}`,
      ExitCode.usage,
    );
    this.flag = flag;
    this.value = value;
    this.known = known;
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
  constructor(code: string, message: string, options: ErrorOptions = {}) {
    super(code, message, ExitCode.precondition, options);
  }
}

// The journal could not be read or written (disk full, read-only file system, corrupt file, busy).
export class StoreError extends PreconditionError {
  // Another process held the database's write lock: the store works, just not now.
  readonly busy: boolean;
  constructor(message: string, options: ErrorOptions & { busy?: boolean } = {}) {
    super('store', message, options);
    this.busy = options.busy ?? false;
  }
}

// Who holds a run's lease now, as a fenced write found it.
export interface CurrentHolder {
  pid: number;
  host: string;
  user: string;
}

// A write made under a lease that no longer holds the run: another driver took the run over, or it ended
// and let go. The store wrote nothing; the driver that gets this stops and changes nothing more (exit 3).
export class FencedError extends PreconditionError {
  readonly runId: string;
  // null: nobody holds the run now (it ended, or an operator unlocked it).
  readonly holder: CurrentHolder | null;
  // The run's status as the refused write found it.
  readonly runStatus: string;
  constructor(runId: string, holder: CurrentHolder | null, runStatus: string, message?: string) {
    const who = holder ? `pid ${holder.pid} on ${holder.host} (user ${holder.user})` : undefined;
    super(
      'lease-lost',
      message ??
        (who
          ? `run ${runId} was taken over by ${who}; this process stopped and changed nothing more`
          : `run ${runId} is no longer held by this process (it is ${runStatus} now); this process stopped and changed nothing more`),
      { hint: `"mesh-run status ${runId}" shows where the run stands` },
    );
    this.runId = runId;
    this.holder = holder;
    this.runStatus = runStatus;
  }
}

// The run exists but cannot be resumed as asked (already succeeded, config changed, unknown id).
export class NotResumableError extends MeshRunError {
  constructor(code: string, message: string, options: ErrorOptions = {}) {
    super(code, message, ExitCode.notResumable, options);
  }
}

// A bug: what it says is for a report, with its cause kept for MESH_RUN_DEBUG.
export class InternalError extends MeshRunError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('internal', message, ExitCode.internal, options);
  }
}

// A step could not do its work; `retryable` marks failures the retry policy may repeat.
export class StepError extends MeshRunError {
  readonly retryable: boolean;
  constructor(message: string, options: ErrorOptions & { retryable?: boolean } = {}) {
    super('step', message, ExitCode.runFailed, options);
    this.retryable = options.retryable ?? false;
  }
}

// A tool could not be started or was cut off (not found, timed out). A timeout may pass; the rest do not.
export class ToolError extends StepError {
  readonly reason: 'not-found' | 'timeout' | 'spawn';
  constructor(reason: 'not-found' | 'timeout' | 'spawn', message: string, options: ErrorOptions = {}) {
    super(message, { ...options, retryable: reason === 'timeout' });
    this.reason = reason;
  }
}

// What a step threw, as the machine and the journal keep it. Anything that is not a StepError is a bug in
// the step ("unexpected error"), never retried.
export function toStepFailure(error: unknown): StepFailure {
  if (error instanceof StepError) return { message: error.message, retryable: error.retryable, ...(error.hint ? { hint: error.hint } : {}) };
  if (error instanceof Error) return { message: `unexpected error: ${error.message}`, retryable: false };
  return { message: `unexpected error: ${String(error)}`, retryable: false };
}
