// Drives one run: binds the pure machine to activities and the journal, persists every transition,
// holds the run's lease, and ends the run as succeeded, failed or interrupted.

import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { hostname, userInfo } from 'node:os';
import { type AnyMachineSnapshot, type AnyStateMachine, createActor, fromPromise, type Snapshot, type Actor as XActor } from 'xstate';
import type { ClusterTools, RunOptions, SpawnedProcess } from '../../adapters/cluster-tools.js';
import { processesOfRun, processState, startedOnThisBoot, stopProcessGroup } from '../../adapters/processes.js';
import { redact } from '../../adapters/redact.js';
import { DEFAULT_GATEWAY_POLL_MS } from '../../machines/install-machine.js';
import type { StepId } from '../../machines/steps.js';
import { slotLabel, stepInfo } from '../../machines/steps.js';
import type { FailureMemory, StepFailure, StepInput, StepOutcomeParams } from '../../machines/types.js';
import { FencedError, PreconditionError, StoreError, toStepFailure } from '../../shared/errors.js';
import type { MeshConfig, RunStatus } from '../../shared/model.js';
import { sleep } from '../../shared/sleep.js';
import type { Actor, AttemptClose, AttemptRecord, ClusterHolder, ErrorInfo, LeaseHolder, RunRecord, RunStore } from '../../store/contract.js';
import { crashPoint } from '../../store/crash-points.js';
import type { AnswerBook } from '../activities/answer-book.js';
import type { ActivityDeps } from '../activities/install.js';
import { Inventory } from '../activities/inventory.js';
import type { StepRuntime } from '../activities/step-runtime.js';
import { describeMesh } from '../config/mesh-shape.js';
import { CommandJournal } from './command-journal.js';
import { describeHolder, heartbeatAge, holderAlive, LEASE_STALE_MS, OWN_PROCESS_START } from './lease.js';
import type { ProgressListener } from './progress-events.js';
import { slotKey } from './rerun-plan.js';
import { backoffDelay } from './retry.js';
import { Semaphore } from './semaphore.js';
import { SnapshotWriter } from './snapshot-writer.js';
import { wordFailure } from './verdicts.js';
import { type Activity, type StepBinder, type Workflow, workflowOf } from './workflows.js';
import { WriteQueue } from './write-queue.js';

export interface RunOutcome {
  status: RunStatus;
  error?: ErrorInfo;
  // The journal could not be written, or another driver holds the run now: this process stopped where it
  // stood (exit 3).
  storeError?: StoreError | FencedError;
}

// What the journal keeps of a command whose output is secret data.
const WITHHELD_STDOUT = '(secret data, read in memory; not recorded)';

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

// The lease a driver holds: who it is, and when it last said so.
export function leaseFor(operator: Actor, token: string, now: number): LeaseHolder {
  return {
    token,
    pid: operator.pid,
    host: operator.host,
    user: operator.user,
    heartbeat: now,
    procStart: operator.pid === process.pid ? OWN_PROCESS_START : null,
  };
}

// The error for clusters another live run holds: exit 3, naming that run and where it is driven.
export function clustersBusy(busy: ClusterHolder, now: number, doing: string): PreconditionError {
  const simulated = busy.key.startsWith('world:');
  const where = simulated ? 'these simulated clusters' : `context "${busy.key.slice('context:'.length)}"`;
  // A run whose row is not committed yet is known only by the process creating it.
  if (busy.runId === '') {
    return new PreconditionError(
      'clusters-busy',
      `another run is starting on ${where} (pid ${busy.lease.pid} on ${busy.lease.host}); wait for it to finish before ${doing} ${simulated ? 'them' : 'it'}`,
      { hint: '"mesh-run runs" lists it once it has started' },
    );
  }
  return new PreconditionError(
    'clusters-busy',
    `run ${busy.runId} (${busy.kind}) is still running on ${where} (pid ${busy.lease.pid} on ${busy.lease.host}, ${heartbeatAge(busy.lease.heartbeat, now)}); wait for it to finish before ${doing} ${simulated ? 'them' : 'it'}`,
    {
      hint: `"mesh-run status ${busy.runId}" shows where it is; a holder that died stops counting at once (or after ${LEASE_STALE_MS / 1000} s without a heartbeat)`,
    },
  );
}

// Takes a run's lease and its claim on its clusters for `operator`, or says who holds them (exit 3).
export async function takeLease(
  store: RunStore,
  runId: string,
  operator: Actor,
  keys: readonly string[],
  now: number,
  staleAfterMs: number = LEASE_STALE_MS,
): Promise<{ token: string; tookOverFrom?: LeaseHolder }> {
  const token = randomUUID();
  const result = await store.acquireLease(runId, leaseFor(operator, token, now), staleAfterMs, holderAlive, keys);
  if (result.acquired) return { token, ...(result.tookOverFrom ? { tookOverFrom: result.tookOverFrom } : {}) };
  if ('busy' in result) throw clustersBusy(result.busy, now, 'resuming this run on');
  const h = result.holder;
  throw new PreconditionError('run-locked', `run ${runId} is being driven by ${describeHolder(h, now)}`, {
    hint: 'wait for it to finish, or stop that process first; a holder that died is taken over automatically',
  });
}

// The process and person driving a run, for leases and the audit trail.
export function currentOperator(): Actor {
  let user = process.env.USER ?? 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (containers): keep $USER
  }
  return { user, host: hostname(), pid: process.pid };
}

export class RunDriver {
  private readonly store: RunStore;
  private readonly tools: ClusterTools;
  private readonly config: MeshConfig;
  private readonly run: RunRecord;
  private readonly runId: string;
  private readonly mode: 'dry-run' | 'real';
  private readonly operator: Actor;
  private readonly listener: ProgressListener;
  private readonly now: () => number;
  private readonly leaseStaleMs: number;
  private readonly heartbeatMs: number;
  private leaseToken: string;
  private readonly tookOverFrom: LeaseHolder | undefined;
  private stopLeaseWatch: (() => void) | undefined;
  // Set once a write found the run held by another driver (or ended): nothing more is written or run.
  private fenced: FencedError | undefined;
  // The lease (and the clusters) were taken with the run's creation, in one transaction.
  private readonly preClaimed: boolean;
  private readonly claimKeys: readonly string[];
  private readonly gatewayPollMs: number;
  private readonly remoteSlots: Semaphore;
  private readonly workflow: Workflow;
  private readonly deps: ActivityDeps;
  private readonly writes = new WriteQueue();
  private actor: XActor<AnyStateMachine> | undefined;
  private pendingCloses: AttemptClose[] = [];
  // The attempt each (step, cluster) has open in this process; resume closed every older one first.
  private readonly openAttempts = new Map<string, AttemptRecord>();
  // What the last snapshot write held: each write carries only what changed since.
  private readonly snapshots = new SnapshotWriter();
  // Reports already journaled in this run (a step re-run after a crash reports once).
  private readonly reported = new Set<string>();
  private flushQueued = false;
  private closing = false;
  private finished = false;
  private claimed = false;
  private heartbeat: NodeJS.Timeout | undefined;
  // mesh-run cancel, from any process: the store tells the driver, which stops the run.
  private stopWatching: (() => Promise<void>) | undefined;
  private checkingCancel = false;
  private readonly inflight = new Set<Promise<unknown>>();
  // Process groups of the real tool commands running now.
  private readonly liveGroups = new Set<number>();
  private readonly commands: CommandJournal;
  // resume --from: recorded results still to replay, and the slots replayed (they open no attempt).
  private readonly replay: Map<string, string>;
  private readonly replayed = new Set<string>();
  // What each slot's step returned last in this process, kept with its attempt when it succeeds.
  private readonly outputs = new Map<string, string>();
  private readonly answers: AnswerBook | undefined;
  private resolveOutcome!: (outcome: RunOutcome) => void;
  readonly outcome: Promise<RunOutcome>;

  constructor(options: DriverOptions) {
    this.store = options.store;
    this.tools = options.tools;
    this.config = options.config;
    this.run = options.run;
    this.runId = options.run.id;
    this.mode = options.run.mode;
    this.workflow = workflowOf(options.run.kind);
    this.leaseToken = options.leaseToken ?? randomUUID();
    this.preClaimed = options.leaseToken !== undefined;
    this.tookOverFrom = options.tookOverFrom;
    this.claimKeys = options.claimKeys ?? [];
    this.operator = options.operator ?? currentOperator();
    this.listener = options.listener ?? (() => {});
    this.now = options.now ?? Date.now;
    this.leaseStaleMs = options.leaseStaleMs ?? LEASE_STALE_MS;
    // Several heartbeats fit in the stale time, so a live driver never looks stale.
    this.heartbeatMs = options.heartbeatMs ?? Math.min(5_000, Math.floor(this.leaseStaleMs / 4));
    this.gatewayPollMs = options.gatewayPollMs ?? DEFAULT_GATEWAY_POLL_MS;
    this.remoteSlots = new Semaphore(this.config.maxParallelRemotes);
    this.deps = {
      config: this.config,
      inventory: options.inventory ?? Inventory.empty(),
      force: options.force ?? false,
      rehearsal: options.rehearsal ?? false,
    };
    this.replay = new Map(options.replay ?? []);
    this.answers = options.answers;
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

  // Takes the run's lease and its claim on its clusters (exit 3 when a live process holds either);
  // start and resume do it if not done yet.
  async claim(): Promise<void> {
    if (this.claimed) return;
    this.claimed = true;
    let tookOverFrom = this.tookOverFrom;
    if (!this.preClaimed) {
      try {
        const taken = await takeLease(this.store, this.runId, this.operator, this.claimKeys, this.now(), this.leaseStaleMs);
        this.leaseToken = taken.token;
        tookOverFrom = taken.tookOverFrom;
      } catch (error) {
        this.claimed = false;
        throw error;
      }
    }
    // From here on, every write and every command of this driver is fenced by its token.
    if (tookOverFrom) {
      const h = tookOverFrom;
      await this.store.addEvent(this.runId, this.leaseToken, 'lease-taken-over', this.operator, this.now(), `from pid ${h.pid} on ${h.host} (user ${h.user})`);
    }
    // A lost lock session (PostgreSQL) stops the run at once, before its next command.
    this.stopLeaseWatch = await this.store.watchLease(this.runId, (error) =>
      this.storeFailed(error instanceof StoreError ? error : new StoreError(error.message)),
    );
    this.heartbeat = setInterval(() => {
      if (this.finished) return;
      this.store.heartbeat(this.runId, this.leaseToken, this.now()).then(
        (held) => {
          if (!held) void this.leaseGone();
        },
        (error) => this.storeFailed(error),
      );
      void this.checkCancel();
    }, this.heartbeatMs);
    this.heartbeat.unref();
    try {
      this.stopWatching = await this.store.watchRun(this.runId, () => void this.checkCancel());
    } catch {
      // no watcher (a store that cannot notify): the heartbeat still looks for a cancel request
    }
  }

  // Stops the run when someone asked (mesh-run cancel) since this driver took it up.
  private async checkCancel(): Promise<void> {
    if (this.finished || this.checkingCancel) return;
    this.checkingCancel = true;
    try {
      const events = await this.store.listEvents(this.runId);
      const since = events.findLastIndex((e) => e.type === 'started' || e.type === 'resumed');
      const request = events.slice(since + 1).find((e) => e.type === 'cancel-requested');
      if (request) await this.interrupt('cancel', `cancelled by ${request.user ?? 'unknown'}@${request.host ?? 'unknown'}`);
    } catch {
      // an unreadable journal is the heartbeat's to report
    } finally {
      this.checkingCancel = false;
    }
  }

  // Starts a new run from the machine's initial state.
  async start(): Promise<RunOutcome> {
    await this.claim();
    this.listener({ type: 'run', runId: this.runId, status: 'started', at: this.now(), mode: this.mode, mesh: describeMesh(this.config) });
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
    await this.claim();
    // Tool processes a killed driver left behind must not race the ones this driver starts.
    if (this.mode === 'real') await this.stopOrphans();
    const at = this.now();
    if (action?.type === 'forced') await this.store.addEvent(this.runId, this.leaseToken, 'forced', this.operator, at, action.detail);
    await this.store.beginResume(
      this.runId,
      this.leaseToken,
      'the process running this attempt stopped before it finished; resumed',
      this.operator,
      at,
      `from ${this.run.status}`,
    );
    if (action?.type === 'rerun-from') await this.store.addEvent(this.runId, this.leaseToken, 'rerun-from', this.operator, at, action.detail);
    for (const e of await this.store.listEvents(this.runId)) if (e.step) this.reported.add(reportKey(e.type, e.detail ?? '', e.step, e.cluster ?? ''));
    this.listener({ type: 'run', runId: this.runId, status: 'resumed', at, mode: this.mode, mesh: describeMesh(this.config) });
  }

  // Stops the tool processes of this run that are still running without a driver, and journals each one.
  private async stopOrphans(): Promise<void> {
    const recorded = (await this.store.listCommands(this.runId)).filter((c) => c.endedAt === null && c.pid !== null);
    const found = new Map<number, { pgid: number; command: string }>();
    for (const c of recorded) {
      const command = c.argv.slice(0, 4).join(' ');
      if (!startedOnThisBoot(c.procStart)) {
        if (c.procStart) {
          await this.store.addEvent(
            this.runId,
            this.leaseToken,
            'orphan-unreachable',
            this.operator,
            this.now(),
            `${command} (pid ${c.pid}) was started on another machine or before a reboot; it cannot be checked from here`,
          );
        }
        continue;
      }
      if (processState(c.pid as number, c.procStart) === 'alive') found.set(c.pid as number, { pgid: c.pgid ?? (c.pid as number), command });
    }
    for (const p of processesOfRun(this.runId)) if (!found.has(p.pid)) found.set(p.pid, { pgid: p.pgid, command: p.command });
    for (const [pid, p] of found) {
      await stopProcessGroup(p.pgid);
      await this.store.addEvent(
        this.runId,
        this.leaseToken,
        'orphan-stopped',
        this.operator,
        this.now(),
        `stopped ${p.command} (pid ${pid}, process group ${p.pgid}), left running by the driver that died`,
      );
    }
  }

  // Kills every tool process this driver started, at once (the user insisted on leaving).
  killChildren(): void {
    for (const pgid of this.liveGroups) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }

  // Stops the run on a signal: persists where it stands, stops child processes, marks it interrupted.
  async interrupt(signal: 'SIGINT' | 'SIGTERM' | 'cancel', cancelledBy?: string): Promise<void> {
    if (this.finished) return;
    await this.flush();
    if (this.finished) return;
    this.closing = true;
    this.commands.close();
    this.finished = true;
    const at = this.now();
    let open: AttemptRecord[] = [];
    try {
      open = (await this.store.listAttempts(this.runId)).filter((a) => a.outcome === 'running');
    } catch {
      // an unreadable journal still lets us stop the children
    }
    const where = open.map((a) => slotLabel(a.step, a.cluster)).join(', ') || 'between steps';
    const cause = cancelledBy ?? `interrupted by ${signal}`;
    const error: ErrorInfo = { message: `${cause} during ${where}`, ...(open[0] ? { step: open[0].step, cluster: open[0].cluster } : {}) };
    try {
      await this.writes.push(() =>
        this.store.endRun(this.runId, this.leaseToken, 'interrupted', this.operator, at, error, `${cancelledBy ?? signal} during ${where}`),
      );
    } catch (refused) {
      // Another driver holds the run now: it is theirs to record; this one only stops.
      if (refused instanceof FencedError) {
        this.fencedOut(refused);
        return;
      }
      // the journal may be unwritable; the attempts stay open and the next resume closes them
    }
    this.actor?.stop();
    // Wait for killed children to exit (execa escalates to SIGKILL after 5 s), so none outlive us.
    await Promise.race([Promise.allSettled([...this.inflight]), new Promise((r) => setTimeout(r, 8000).unref())]);
    await this.endLease();
    this.listener({ type: 'run', runId: this.runId, status: 'interrupted', at, mode: this.mode, error });
    this.resolveOutcome({ status: 'interrupted', error });
  }

  private async endLease(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.stopLeaseWatch?.();
    await this.stopWatching?.().catch(() => undefined);
    // A fenced driver holds nothing to let go of (its lock session, if any, is closed with the store).
    if (this.fenced) return;
    try {
      await this.store.releaseLease(this.runId, this.leaseToken);
    } catch {
      // an unwritable journal: the lease goes stale by itself and the next resume takes it over
    }
  }

  private launch(snapshot: Snapshot<unknown> | undefined): void {
    const machine = this.bindMachine();
    // A restored snapshot carries its own context; the input only seeds a fresh run.
    const actor = createActor(machine, {
      input: this.workflow.input(this.runId, this.config, this.gatewayPollMs),
      ...(snapshot ? { snapshot: snapshot as never } : {}),
      inspect: (e) => this.onInspect(e.type),
    });
    this.actor = actor;
    actor.subscribe({
      error: (error) => void this.finish('failed', { message: `internal error in the workflow: ${error instanceof Error ? error.message : String(error)}` }),
    });
    actor.start();
    if (snapshot && this.anyTag('failed')) {
      actor.send({ type: 'RETRY', at: this.now(), gatewayTimeoutMs: this.config.timeouts.gatewayAddressMs });
    }
    this.scheduleFlush();
  }

  private bindMachine(): AnyStateMachine {
    const step: StepBinder = <I extends StepInput, O>(fn: Activity<I, O>) =>
      fromPromise<O, I>(({ input, signal }) => {
        const recorded = this.replayedOutput(input);
        if (recorded) return Promise.resolve(recorded.output as O);
        return this.executeStep(input, signal, async (rt) => {
          const output = await fn(rt, input, this.deps);
          this.outputs.set(slotKey(input), redact(JSON.stringify(output ?? null)));
          return output;
        });
      });
    return this.workflow.bind(step, {
      recordStepSucceeded: (_: unknown, params: StepOutcomeParams) => this.onStepOutcome(params, 'succeeded'),
      recordStepFailed: (_: unknown, params: StepOutcomeParams) => this.onStepOutcome(params, 'failed'),
    });
  }

  // The recorded result of a slot resume --from replays (once), if it is one.
  private replayedOutput(input: StepInput): { output: unknown } | undefined {
    const key = slotKey(input);
    const json = this.replay.get(key);
    if (json === undefined) return undefined;
    this.replay.delete(key);
    this.replayed.add(key);
    const output = JSON.parse(json) as unknown;
    // Deadlines count from when a step finished: a replayed step finishes now.
    if (output && typeof output === 'object' && 'finishedAt' in output) return { output: { ...output, finishedAt: this.now() } };
    return { output };
  }

  private onInspect(type: string): void {
    if (type === '@xstate.snapshot') this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushQueued || this.closing) return;
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
  private async flush(): Promise<void> {
    if (this.closing || !this.actor) return;
    void this.commands.flush();
    const closes = this.pendingCloses.splice(0);
    const snapshot = this.snapshots.next(this.actor);
    try {
      await this.writes.push(() => this.store.commitTransition(this.runId, this.leaseToken, snapshot, closes, this.now()));
    } catch (error) {
      this.storeFailed(error);
      return;
    }
    await this.checkSettled();
  }

  // The journal refused a write. The run stops where the last committed snapshot left it (no step is blamed
  // for the journal), is marked interrupted if the journal takes that one write, and says which it is.
  private storeFailed(error: unknown): void {
    if (error instanceof FencedError) {
      this.fencedOut(error);
      return;
    }
    if (this.finished) return;
    if (!(error instanceof StoreError)) throw error;
    this.writes.close(error);
    this.finished = true;
    this.closing = true;
    this.commands.close();
    this.actor?.stop();
    void this.stopForStore(error);
  }

  private async stopForStore(error: StoreError): Promise<void> {
    const at = this.now();
    let recorded = 'it is still recorded as running';
    // A busy database would make this write wait as long again: stop now, the next resume takes over. Else
    // try a few times: connections that died under a paused process are replaced by fresh ones, and the
    // write may learn that another driver took the run over meanwhile.
    for (let tries = 1; !error.busy && tries <= 3; tries++) {
      try {
        await this.store.endRun(
          this.runId,
          this.leaseToken,
          'interrupted',
          this.operator,
          at,
          { message: `stopped: ${error.message}` },
          'the journal refused a write',
        );
        recorded = 'it is recorded as interrupted';
        break;
      } catch (refused) {
        // Another driver took the run over meanwhile (a lost lock session lets it): theirs to record.
        if (refused instanceof FencedError) {
          this.fencedOut(refused);
          return;
        }
        // the journal still refuses: the lease goes stale with this process, and resume takes the run over
        if (!(refused instanceof StoreError) || refused.busy) break;
        await new Promise((resolve) => setTimeout(resolve, 100 * tries));
      }
    }
    await this.endLease();
    const resume = `"mesh-run resume ${this.runId}"`;
    const hint = error.busy
      ? `when the other process lets go of the database, continue with ${resume}`
      : `${error.hint ? `${error.hint.replace(/, then "mesh-run resume" the run$/, '')}; then ` : ''}continue with ${resume}`;
    const stopped = new StoreError(`run ${this.runId} stopped: ${error.message}; ${recorded}`, { hint, cause: error });
    const info: ErrorInfo = { message: stopped.message, ...(stopped.hint ? { hint: stopped.hint } : {}) };
    this.listener({ type: 'run', runId: this.runId, status: 'interrupted', at, mode: this.mode, error: info });
    this.resolveOutcome({ status: 'interrupted', error: info, storeError: stopped });
  }

  // The heartbeat found the lease held by another token (or by none): another driver took the run over, or
  // an operator unlocked it.
  private async leaseGone(): Promise<void> {
    if (this.fenced) return;
    let found: FencedError;
    try {
      const run = await this.store.getRun(this.runId);
      const holder = run?.lease && run.lease.token !== this.leaseToken ? run.lease : null;
      found = new FencedError(this.runId, holder, run?.status ?? 'gone');
    } catch {
      found = new FencedError(this.runId, null, 'unknown');
    }
    this.fencedOut(found);
  }

  // Another driver holds the run now (or it ended and let go): stop every command in flight, issue nothing
  // more and write nothing more, not even this driver's own attempts (they may be the new holder's now).
  private fencedOut(error: FencedError): void {
    if (this.fenced) return;
    this.fenced = error;
    this.finished = true;
    this.closing = true;
    this.writes.close(error);
    this.commands.close();
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.stopLeaseWatch?.();
    this.actor?.stop();
    void this.leaveFenced(error);
  }

  private async leaveFenced(error: FencedError): Promise<void> {
    await this.stopWatching?.().catch(() => undefined);
    // The stopped steps' commands end first (execa escalates to SIGKILL after 5 s), so none outlive us.
    await Promise.race([Promise.allSettled([...this.inflight]), new Promise((r) => setTimeout(r, 8000).unref())]);
    const stopped = await this.takeoverReport(error);
    const info: ErrorInfo = { message: stopped.message, ...(stopped.hint ? { hint: stopped.hint } : {}) };
    this.listener({ type: 'run', runId: this.runId, status: 'interrupted', at: this.now(), mode: this.mode, error: info });
    this.resolveOutcome({ status: 'interrupted', error: info, storeError: stopped });
  }

  // Who took the run from this driver, as the journal tells it (read only): the holder the refused write
  // found, else the last driver or operator that took it up after this one did.
  private async takeoverReport(error: FencedError): Promise<FencedError> {
    const tail = 'this process stopped and changed nothing more';
    if (error.holder) {
      const h = error.holder;
      return new FencedError(this.runId, h, error.runStatus, `run ${this.runId} was taken over by pid ${h.pid} on ${h.host} (user ${h.user}); ${tail}`);
    }
    try {
      const events = await this.store.listEvents(this.runId);
      const mine = (e: { pid: number | null; host: string | null }) => e.pid === this.operator.pid && e.host === this.operator.host;
      const since = events.findLastIndex((e) => mine(e) && (e.type === 'started' || e.type === 'resumed' || e.type === 'lease-taken-over'));
      const taker = events.slice(since + 1).findLast((e) => !mine(e) && ['lease-taken-over', 'resumed', 'unlocked'].includes(e.type));
      const run = await this.store.getRun(this.runId);
      const now = run ? `; it is ${run.status} now` : '';
      if (taker?.type === 'unlocked')
        return new FencedError(
          this.runId,
          null,
          run?.status ?? error.runStatus,
          `run ${this.runId} was unlocked by ${taker.user}@${taker.host}${now}; ${tail}`,
        );
      if (taker)
        return new FencedError(
          this.runId,
          null,
          run?.status ?? error.runStatus,
          `run ${this.runId} was taken over by pid ${taker.pid} on ${taker.host} (user ${taker.user})${now}; ${tail}`,
        );
    } catch {
      // the journal cannot be read: say what the refused write knew
    }
    return error;
  }

  private machineSnapshots(): AnyMachineSnapshot[] {
    if (!this.actor) return [];
    const root: AnyMachineSnapshot = this.actor.getSnapshot();
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
    if (this.finished || !this.actor) return;
    if (this.actor.getSnapshot().status === 'done') return this.finish('succeeded');
    if (this.anyTag('busy')) return;
    const failure = this.machineSnapshots()
      .filter((s) => s.hasTag('failed'))
      .map((s) => (s.context as FailureMemory).lastFailure)
      .find((f) => f !== undefined);
    if (failure) {
      const { message, hint } = wordFailure(failure, this.runId);
      return this.finish('failed', { message, step: failure.step, cluster: failure.cluster, ...(hint ? { hint } : {}) });
    }
    return this.finish('failed', { message: 'the workflow stopped with no step running and none failed (internal error)' });
  }

  private async finish(status: RunStatus, error?: ErrorInfo): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    // The results of the last commands go to the journal before the run is over.
    void this.commands.flush();
    // So do the steps that ended since the last write: the machine may reach its end while that write is
    // in flight, and the flush their outcome scheduled would find the run closing.
    const closes = this.pendingCloses.splice(0);
    const snapshot = this.actor ? this.snapshots.next(this.actor) : undefined;
    this.closing = true;
    this.commands.close();
    const at = this.now();
    try {
      if (snapshot) await this.writes.push(() => this.store.commitTransition(this.runId, this.leaseToken, snapshot, closes, at));
      await this.writes.push(() =>
        this.store.endRun(this.runId, this.leaseToken, status as Exclude<RunStatus, 'running'>, this.operator, at, error ?? null, error?.message),
      );
    } catch (storeError) {
      this.finished = false;
      this.storeFailed(storeError);
      return;
    }
    this.actor?.stop();
    await this.endLease();
    this.listener({ type: 'run', runId: this.runId, status, at, mode: this.mode, ...(error ? { error } : {}) });
    this.resolveOutcome(error ? { status, error } : { status });
  }

  private onStepOutcome(params: StepOutcomeParams, outcome: 'succeeded' | 'failed'): void {
    // A replayed step's attempt is the one that succeeded before: nothing to close, nothing to report.
    if (this.replayed.delete(slotKey(params))) {
      this.scheduleFlush();
      return;
    }
    const at = this.now();
    const output = outcome === 'succeeded' ? this.outputs.get(slotKey(params)) : undefined;
    this.outputs.delete(slotKey(params));
    const failure = params.failure ? redactFailure(wordFailure(params.failure, this.runId)) : undefined;
    this.pendingCloses.push({ step: params.step, cluster: params.cluster, outcome, at, ...(failure ? { error: failure } : {}), ...(output ? { output } : {}) });
    const key = slotKey(params);
    const open = this.openAttempts.get(key);
    this.openAttempts.delete(key);
    this.listener({
      type: 'step',
      runId: this.runId,
      step: params.step,
      cluster: params.cluster,
      status: outcome,
      attempt: open?.attempt ?? 0,
      at,
      ...(failure ? { error: failure } : {}),
    });
    this.scheduleFlush();
  }

  // Runs one step invocation: opens (or continues) its attempt, retries transient failures per policy.
  private async executeStep<T>(input: StepInput, signal: AbortSignal, body: (rt: StepRuntime) => Promise<T>): Promise<T> {
    // Let the transition that invoked us finish, so the snapshot we persist shows this step in flight.
    await new Promise((resolve) => setImmediate(resolve));
    // Per-cluster steps share a bounded number of slots (maxParallelRemotes); waiting for one is not an attempt.
    const scope = stepInfo(input.step).scope;
    if (scope !== 'remote' && scope !== 'each') return this.executeAttempts(input, signal, body);
    await this.remoteSlots.acquire(signal);
    try {
      return await this.executeAttempts(input, signal, body);
    } finally {
      this.remoteSlots.release();
    }
  }

  private async executeAttempts<T>(input: StepInput, signal: AbortSignal, body: (rt: StepRuntime) => Promise<T>): Promise<T> {
    // One signal serves every command of the step, and preflight runs one per cluster at once.
    setMaxListeners(0, signal);
    const policy = this.config.retry;
    for (let tries = 1; ; tries++) {
      if (signal.aborted || this.closing) throw signal.reason ?? new Error('run is stopping');
      let attempt: AttemptRecord;
      try {
        attempt = await this.openAttempt(input);
      } catch (error) {
        if (isJournalError(error)) this.storeFailed(error);
        throw error;
      }
      try {
        return await body(this.runtime(attempt, input, signal));
      } catch (error) {
        if (isJournalError(error)) this.storeFailed(error);
        if (signal.aborted || this.closing) throw error;
        const failure = redactFailure(toStepFailure(error));
        if (!failure.retryable || tries >= policy.attempts) throw failure;
        const delay = backoffDelay(policy, tries + 1);
        this.openAttempts.delete(slotKey(input));
        await this.writes.push(() => this.store.closeAttempt(this.runId, this.leaseToken, attempt.id, 'failed', failure, this.now()));
        this.listener({
          type: 'step',
          runId: this.runId,
          step: input.step,
          cluster: input.cluster,
          status: 'retrying',
          attempt: attempt.attempt,
          at: this.now(),
          error: failure,
          retryInMs: delay,
        });
        await sleep(delay, signal);
      }
    }
  }

  // The attempt of this step, opened (with the snapshot as it stands and the attempts closed since the last
  // write, in one transaction) before the step's first command.
  private async openAttempt(input: StepInput): Promise<AttemptRecord> {
    const open = this.openAttempts.get(slotKey(input));
    if (open) return open;
    void this.commands.flush();
    if (this.closing) throw new Error('run is stopping');
    const snapshot = this.actor ? this.snapshots.next(this.actor) : null;
    const closes = this.pendingCloses.splice(0);
    const slot = { step: input.step, cluster: input.cluster, context: input.step === 'preflight' ? null : input.context };
    const created = await this.writes.push(() => this.store.openAttempt(this.runId, this.leaseToken, snapshot, slot, this.now(), closes));
    this.openAttempts.set(slotKey(input), created);
    this.listener({
      type: 'step',
      runId: this.runId,
      step: input.step,
      cluster: input.cluster,
      status: 'running',
      attempt: created.attempt,
      at: created.startedAt,
    });
    return created;
  }

  private runtime(attempt: AttemptRecord, input: StepInput, signal: AbortSignal): StepRuntime {
    const base = {
      signal,
      timeoutMs: this.config.timeouts.commandMs,
      step: input.step as StepId,
      cluster: input.cluster,
      runId: this.runId,
      leaseToken: this.leaseToken,
    };
    // Each started process is journaled with its command, and remembered until it ends.
    const spawned = (ids: Partial<Record<'command' | 'source' | 'sink', number>>, groups: number[]): RunOptions => ({
      ...base,
      onSpawn: (role, proc: SpawnedProcess) => {
        this.liveGroups.add(proc.pgid);
        groups.push(proc.pgid);
        const id = ids[role];
        if (id !== undefined) this.commands.spawned(id, proc);
      },
    });
    const forget = (groups: number[]) => {
      for (const g of groups) this.liveGroups.delete(g);
    };
    const note = (message: string, kind: 'wait' | 'info' | 'warn') => {
      const budget = kind === 'wait' ? this.waitBudget(input.step as StepId) : undefined;
      const wait = budget !== undefined ? { since: attempt.startedAt, deadline: attempt.startedAt + budget } : {};
      this.listener({ type: 'note', runId: this.runId, step: input.step, cluster: input.cluster, message, at: this.now(), kind, ...wait });
    };
    return {
      signal,
      now: this.now,
      note: (message, kind = 'wait') => note(redact(message), kind),
      observe: (o) => this.journal(() => this.store.recordObservations(this.runId, this.leaseToken, [{ ...o, runId: this.runId, at: this.now() }])),
      report: async (type, detail) => {
        const text = redact(detail);
        const key = reportKey(type, text, input.step, input.cluster);
        if (!this.reported.has(key)) {
          this.reported.add(key);
          await this.journal(() =>
            this.store.addEvent(this.runId, this.leaseToken, type, this.operator, this.now(), text, { step: input.step, cluster: input.cluster }),
          );
        }
        note(text, type === 'overwrote' || type === 'deleted-preexisting' || type === 'gate-skipped' ? 'warn' : 'info');
      },
      run: (command) =>
        this.track(async () => {
          const answered = input.step === 'preflight' ? this.answers?.take(command, this.now()) : undefined;
          if (answered) {
            const id = await this.commands.start(attempt.id, command, answered.startedAt);
            this.commands.finish(id, answered.startedAt, answered.result.exitCode, answered.result.stdout, answered.result.stderr, answered.endedAt);
            return answered.result;
          }
          const id = await this.commands.start(attempt.id, command);
          this.stillDriving();
          const started = this.now();
          const groups: number[] = [];
          try {
            crashPoint('before-command');
            const result = await this.tools.run(command, spawned({ command: id }, groups)).finally(() => forget(groups));
            crashPoint('after-command');
            this.commands.finish(id, started, result.exitCode, command.sensitiveStdout ? WITHHELD_STDOUT : result.stdout, result.stderr);
            return result;
          } catch (error) {
            this.commands.finish(id, started, -1, '', error instanceof Error ? error.message : String(error));
            throw error;
          }
        }),
      pipe: (source, sink) =>
        this.track(async () => {
          const [sourceId, sinkId] = await Promise.all([this.commands.start(attempt.id, source), this.commands.start(attempt.id, sink)]);
          this.stillDriving();
          const started = this.now();
          const groups: number[] = [];
          try {
            crashPoint('before-command');
            const result = await this.tools.pipe(source, sink, spawned({ source: sourceId, sink: sinkId }, groups)).finally(() => forget(groups));
            crashPoint('after-command');
            this.commands.finish(sourceId, started, result.source.exitCode, `(stdout streamed to ${sink.tool}; not recorded)`, result.source.stderr);
            this.commands.finish(sinkId, started, result.sink.exitCode, result.sink.stdout, result.sink.stderr);
            return result;
          } catch (error) {
            const message = error instanceof Error ? error.message : String(error);
            this.commands.finish(sourceId, started, -1, '', message);
            this.commands.finish(sinkId, started, -1, '', message);
            throw error;
          }
        }),
      presentToken: (probe) =>
        this.track(async () => {
          this.stillDriving();
          return this.tools.presentToken(probe, { signal, timeoutMs: Math.min(base.timeoutMs, 30_000), runId: this.runId, leaseToken: this.leaseToken });
        }),
    };
  }

  // Right before a process starts (its row is in): a driver that lost its run, or is stopping, starts nothing.
  private stillDriving(): void {
    if (this.fenced) throw this.fenced;
    if (this.closing) throw new Error('run is stopping');
  }

  // How long a step may wait for what it waits on (its deadline, for the progress display).
  private waitBudget(step: StepId): number | undefined {
    if (step === 'await-gateway-address') return this.config.timeouts.gatewayAddressMs;
    if (['check-remote-clusters', 'check-injector-ca', 'await-sample', 'check-traffic'].includes(step)) return this.config.verify.timeoutMs;
    if (step === 'uninstall-primary' || step === 'uninstall-remote') return this.config.timeouts.commandMs;
    return undefined;
  }

  // A journal write from inside a step, in order with the others: a store that refuses it stops the run
  // (resumable), not the step.
  private async journal(write: () => Promise<void>): Promise<void> {
    try {
      await this.writes.push(write);
    } catch (error) {
      if (isJournalError(error)) this.storeFailed(error);
      throw error;
    }
  }

  private track<T>(fn: () => Promise<T>): Promise<T> {
    const promise = fn();
    this.inflight.add(promise);
    const forget = () => this.inflight.delete(promise);
    promise.then(forget, forget);
    return promise;
  }
}

// An error of the journal, not of the step: it could not be written, or this driver no longer holds the run.
function isJournalError(error: unknown): error is StoreError | FencedError {
  return error instanceof StoreError || error instanceof FencedError;
}

function reportKey(type: string, detail: string, step: string, cluster: string): string {
  return `${type}\0${step}\0${cluster}\0${detail}`;
}

function redactFailure(failure: StepFailure): StepFailure {
  return { ...failure, message: redact(failure.message), ...(failure.hint ? { hint: redact(failure.hint) } : {}) };
}
