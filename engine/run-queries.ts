// The read side of the journal, one query per read verb: status, runs, show and logs, graph and report
// marks, history. Each takes the run store (opened read-only by the caller) and returns a read model.

import { ALL_CLUSTERS_WORD, clusterFromLabel, isStepId, STEP_IDS, type StepId, stepIdsOf } from '../machines/steps.js';
import { UnknownFilterError } from '../shared/errors.js';
import type { AttemptOutcome, RunKind } from '../shared/model.js';
import { withArticle } from '../shared/words.js';
import type { AttemptRecord, CommandRecord, HistoryFilter, RunEventRecord, RunRecord, RunStore } from '../store/contract.js';
import { meshDriftHistory } from './drift-journal.js';
import { reversalOf } from './kinds/registry.js';
import { isLeaseStale } from './runtime/lease.js';
import type { DriftHistory } from './views/drift-history.js';
import { findMesh, type MeshRecord, meshRecords } from './views/mesh-records.js';
import { maybeRunConfig } from './views/run-config.js';
import { findRun } from './views/run-lookup.js';
import { checkRunFilter, matchesFilter, type SlotFilter } from './views/run-slots.js';
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
  const reversal = reversalOf(run.kind);
  if (!reversal) return undefined;
  return (await runs.listRunsTargeting(run.id)).find((r) => r.kind === reversal && r.status === 'succeeded')?.id;
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

// logs --follow: each command's output once it has finished, in order, until the run stops running; with a
// filter, only the commands of the slots it names (checked first, as runTimeline does).
export async function followRunCommands(
  runs: RunStore,
  ref: string,
  show: (command: CommandRecord, attempt: AttemptRecord) => void,
  signal: AbortSignal,
  filter: SlotFilter = {},
): Promise<RunRecord> {
  let run = await findRun(runs, ref);
  checkRunFilter(run, await runs.listAttempts(run.id), filter);
  const shown = new Set<number>();
  await changes(runs, run.id, signal, async () => {
    const [commands, attempts, now] = await Promise.all([runs.listCommands(run.id), runs.listAttempts(run.id), runs.getRun(run.id)]);
    for (const c of commands) {
      if (c.endedAt === null || shown.has(c.id)) continue;
      shown.add(c.id);
      const attempt = attempts.find((a) => a.id === c.attemptId);
      if (attempt && matchesFilter(filter, attempt)) show(c, attempt);
    }
    run = now ?? run;
    return run.status === 'running' && !isLeaseStale(run);
  });
  return run;
}

// One run's timeline: events, and each slot's attempts with the commands they ran; with a filter, only the
// slots it names (a step or cluster the run does not have: exit 2).
export async function runTimeline(runs: RunStore, ref: string, filter: SlotFilter = {}): Promise<Timeline> {
  const run = await findRun(runs, ref);
  const [attempts, commands, events] = await Promise.all([runs.listAttempts(run.id), runs.listCommands(run.id), runs.listEvents(run.id)]);
  checkRunFilter(run, attempts, filter);
  const timeline = buildTimeline(run, attempts, commands, events);
  return { ...timeline, slots: timeline.slots.filter((slot) => matchesFilter(filter, slot)) };
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

// `mesh-run history` filters, as given: the run by id or prefix, --cluster and --step as typed, bounds
// already parsed.
export interface HistoryQuery {
  runRef?: string;
  kind?: RunKind;
  cluster?: string;
  step?: string;
  outcome?: AttemptOutcome;
  since?: number;
  until?: number;
  limit: number;
}

async function baseFilter(runs: RunStore, query: HistoryQuery): Promise<HistoryFilter> {
  const runId = query.runRef !== undefined ? (await findRun(runs, query.runRef)).id : undefined;
  return filterOf(query, runId);
}

function filterOf(query: HistoryQuery, runId: string | undefined): HistoryFilter {
  return {
    limit: query.limit,
    ...(runId !== undefined ? { runId } : {}),
    ...(query.kind !== undefined ? { kind: query.kind } : {}),
    ...(query.since !== undefined ? { since: query.since } : {}),
    ...(query.until !== undefined ? { until: query.until } : {}),
  };
}

// Step attempts across runs, newest first. --step and --cluster follow the one rule of checkRunFilter: with
// --run, what that run has; else a step of the kind (or of any kind), and a cluster with an attempt in the
// journal or named by one of its newest runs. The cluster is looked for only when nothing matched, so the
// common query stays one query; a refusal costs one indexed query and the newest configs.
export async function historyAttempts(runs: RunStore, query: HistoryQuery): Promise<AttemptRecord[]> {
  const run = query.runRef !== undefined ? await findRun(runs, query.runRef) : undefined;
  if (run) checkRunFilter(run, await runs.listAttempts(run.id), query);
  else if (query.step !== undefined) {
    const steps: readonly string[] = query.kind ? stepIdsOf(query.kind) : STEP_IDS;
    if (!steps.includes(query.step))
      throw new UnknownFilterError('--step', query.step, query.kind ? `${withArticle(query.kind)} run` : 'mesh-run', 'step', steps);
  }
  const cluster = query.cluster !== undefined ? clusterFromLabel(query.cluster) : undefined;
  const rows = await runs.queryAttempts({
    ...filterOf(query, run?.id),
    ...(cluster !== undefined ? { cluster } : {}),
    ...(query.step !== undefined && isStepId(query.step) ? { step: query.step } : {}),
    ...(query.outcome !== undefined ? { outcome: query.outcome } : {}),
  });
  if (rows.length === 0 && cluster !== undefined && !run && (await runs.queryAttempts({ cluster, limit: 1 })).length === 0) {
    const known = await journalClusters(runs);
    if (!known.includes(query.cluster as string)) throw new UnknownFilterError('--cluster', query.cluster as string, 'the journal', 'cluster', known);
  }
  return rows;
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
  // What its drift checks saw: the drift still there (since when), and the latest ended (by a repair, or gone).
  drift: DriftHistory;
}

// How many ended drifts mesh show keeps (the most recent).
const ENDED_SHOWN = 10;

// One mesh, with the last run that touched each of its clusters, and its drift.
export async function meshDetail(runs: RunStore, ref: string): Promise<MeshDetail> {
  const all = await runs.listRuns(100_000);
  const mesh = findMesh(meshRecords(all), ref);
  const drift = await meshDriftHistory(runs, mesh, all);
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
    drift: { ...drift, ended: drift.ended.slice(0, ENDED_SHOWN) },
  };
}

// The clusters the newest runs name (their configs), as --cluster takes them: what completion offers and a
// refusal lists. Bounded: reading every config of a 100,000-run journal takes seconds.
export async function journalClusters(runs: RunStore, newest = 1000): Promise<string[]> {
  const names = new Set<string>();
  for (const run of await runs.listRuns(newest)) for (const c of maybeRunConfig(run)?.clusters ?? []) names.add(c.name);
  return [...names, ALL_CLUSTERS_WORD];
}
