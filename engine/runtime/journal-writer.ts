// What a driver writes to the journal as its machine moves: snapshots (only what changed), attempts opened
// and closed, the run's last writes, and the reports of its steps, in the order they happened.
import { redact } from '../../adapters/redact.js';
import type { StepFailure, StepInput, StepOutcomeParams } from '../../machines/types.js';
import type { RunStatus } from '../../shared/model.js';
import type { AttemptClose, AttemptRecord, ErrorInfo, RunEventRecord } from '../../store/contract.js';
import { slotKey } from './rerun-plan.js';
import { isJournalError, type RunSession } from './run-session.js';
import { SnapshotWriter } from './snapshot-writer.js';
import { wordFailure } from './verdicts.js';

export class JournalWriter {
  private pendingCloses: AttemptClose[] = [];
  // The attempt each (step, cluster) has open in this process; resume closed every older one first.
  private readonly openAttempts = new Map<string, AttemptRecord>();
  // What the last snapshot write held: each write carries only what changed since.
  private readonly snapshots = new SnapshotWriter();
  // Reports already journaled in this run (a step re-run after a crash reports once).
  private readonly reported = new Set<string>();
  private flushQueued = false;

  constructor(
    private readonly session: RunSession,
    // After each snapshot write: is the run over?
    private readonly settle: () => Promise<void>,
  ) {}

  scheduleFlush(): void {
    if (this.flushQueued || this.session.closing) return;
    this.flushQueued = true;
    // One write per turn of the event loop, however many actors moved in it; a step about to run its
    // first command writes before it (openAttempt), so no side effect ever outruns its transition.
    setImmediate(() => {
      this.flushQueued = false;
      void this.flush();
    });
  }

  // Queues the snapshot with the journal rows its transition produced (one transaction), after the
  // command results recorded so far, so a transition never outruns the commands behind it.
  async flush(): Promise<void> {
    const s = this.session;
    if (s.closing || !s.actor) return;
    void s.commands.flush();
    const closes = this.pendingCloses.splice(0);
    const snapshot = this.snapshots.next(s.actor);
    try {
      await s.writes.push(() => s.store.commitTransition(s.runId, s.leaseToken, snapshot, closes, s.now()));
    } catch (error) {
      s.storeFailed(error);
      return;
    }
    await this.settle();
  }

  // The run's last writes, with its end: the results of the last commands, then the steps that ended since
  // the last write with the final snapshot (the machine may reach its end while that write is in flight, and
  // the flush their outcome scheduled would find the run closing), then the run's end. Returns when it ended.
  async writeEnd(status: Exclude<RunStatus, 'running'>, error: ErrorInfo | undefined): Promise<number> {
    const s = this.session;
    void s.commands.flush();
    const closes = this.pendingCloses.splice(0);
    const snapshot = s.actor ? this.snapshots.next(s.actor) : undefined;
    s.closing = true;
    s.commands.close();
    const at = s.now();
    if (snapshot) await s.writes.push(() => s.store.commitTransition(s.runId, s.leaseToken, snapshot, closes, at));
    await s.writes.push(() => s.store.endRun(s.runId, s.leaseToken, status, s.operator, at, error ?? null, error?.message));
    return at;
  }

  // The attempt of this step, opened (with the snapshot as it stands and the attempts closed since the last
  // write, in one transaction) before the step's first command.
  async openAttempt(input: StepInput): Promise<AttemptRecord> {
    const s = this.session;
    const open = this.openAttempts.get(slotKey(input));
    if (open) return open;
    void s.commands.flush();
    if (s.closing) throw new Error('run is stopping');
    const snapshot = s.actor ? this.snapshots.next(s.actor) : null;
    const closes = this.pendingCloses.splice(0);
    const slot = { step: input.step, cluster: input.cluster, context: input.step === 'preflight' ? null : input.context };
    const created = await s.writes.push(() => s.store.openAttempt(s.runId, s.leaseToken, snapshot, slot, s.now(), closes));
    this.openAttempts.set(slotKey(input), created);
    s.listener({
      type: 'step',
      runId: s.runId,
      step: input.step,
      cluster: input.cluster,
      status: 'running',
      attempt: created.attempt,
      at: created.startedAt,
    });
    return created;
  }

  // An attempt that failed and is tried again: closed at once, the next one opens a new row.
  async closeForRetry(input: StepInput, attempt: AttemptRecord, failure: StepFailure): Promise<void> {
    const s = this.session;
    this.openAttempts.delete(slotKey(input));
    await s.writes.push(() => s.store.closeAttempt(s.runId, s.leaseToken, attempt.id, 'failed', failure, s.now()));
  }

  // A step ended (as the machine recorded it): its attempt is closed with the next write, with what it returned.
  closeAttempt(params: StepOutcomeParams, outcome: 'succeeded' | 'failed', at: number, output: string | undefined): void {
    const s = this.session;
    const failure = params.failure ? redactFailure(wordFailure(params.failure, s.runId)) : undefined;
    this.pendingCloses.push({ step: params.step, cluster: params.cluster, outcome, at, ...(failure ? { error: failure } : {}), ...(output ? { output } : {}) });
    const key = slotKey(params);
    const open = this.openAttempts.get(key);
    this.openAttempts.delete(key);
    s.listener({
      type: 'step',
      runId: s.runId,
      step: params.step,
      cluster: params.cluster,
      status: outcome,
      attempt: open?.attempt ?? 0,
      at,
      ...(failure ? { error: failure } : {}),
    });
    this.scheduleFlush();
  }

  // A journal write from inside a step, in order with the others: a store that refuses it stops the run
  // (resumable), not the step.
  async journal(write: () => Promise<void>): Promise<void> {
    try {
      await this.session.writes.push(write);
    } catch (error) {
      if (isJournalError(error)) this.session.storeFailed(error);
      throw error;
    }
  }

  // The reports a run journaled before this driver took it up (resume).
  rememberReports(events: readonly RunEventRecord[]): void {
    for (const e of events) if (e.step) this.reported.add(reportKey(e.type, e.detail ?? '', e.step, e.cluster ?? ''));
  }

  // Whether this report is new to the run (it is remembered from now on).
  firstReport(type: string, detail: string, step: string, cluster: string): boolean {
    const key = reportKey(type, detail, step, cluster);
    if (this.reported.has(key)) return false;
    this.reported.add(key);
    return true;
  }
}

function reportKey(type: string, detail: string, step: string, cluster: string): string {
  return `${type}\0${step}\0${cluster}\0${detail}`;
}

export function redactFailure(failure: StepFailure): StepFailure {
  return { ...failure, message: redact(failure.message), ...(failure.hint ? { hint: redact(failure.hint) } : {}) };
}
