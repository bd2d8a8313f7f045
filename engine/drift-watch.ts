// drift --watch: a drift check every interval, saying only what changed since the last one (a drift found or
// gone, a cluster unreadable or readable again), and with a repair, putting back what drifted under the claim
// a repair run takes on the mesh's clusters (the claim is the lease: two watchers of one mesh never repair it at
// once; the one refused says so and tries again next interval). Every dependency is injected (drift-watch-model.ts)
// so the loop is tested with fakes; the CLI gives it the real check and repair.
//
// Bounded in memory however long it runs: it keeps the last report and a few counters, nothing per check.
import { MeshRunError } from '../shared/errors.js';
import { driftChanges, driftKey } from './drift-changes.js';
import type { DriftReport } from './drift-service.js';
import type { DriftWatchDeps, DriftWatchOptions, DriftWatchSummary, RepairAttempt, WatchError, WatchEvent } from './drift-watch-model.js';

// An event before the loop stamps it: each kind of event without its time and mesh.
type Unstamped<E> = E extends unknown ? Omit<E, 'at' | 'mesh'> : never;
type EventBody = Unstamped<WatchEvent>;

export function watchError(error: unknown): WatchError {
  if (error instanceof MeshRunError) return { code: error.code, message: error.message, ...(error.hint ? { hint: error.hint } : {}) };
  return { code: 'internal', message: error instanceof Error ? error.message : String(error) };
}

// Watches until `options.signal` aborts (or maxChecks). The first check's error is the watch's own (no such
// mesh, no store: nothing to watch); a later one is said once and the check tried again next interval.
export async function watchDrift(deps: DriftWatchDeps, options: DriftWatchOptions): Promise<DriftWatchSummary> {
  const { signal } = options;
  const summary: DriftWatchSummary = { checks: 0, repairs: 0 };
  let last: DriftReport | undefined;
  // The message of the failure that checks keep meeting, said once until a check succeeds again.
  let failing: string | undefined;
  // A change the hook could not record: offered again with the next check, changed or not.
  let unrecorded = false;
  // A repair run that succeeded is checked at once, not an interval later; once, so a repair that does not take
  // (the drift comes straight back) is tried again only at the interval.
  let hurried = false;
  // A repair run that failed on this drift is not started again every interval, each a failed run in the
  // journal: the same drift waits 1, 2, 4 … up to 32 checks between tries; a change of drift tries at once. (A
  // repair refused or busy recorded nothing: it is tried next interval.)
  const backoff = { drift: '', wait: 0, skip: 0 };
  let mesh = '';
  const emit = (body: EventBody) => deps.emit({ at: new Date(deps.now()).toISOString(), mesh, ...body } as WatchEvent);

  while (!signal.aborted) {
    let report: DriftReport;
    try {
      report = await deps.check();
    } catch (error) {
      if (last === undefined) throw error;
      summary.checks++;
      const e = watchError(error);
      if (!signal.aborted && e.message !== failing) emit({ type: 'check-failed', error: e });
      failing = e.message;
      if (reached(summary, options) || !(await pause(deps, options))) break;
      continue;
    }
    summary.checks++;
    // A check the stop overtook says nothing more.
    if (signal.aborted) break;
    mesh = report.mesh;
    if (failing !== undefined) emit({ type: 'check-recovered' });
    failing = undefined;
    const first = last === undefined;
    const changes = driftChanges(last, report);
    last = report;
    for (const change of changes) emit(change);
    if (first)
      emit({
        type: 'watching',
        intervalMs: options.intervalMs,
        repair: deps.repair !== undefined,
        drift: report.drift.length,
        unreadable: new Set(report.unreadable.map((u) => u.cluster)).size,
        clusters: report.clusters.map((c) => c.name),
      });
    // Journaled on change only: a check that found what the last one found says nothing new, and one every
    // interval for days would bury the journal (1,440 runs a day at 60 s) in records of nothing; the changes
    // are what history and mesh show need (when a drift was first seen, when it went). The first check is
    // recorded: it is where this watch's knowledge of the mesh starts.
    if (deps.onChange && (first || changes.length > 0 || unrecorded)) {
      try {
        await deps.onChange(report, changes);
        unrecorded = false;
      } catch (error) {
        unrecorded = true;
        emit({ type: 'record-failed', error: watchError(error) });
      }
    }
    let repaired = false;
    // An unreadable cluster leaves the check incomplete: nothing is repaired on half a picture.
    const drift = driftSet(report);
    if (drift !== backoff.drift) Object.assign(backoff, { drift, wait: 0, skip: 0 });
    if (deps.repair && report.drift.length > 0 && report.unreadable.length === 0 && !signal.aborted) {
      if (backoff.skip > 0) backoff.skip--;
      else {
        const attempt = await tryRepair(deps, report, signal, emit);
        if ('run' in attempt) summary.repairs++;
        if (attempt.status === 'interrupted') summary.interruptedRun = attempt.run;
        repaired = attempt.status === 'succeeded';
        if (attempt.status === 'failed') {
          backoff.wait = Math.min(Math.max(1, backoff.wait * 2), 32);
          backoff.skip = backoff.wait;
        }
      }
    }
    if (reached(summary, options)) break;
    if (repaired && !hurried) {
      hurried = true;
      continue;
    }
    hurried = false;
    if (!(await pause(deps, options))) break;
  }
  return summary;
}

const reached = (summary: DriftWatchSummary, options: DriftWatchOptions) => options.maxChecks !== undefined && summary.checks >= options.maxChecks;

// Waits an interval; false once the watch is stopping.
async function pause(deps: DriftWatchDeps, options: DriftWatchOptions): Promise<boolean> {
  try {
    await deps.sleep(options.intervalMs, options.signal);
  } catch (error) {
    if (options.signal.aborted) return false;
    throw error;
  }
  return !options.signal.aborted;
}

// One repair attempt, said as it goes; whatever happens to it, the watch goes on (a failure is tried again next
// interval, from a fresh check).
async function tryRepair(deps: DriftWatchDeps, report: DriftReport, signal: AbortSignal, emit: (body: EventBody) => void): Promise<RepairAttempt> {
  const repair = deps.repair as NonNullable<DriftWatchDeps['repair']>;
  let attempt: RepairAttempt;
  let started: string | undefined;
  try {
    attempt = await repair(report, signal, (run, repairs) => {
      started = run;
      emit({ type: 'repair-started', run, repairs });
    });
  } catch (error) {
    attempt = { status: 'refused', error: watchError(error) };
  }
  if (attempt.status === 'busy') emit({ type: 'repair-busy', message: attempt.message });
  else if (attempt.status === 'refused') emit({ type: 'repair-refused', error: attempt.error });
  else if (attempt.status !== 'nothing') {
    if (started !== attempt.run) emit({ type: 'repair-started', run: attempt.run, repairs: attempt.repairs });
    emit({ type: 'repair-ended', run: attempt.run, status: attempt.status, ...(attempt.error ? { error: attempt.error } : {}) });
  }
  return attempt;
}

// The drift a report holds, as one key (the same drift is the same key, whatever order it was listed in).
function driftSet(report: DriftReport): string {
  return report.drift.map(driftKey).sort().join(' ');
}
