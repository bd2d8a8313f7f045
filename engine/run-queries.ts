// The read side of the journal, one query per read verb: status, runs, show and logs, graph and report
// marks, history. Each takes the run store (opened read-only by the caller) and returns a read model.
import type { StepId } from '../machines/steps.js';
import type { AttemptOutcome, RunKind } from '../shared/model.js';
import type { AttemptRecord, CommandRecord, HistoryFilter, RunEventRecord, RunRecord, RunStore } from '../store/contract.js';
import { isLeaseStale } from './runtime/lease.js';
import { findMesh, type MeshRecord, meshRecords } from './views/mesh-records.js';
import { findRun } from './views/run-lookup.js';
import { type RunView, runView, type SlotView, type StepMark, slotViews, stepMarks } from './views/status-view.js';
import { buildTimeline, type Timeline } from './views/timeline.js';

export interface RunStatusView {
  run: RunView;
  steps: SlotView[];
}

// One run, found by id or unique prefix: its view and its per-step, per-cluster slots.
export async function runStatus(runs: RunStore, ref: string, now = Date.now()): Promise<RunStatusView> {
  const run = await findRun(runs, ref);
  const [attempts, events, rolledBackBy] = await Promise.all([runs.listAttempts(run.id), runs.listEvents(run.id), rollbackOf(runs, run)]);
  return {
    run: withRollback(
      runView(run, attempts, now, (r) => isLeaseStale(r, now), events),
      rolledBackBy,
    ),
    steps: slotViews(run, attempts),
  };
}

// The newest runs, newest first.
export async function recentRuns(runs: RunStore, limit: number, now = Date.now()): Promise<RunView[]> {
  const list = await runs.listRuns(limit);
  return Promise.all(
    list.map(async (run) => {
      const [attempts, events, rolledBackBy] = await Promise.all([runs.listAttempts(run.id), runs.listEvents(run.id), rollbackOf(runs, run)]);
      return withRollback(
        runView(run, attempts, now, (r) => isLeaseStale(r, now), events),
        rolledBackBy,
      );
    }),
  );
}

// An upgrade a rollback took back is over as "rolled back", whatever it ended as: the rollback run (an
// upgrade-rollback targeting it that succeeded) says so.
async function rollbackOf(runs: RunStore, run: RunRecord): Promise<string | undefined> {
  if (run.kind !== 'upgrade') return undefined;
  return (await runs.listRunsTargeting(run.id)).find((r) => r.kind === 'upgrade-rollback' && r.status === 'succeeded')?.id;
}

const withRollback = (view: RunView, rolledBackBy: string | undefined): RunView => (rolledBackBy ? { ...view, rolledBackBy } : view);

// Waits for the run to change (in any process), or `everyMs` to pass: a stale lease shows by time alone.
async function changes(runs: RunStore, runId: string, signal: AbortSignal, each: () => Promise<boolean>, everyMs = 2000): Promise<void> {
  let wake: (() => void) | undefined;
  let pending = false;
  const stop = await runs.watchRun(runId, () => {
    pending = true;
    wake?.();
  });
  const onAbort = () => wake?.();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      if (signal.aborted || !(await each())) return;
      if (!pending) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, everyMs);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      wake = undefined;
      pending = false;
      // A burst of commits arrives as one change.
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    await stop();
  }
}

// status --watch: the run's status now and after every change, until it stops running (or its driver is
// gone, or `signal` aborts). Returns the last view.
export async function watchRunStatus(runs: RunStore, ref: string, show: (view: RunStatusView) => void, signal: AbortSignal): Promise<RunStatusView> {
  const run = await findRun(runs, ref);
  let last = await runStatus(runs, run.id);
  show(last);
  let shown = JSON.stringify(last);
  await changes(runs, run.id, signal, async () => {
    const now = await runStatus(runs, run.id);
    const text = JSON.stringify(now);
    if (text !== shown) {
      show(now);
      shown = text;
    }
    last = now;
    return now.run.status === 'running' && !now.run.stale;
  });
  return last;
}

// logs --follow: each command's output once it has finished, in order, until the run stops running.
export async function followRunCommands(
  runs: RunStore,
  ref: string,
  show: (command: CommandRecord, attempt: AttemptRecord | undefined) => void,
  signal: AbortSignal,
): Promise<RunRecord> {
  let run = await findRun(runs, ref);
  const shown = new Set<number>();
  await changes(runs, run.id, signal, async () => {
    const [commands, attempts, now] = await Promise.all([runs.listCommands(run.id), runs.listAttempts(run.id), runs.getRun(run.id)]);
    for (const c of commands) {
      if (c.endedAt === null || shown.has(c.id)) continue;
      shown.add(c.id);
      show(
        c,
        attempts.find((a) => a.id === c.attemptId),
      );
    }
    run = now ?? run;
    return run.status === 'running' && !isLeaseStale(run);
  });
  return run;
}

// One run's timeline: events, and each slot's attempts with the commands they ran.
export async function runTimeline(runs: RunStore, ref: string): Promise<Timeline> {
  const run = await findRun(runs, ref);
  const [attempts, commands, events] = await Promise.all([runs.listAttempts(run.id), runs.listCommands(run.id), runs.listEvents(run.id)]);
  return buildTimeline(run, attempts, commands, events);
}

export interface RunProgress {
  run: RunRecord;
  // Per step: done, failed, current (for a diagram of the run's workflow).
  marks: Map<StepId, StepMark>;
}

// How far a run got, for diagrams of its workflow.
export async function runProgress(runs: RunStore, ref: string): Promise<RunProgress> {
  const run = await findRun(runs, ref);
  return { run, marks: stepMarks(slotViews(run, await runs.listAttempts(run.id)), run.status) };
}

// A run's timeline and progress together (the HTML report shows both).
export async function runReport(runs: RunStore, ref: string): Promise<RunProgress & { timeline: Timeline }> {
  const run = await findRun(runs, ref);
  const [attempts, commands, events] = await Promise.all([runs.listAttempts(run.id), runs.listCommands(run.id), runs.listEvents(run.id)]);
  return { run, marks: stepMarks(slotViews(run, attempts), run.status), timeline: buildTimeline(run, attempts, commands, events) };
}

// `mesh-run history` filters, as given: the run by id or prefix, bounds already parsed.
export interface HistoryQuery {
  runRef?: string;
  kind?: RunKind;
  cluster?: string;
  step?: StepId;
  outcome?: AttemptOutcome;
  since?: number;
  until?: number;
  limit: number;
}

async function baseFilter(runs: RunStore, query: HistoryQuery): Promise<HistoryFilter> {
  const runId = query.runRef !== undefined ? (await findRun(runs, query.runRef)).id : undefined;
  return {
    limit: query.limit,
    ...(runId !== undefined ? { runId } : {}),
    ...(query.kind !== undefined ? { kind: query.kind } : {}),
    ...(query.since !== undefined ? { since: query.since } : {}),
    ...(query.until !== undefined ? { until: query.until } : {}),
  };
}

// Step attempts across runs, newest first.
export async function historyAttempts(runs: RunStore, query: HistoryQuery): Promise<AttemptRecord[]> {
  const filter = await baseFilter(runs, query);
  return runs.queryAttempts({
    ...filter,
    ...(query.cluster !== undefined ? { cluster: query.cluster } : {}),
    ...(query.step !== undefined ? { step: query.step } : {}),
    ...(query.outcome !== undefined ? { outcome: query.outcome } : {}),
  });
}

// Operator actions across runs (started, resumed, forced, interrupted ...), newest first.
export async function historyActions(runs: RunStore, query: HistoryQuery): Promise<RunEventRecord[]> {
  return runs.queryEvents(await baseFilter(runs, query));
}

// Every mesh the journal knows, newest activity first (runs beyond the newest 100,000 are not read).
export async function listMeshes(runs: RunStore): Promise<MeshRecord[]> {
  return meshRecords(await runs.listRuns(100_000));
}

// The install run that stands for a mesh (its latest successful one), for --mesh.
export async function meshInstall(runs: RunStore, ref: string): Promise<string> {
  return findMesh(await listMeshes(runs), ref).install;
}

export interface MeshDetail {
  mesh: MeshRecord;
  // Per cluster: the last run that ran a step there, and how that step ended.
  clusters: Array<MeshRecord['clusters'][number] & { lastRun?: { id: string; kind: string; step: string; outcome: string; at: number } }>;
}

// One mesh, with the last run that touched each of its clusters.
export async function meshDetail(runs: RunStore, ref: string): Promise<MeshDetail> {
  const mesh = findMesh(await listMeshes(runs), ref);
  const last = new Map<string, NonNullable<MeshDetail['clusters'][number]['lastRun']>>();
  for (const run of mesh.runs) {
    for (const attempt of await runs.listAttempts(run.id)) {
      const seen = last.get(attempt.cluster);
      if (!seen || seen.at <= attempt.startedAt)
        last.set(attempt.cluster, { id: run.id, kind: run.kind, step: attempt.step, outcome: attempt.outcome, at: attempt.startedAt });
    }
  }
  return {
    mesh,
    clusters: mesh.clusters.map((c) => {
      const lastRun = last.get(c.name);
      return lastRun ? { ...c, lastRun } : c;
    }),
  };
}
