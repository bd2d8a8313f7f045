// What the parts of a driver share: the run it drives, the journal it writes in order, whether it is still
// driving, and the outcome it ends with.
import type { AnyStateMachine, Actor as XActor } from 'xstate';
import { FencedError, StoreError } from '../../shared/errors.js';
import type { RunStatus } from '../../shared/model.js';
import type { Actor, ErrorInfo, RunStore } from '../../store/contract.js';
import { CommandJournal } from './command-journal.js';
import type { ProgressListener } from './progress-events.js';
import { WriteQueue } from './write-queue.js';

export interface RunOutcome {
  status: RunStatus;
  error?: ErrorInfo;
  // The journal could not be written, or another driver holds the run now: this process stopped where it
  // stood (exit 3).
  storeError?: StoreError | FencedError;
}

export interface SessionInit {
  store: RunStore;
  runId: string;
  mode: 'dry-run' | 'real';
  operator: Actor;
  listener: ProgressListener;
  now: () => number;
  leaseToken: string;
  // The journal refused a write (the lease keeper decides how the run stops).
  storeFailed: (error: unknown) => void;
}

export class RunSession {
  readonly store: RunStore;
  readonly runId: string;
  readonly mode: 'dry-run' | 'real';
  readonly operator: Actor;
  readonly listener: ProgressListener;
  readonly now: () => number;
  // Every write and every command of this driver is fenced by it (claim may replace it with a fresh one).
  leaseToken: string;
  readonly writes = new WriteQueue();
  readonly commands: CommandJournal;
  actor: XActor<AnyStateMachine> | undefined;
  // finished: the run's end is written (or being written), or it stopped; closing: no new attempt, command
  // or snapshot.
  finished = false;
  closing = false;
  // The activities' commands in flight: a stopping driver waits for them to end.
  private readonly inflight = new Set<Promise<unknown>>();
  readonly storeFailed: (error: unknown) => void;
  readonly outcome: Promise<RunOutcome>;
  private resolveOutcome!: (outcome: RunOutcome) => void;

  constructor(init: SessionInit) {
    this.store = init.store;
    this.runId = init.runId;
    this.mode = init.mode;
    this.operator = init.operator;
    this.listener = init.listener;
    this.now = init.now;
    this.leaseToken = init.leaseToken;
    this.storeFailed = init.storeFailed;
    this.commands = new CommandJournal(
      this.store,
      this.writes,
      this.runId,
      () => this.leaseToken,
      this.now,
      (error) => this.storeFailed(error),
    );
    this.outcome = new Promise((resolve) => {
      this.resolveOutcome = resolve;
    });
  }

  track<T>(fn: () => Promise<T>): Promise<T> {
    const promise = fn();
    this.inflight.add(promise);
    const forget = () => this.inflight.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  // Waits for killed children to exit (execa escalates to SIGKILL after 5 s), so none outlive us.
  async settleInflight(): Promise<void> {
    await Promise.race([Promise.allSettled([...this.inflight]), new Promise((r) => setTimeout(r, 8000).unref())]);
  }

  // Tells the listener how the run ended, and the caller of start/resume.
  conclude(status: RunStatus, at: number, error?: ErrorInfo, storeError?: StoreError | FencedError): void {
    this.listener({ type: 'run', runId: this.runId, status, at, mode: this.mode, ...(error ? { error } : {}) });
    this.resolveOutcome({ status, ...(error ? { error } : {}), ...(storeError ? { storeError } : {}) });
  }
}

// An error of the journal, not of the step: it could not be written, or this driver no longer holds the run.
export function isJournalError(error: unknown): error is StoreError | FencedError {
  return error instanceof StoreError || error instanceof FencedError;
}
