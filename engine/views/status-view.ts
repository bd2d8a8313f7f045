// Read models for `status` and `runs`: what each step did on each cluster, from the journal alone.
import { type StepId, slotLabel } from '../../machines/steps.js';
import { topologyName } from '../../machines/topology.js';
import type { MeshConfig, RunStatus } from '../../shared/model.js';
import type { AttemptRecord, ErrorInfo, LeaseHolder, RunEventRecord, RunRecord } from '../../store/contract.js';
import { shapeOf } from '../config/mesh-shape.js';
import { damageOf, maybeRunConfig } from './run-config.js';
import { attemptsBySlot, slotsFor } from './run-slots.js';

// interrupted: the last attempt was cut off (a signal, a killed process); resume runs it again.
export type SlotStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'interrupted';

export interface SlotView {
  step: StepId;
  cluster: string;
  status: SlotStatus;
  attempts: number;
  startedAt: string | null;
  endedAt: string | null;
  lastOutcome: AttemptRecord['outcome'] | null;
  lastError: ErrorInfo | null;
}

export interface RunView {
  id: string;
  kind: string;
  topology: string;
  mode: string;
  status: RunStatus;
  // True when the run says "running" but no live process holds it (killed): resume it.
  stale: boolean;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
  // From the start to the end (or now), idle gaps between drivers included.
  durationMs: number;
  // Time some driver was working on the run: resumes do not count the time the run sat waiting.
  activeMs: number;
  clusters: ClusterSummary;
  error: ErrorInfo | null;
  lease: (Omit<LeaseHolder, 'token' | 'heartbeat'> & { heartbeat: string }) | null;
  currentStep: string | null;
  // verify and uninstall: the install run whose mesh they act on.
  targetRun: string | null;
  // Parts of the run's row that do not parse (config, error): the run is shown, but damaged.
  damaged: string[];
  // What steps reported (a value replaced, something kept) and takeovers: the run's notes for people.
  notices: NoticeView[];
  // An upgrade: the upgrade-rollback run that took it back (it succeeded), if one did.
  rolledBackBy?: string;
}

// The mesh a run acts on, for a status header or a CLUSTERS cell.
export interface ClusterSummary {
  primaries: string[];
  remotes: string[];
  networks: string[];
  topology: string;
}

export function clusterSummaryOf(config: MeshConfig): ClusterSummary {
  return {
    primaries: config.clusters.filter((c) => c.role === 'primary').map((c) => c.name),
    remotes: config.clusters.filter((c) => c.role === 'remote').map((c) => c.name),
    networks: [...new Set(config.clusters.map((c) => c.network))],
    topology: topologyName(shapeOf(config)),
  };
}

export interface NoticeView {
  at: string;
  type: string;
  where: string | null;
  detail: string;
}

// Run events that are notes for a reader rather than the run's own life (started, resumed, ended).
const NOTICE_TYPES = new Set([
  'overwrote',
  'kept',
  'restored',
  'deleted-preexisting',
  'token-minted',
  'revoked',
  'gate-skipped',
  'gate-empty',
  'orphan-stopped',
  'orphan-unreachable',
  'lease-taken-over',
  'forced',
  // What a drift check found, or what a repair found and put back.
  'drift',
]);

// Events that begin and end a driver's work on a run.
const SESSION_START = new Set(['started', 'resumed']);
const SESSION_END = new Set(['succeeded', 'failed', 'interrupted']);

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function runView(
  run: RunRecord,
  attempts: readonly AttemptRecord[],
  now: number,
  isStale: (run: RunRecord) => boolean,
  events: readonly RunEventRecord[] = [],
): RunView {
  const config = maybeRunConfig(run);
  const open = attempts.filter((a) => a.outcome === 'running').map((a) => slotLabel(a.step, a.cluster));
  const end = run.finishedAt ?? now;
  return {
    id: run.id,
    kind: run.kind,
    topology: run.topology,
    mode: run.mode,
    status: run.status,
    stale: run.status === 'running' && isStale(run),
    createdAt: iso(run.createdAt) as string,
    updatedAt: iso(run.updatedAt) as string,
    finishedAt: iso(run.finishedAt),
    durationMs: end - run.createdAt,
    activeMs: activeTime(run, events, attempts, end),
    clusters: config ? clusterSummaryOf(config) : { primaries: ['?'], remotes: [], networks: [], topology: '?' },
    damaged: damageOf(run),
    error: run.error,
    lease: run.lease ? { pid: run.lease.pid, host: run.lease.host, user: run.lease.user, heartbeat: iso(run.lease.heartbeat) as string } : null,
    targetRun: run.targetRun ?? null,
    currentStep: currentStep(run, attempts, open),
    notices: events
      .filter((e) => NOTICE_TYPES.has(e.type))
      .map((e) => ({ at: iso(e.at) as string, type: e.type, where: e.step ? slotLabel(e.step, e.cluster ?? '') : null, detail: e.detail ?? '' })),
  };
}

// Where a run stands: the steps running now; for a failed run the step that failed (not the last one
// that happened to end); for an interrupted one the step it was cut off in.
function currentStep(run: RunRecord, attempts: readonly AttemptRecord[], open: readonly string[]): string | null {
  if (run.status === 'succeeded') return null;
  if (run.status === 'running' && open.length > 0) return open.join(', ');
  if (run.status === 'interrupted') {
    // Every step the interruption cut off (they were running side by side).
    const cut = attempts.filter((a) => a.outcome === 'interrupted' && a.endedAt === run.finishedAt).map((a) => slotLabel(a.step, a.cluster));
    if (cut.length > 0) return cut.join(', ');
  }
  if (run.error?.step) return slotLabel(run.error.step, run.error.cluster ?? '');
  const failed = [...attempts].reverse().find((a) => a.outcome === 'failed' || a.outcome === 'interrupted');
  const last = failed ?? attempts[attempts.length - 1];
  return last ? slotLabel(last.step, last.cluster) : null;
}

// The time drivers spent on the run: each session runs from a start or resume to the end that follows it.
// Without events (older journals), the time covered by attempts.
function activeTime(run: RunRecord, events: readonly RunEventRecord[], attempts: readonly AttemptRecord[], end: number): number {
  if (events.some((e) => SESSION_START.has(e.type))) {
    let total = 0;
    let since: number | undefined;
    for (const e of events) {
      if (SESSION_START.has(e.type)) {
        if (since !== undefined) total += e.at - since;
        since = e.at;
      } else if (SESSION_END.has(e.type) && since !== undefined) {
        total += e.at - since;
        since = undefined;
      }
    }
    if (since !== undefined) total += (run.status === 'running' ? end : run.updatedAt) - since;
    return Math.max(0, total);
  }
  const spans = attempts.map((a) => [a.startedAt, a.endedAt ?? end] as const).sort((a, b) => a[0] - b[0]);
  let total = 0;
  let cursor = -Infinity;
  for (const [from, to] of spans) {
    const start = Math.max(from, cursor);
    if (to > start) total += to - start;
    cursor = Math.max(cursor, to);
  }
  return total;
}

// One row per (step, cluster) the run goes through, in page order.
export function slotViews(run: RunRecord, attempts: readonly AttemptRecord[]): SlotView[] {
  const config = maybeRunConfig(run);
  const of = attemptsBySlot(attempts);
  return (config ? slotsFor(run.kind, config, attempts) : []).map(({ step, cluster }) => {
    const mine = of(step, cluster);
    const last = mine[mine.length - 1];
    const status: SlotStatus = last ? last.outcome : 'pending';
    const lastError = [...mine].reverse().find((a) => a.error)?.error ?? null;
    return {
      step,
      cluster,
      status,
      attempts: mine.length,
      startedAt: iso(mine[0]?.startedAt ?? null),
      endedAt: iso(last?.endedAt ?? null),
      lastOutcome: last?.outcome ?? null,
      lastError: status === 'succeeded' ? null : lastError,
    };
  });
}

export type StepMark = 'done' | 'failed' | 'current';

// Where a run stands, per step (over all its clusters): done everywhere, failed somewhere, or in progress.
export function stepMarks(slots: readonly SlotView[], runStatus: RunStatus): Map<StepId, StepMark> {
  const marks = new Map<StepId, StepMark>();
  const bySteps = new Map<StepId, SlotView[]>();
  for (const s of slots) bySteps.set(s.step, [...(bySteps.get(s.step) ?? []), s]);
  for (const [step, list] of bySteps) {
    if (list.every((s) => s.status === 'succeeded')) marks.set(step, 'done');
    else if (list.some((s) => s.status === 'failed')) marks.set(step, 'failed');
    else if (list.some((s) => s.status === 'running' || (s.lastOutcome === 'interrupted' && runStatus !== 'succeeded'))) marks.set(step, 'current');
  }
  return marks;
}
