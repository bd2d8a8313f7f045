// Drives one run: binds the pure machine to activities and the journal, persists every transition,
// holds the run's lease, and ends the run as succeeded, failed or interrupted.

import { randomUUID } from 'node:crypto';
import { type AnyMachineSnapshot, type AnyStateMachine, createActor, fromPromise, type Snapshot } from 'xstate';
import type { ClusterTools } from '../../adapters/cluster-tools.js';
import { DEFAULT_GATEWAY_POLL_MS } from '../../machines/install-machine.js';
import { slotLabel } from '../../machines/steps.js';
import type { FailureMemory, StepInput, StepOutcomeParams } from '../../machines/types.js';
import { FencedError } from '../../shared/errors.js';
import type { MeshConfig, RunStatus } from '../../shared/model.js';
import type { Actor, AttemptRecord, ErrorInfo, LeaseHolder, RunRecord, RunStore } from '../../store/contract.js';
import type { AnswerBook } from '../activities/answer-book.js';
import type { ActivityDeps } from '../activities/install.js';
import { Inventory } from '../activities/inventory.js';
import { describeMesh } from '../config/mesh-shape.js';
import { type Activity, type StepBinder, type Workflow, workflowOf } from '../kinds/workflows.js';
import { CancelWatch } from './cancel-watch.js';
import { JournalWriter } from './journal-writer.js';
import { LEASE_STALE_MS } from './lease.js';
import { currentOperator } from './lease-claim.js';
import { LeaseKeeper } from './lease-keeper.js';
import { ProcessGroups } from './process-groups.js';
import type { ProgressListener } from './progress-events.js';
import { type RunOutcome, RunSession } from './run-session.js';
import { StepExecutor } from './step-executor.js';
import { StepResults } from './step-results.js';
import { wordFailure } from './verdicts.js';

export { clustersBusy, currentOperator, leaseFor, takeLease } from './lease-claim.js';
export type { RunOutcome } from './run-session.js';

export interface DriverOptions {
  store: RunStore;
  tools: ClusterTools;
  config: MeshConfig;
  run: RunRecord;
  operator?: Actor;
  listener?: ProgressListener;
  now?: () => number;
  leaseStaleMs?: number;
  heartbeatMs?: number;
  // How often the gateway wait polls (simulated runs at a time scale poll faster).
  gatewayPollMs?: number;
  // What existed before mesh-run acted (uninstall keeps it), and uninstall --force.
  inventory?: Inventory;
  force?: boolean;
  // A rehearsal (plan, a day-2 dry run of a real mesh): its world's API server addresses are invented.
  rehearsal?: boolean;
  // The lease token the run was created (or resumed) with: its lease is already held. `tookOverFrom`: the
  // holder it replaced, journaled once the driver starts. And the clusters it claims.
  leaseToken?: string;
  tookOverFrom?: LeaseHolder;
  claimKeys?: readonly string[];
  // resume --from: what the steps before the chosen one returned (slot -> JSON), replayed instead of run.
  replay?: ReadonlyMap<string, string>;
  // What the precheck just asked (a real install): the preflight step journals those answers, not new processes.
  answers?: AnswerBook;
}

export class RunDriver {
  private readonly config: MeshConfig;
  private readonly run: RunRecord;
  private readonly gatewayPollMs: number;
  private readonly workflow: Workflow;
  private readonly deps: ActivityDeps;
  private readonly session: RunSession;
  private readonly lease: LeaseKeeper;
  private readonly journal: JournalWriter;
  private readonly groups: ProcessGroups;
  private readonly steps: StepExecutor;
  private readonly results: StepResults;
  readonly outcome: Promise<RunOutcome>;

  constructor(options: DriverOptions) {
    this.config = options.config;
    this.run = options.run;
    this.workflow = workflowOf(options.run.kind);
    const now = options.now ?? Date.now;
    this.session = new RunSession({
      store: options.store,
      runId: options.run.id,
      mode: options.run.mode,
      operator: options.operator ?? currentOperator(),
      listener: options.listener ?? (() => {}),
      now,
      leaseToken: options.leaseToken ?? randomUUID(),
      storeFailed: (error) => this.lease.storeFailed(error),
    });
    const leaseStaleMs = options.leaseStaleMs ?? LEASE_STALE_MS;
    const cancel = new CancelWatch(this.session, (signal, cancelledBy) => this.interrupt(signal, cancelledBy));
    this.lease = new LeaseKeeper(
      this.session,
      {
        preClaimed: options.leaseToken !== undefined,
        tookOverFrom: options.tookOverFrom,
        claimKeys: options.claimKeys ?? [],
        leaseStaleMs,
        // Several heartbeats fit in the stale time, so a live driver never looks stale.
        heartbeatMs: options.heartbeatMs ?? Math.min(5_000, Math.floor(leaseStaleMs / 4)),
      },
      cancel,
    );
    this.gatewayPollMs = options.gatewayPollMs ?? DEFAULT_GATEWAY_POLL_MS;
    this.deps = {
      config: this.config,
      inventory: options.inventory ?? Inventory.empty(),
      force: options.force ?? false,
      rehearsal: options.rehearsal ?? false,
      mode: options.run.mode,
    };
    this.journal = new JournalWriter(this.session, () => this.checkSettled());
    this.groups = new ProcessGroups(this.session);
    this.steps = new StepExecutor({
      session: this.session,
      journal: this.journal,
      tools: options.tools,
      config: this.config,
      groups: this.groups,
      answers: options.answers,
      stillDriving: () => this.lease.stillDriving(),
    });
    this.results = new StepResults(options.replay, now);
    this.outcome = this.session.outcome;
  }

  // Takes the run's lease and its claim on its clusters (exit 3 when a live process holds either);
  // start and resume do it if not done yet.
  claim(): Promise<void> {
    return this.lease.claim();
  }

  // Starts a new run from the machine's initial state.
  async start(): Promise<RunOutcome> {
    const s = this.session;
    await this.claim();
    s.listener({ type: 'run', runId: s.runId, status: 'started', at: s.now(), mode: s.mode, mesh: describeMesh(this.config) });
    this.launch(undefined);
    return this.outcome;
  }

  // Continues the run from its last persisted snapshot (as read when it was prepared): failed steps are
  // retried, finished ones are not.
  async resume(forcedDetail?: string): Promise<RunOutcome> {
    const raw = this.run.snapshot?.trim();
    const snapshot = raw && raw !== 'null' ? (JSON.parse(raw) as Snapshot<unknown>) : undefined;
    await this.reopen(forcedDetail ? { type: 'forced', detail: forcedDetail } : undefined);
    this.launch(snapshot);
    return this.outcome;
  }

  // resume --from: runs the machine again from its start; the steps before the chosen one return what they
  // returned last time (no command, no attempt), the chosen one and every later one run again. Journaled
  // as an operator action.
  async rerun(detail: string): Promise<RunOutcome> {
    await this.reopen({ type: 'rerun-from', detail });
    this.launch(undefined);
    return this.outcome;
  }

  // What resume and rerun share: the lease, no orphan left running, the run back to running (with why).
  private async reopen(action?: { type: 'forced' | 'rerun-from'; detail: string }): Promise<void> {
    const s = this.session;
    await this.claim();
    // Tool processes a killed driver left behind must not race the ones this driver starts.
    if (s.mode === 'real') await this.groups.stopOrphans();
    const at = s.now();
    if (action?.type === 'forced') await s.store.addEvent(s.runId, s.leaseToken, 'forced', s.operator, at, action.detail);
    await s.store.beginResume(
      s.runId,
      s.leaseToken,
      'the process running this attempt stopped before it finished; resumed',
      s.operator,
      at,
      `from ${this.run.status}`,
    );
    if (action?.type === 'rerun-from') await s.store.addEvent(s.runId, s.leaseToken, 'rerun-from', s.operator, at, action.detail);
    this.journal.rememberReports(await s.store.listEvents(s.runId));
    s.listener({ type: 'run', runId: s.runId, status: 'resumed', at, mode: s.mode, mesh: describeMesh(this.config) });
  }

  // Kills every tool process this driver started, at once (the user insisted on leaving).
  killChildren(): void {
    this.groups.killAll();
  }

  // Stops the run on a signal: persists where it stands, stops child processes, marks it interrupted.
  async interrupt(signal: 'SIGINT' | 'SIGTERM' | 'cancel', cancelledBy?: string): Promise<void> {
    const s = this.session;
    if (s.finished) return;
    s.writes.hurry();
    await this.journal.flush();
    if (s.finished) return;
    s.closing = true;
    s.commands.close();
    s.finished = true;
    const at = s.now();
    let open: AttemptRecord[] = [];
    try {
      open = (await s.store.listAttempts(s.runId)).filter((a) => a.outcome === 'running');
    } catch {
      // an unreadable journal still lets us stop the children
    }
    const where = open.map((a) => slotLabel(a.step, a.cluster)).join(', ') || 'between steps';
    const cause = cancelledBy ?? `interrupted by ${signal}`;
    const error: ErrorInfo = { message: `${cause} during ${where}`, ...(open[0] ? { step: open[0].step, cluster: open[0].cluster } : {}) };
    try {
      await s.writes.push(() => s.store.endRun(s.runId, s.leaseToken, 'interrupted', s.operator, at, error, `${cancelledBy ?? signal} during ${where}`));
    } catch (refused) {
      // Another driver holds the run now: it is theirs to record; this one only stops.
      if (refused instanceof FencedError) {
        this.lease.fencedOut(refused);
        return;
      }
      // the journal may be unwritable; the attempts stay open and the next resume closes them
    }
    s.actor?.stop();
    await s.settleInflight();
    await this.lease.endLease();
    s.conclude('interrupted', at, error);
  }

  private launch(snapshot: Snapshot<unknown> | undefined): void {
    const s = this.session;
    const machine = this.bindMachine();
    // A restored snapshot carries its own context; the input only seeds a fresh run.
    const actor = createActor(machine, {
      input: this.workflow.input(s.runId, this.config, this.gatewayPollMs),
      ...(snapshot ? { snapshot: snapshot as never } : {}),
      inspect: (e) => {
        if (e.type === '@xstate.snapshot') this.journal.scheduleFlush();
      },
    });
    s.actor = actor;
    actor.subscribe({
      error: (error) => void this.finish('failed', { message: `internal error in the workflow: ${error instanceof Error ? error.message : String(error)}` }),
    });
    actor.start();
    if (snapshot && this.anyTag('failed')) {
      actor.send({ type: 'RETRY', at: s.now(), gatewayTimeoutMs: this.config.timeouts.gatewayAddressMs });
    }
    this.journal.scheduleFlush();
  }

  private bindMachine(): AnyStateMachine {
    const step: StepBinder = <I extends StepInput, O>(fn: Activity<I, O>) =>
      fromPromise<O, I>(({ input, signal }) => {
        const recorded = this.results.replayedOutput(input);
        if (recorded) return Promise.resolve(recorded.output as O);
        return this.steps.execute(input, signal, async (rt) => {
          const output = await fn(rt, input, this.deps);
          this.results.remember(input, output);
          return output;
        });
      });
    return this.workflow.bind(step, {
      recordStepSucceeded: (_: unknown, params: StepOutcomeParams) => this.onStepOutcome(params, 'succeeded'),
      recordStepFailed: (_: unknown, params: StepOutcomeParams) => this.onStepOutcome(params, 'failed'),
    });
  }

  private onStepOutcome(params: StepOutcomeParams, outcome: 'succeeded' | 'failed'): void {
    // A replayed step's attempt is the one that succeeded before: nothing to close, nothing to report.
    if (this.results.wasReplayed(params)) {
      this.journal.scheduleFlush();
      return;
    }
    const at = this.session.now();
    this.journal.closeAttempt(params, outcome, at, this.results.takeOutput(params, outcome));
  }

  private machineSnapshots(): AnyMachineSnapshot[] {
    const actor = this.session.actor;
    if (!actor) return [];
    const root: AnyMachineSnapshot = actor.getSnapshot();
    const children = Object.values(root.children as Record<string, { getSnapshot(): unknown } | undefined>)
      .map((c) => c?.getSnapshot() as AnyMachineSnapshot | undefined)
      .filter((s): s is AnyMachineSnapshot => !!s && typeof (s as { hasTag?: unknown }).hasTag === 'function');
    return [root, ...children];
  }

  private anyTag(tag: string): boolean {
    return this.machineSnapshots().some((s) => s.status === 'active' && s.hasTag(tag));
  }

  // A run is over when the machine is done, or when nothing is running any more and something failed.
  private async checkSettled(): Promise<void> {
    const s = this.session;
    if (s.finished || !s.actor) return;
    if (s.actor.getSnapshot().status === 'done') return this.finish('succeeded');
    if (this.anyTag('busy')) return;
    const failure = this.machineSnapshots()
      .filter((m) => m.hasTag('failed'))
      .map((m) => (m.context as FailureMemory).lastFailure)
      .find((f) => f !== undefined);
    if (failure) {
      const { message, hint } = wordFailure(failure, s.runId);
      return this.finish('failed', { message, step: failure.step, cluster: failure.cluster, ...(hint ? { hint } : {}) });
    }
    return this.finish('failed', { message: 'the workflow stopped with no step running and none failed (internal error)' });
  }

  // The results of the last commands and the steps that ended since the last write go to the journal
  // before the run's end.
  private async finish(status: RunStatus, error?: ErrorInfo): Promise<void> {
    const s = this.session;
    if (s.finished) return;
    s.finished = true;
    let at: number;
    try {
      at = await this.journal.writeEnd(status as Exclude<RunStatus, 'running'>, error);
    } catch (storeError) {
      s.finished = false;
      this.lease.storeFailed(storeError);
      return;
    }
    s.actor?.stop();
    await this.lease.endLease();
    s.conclude(status, at, error);
  }
}
