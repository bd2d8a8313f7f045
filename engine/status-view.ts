// Read models for `status` and `runs`: what each step did on each cluster, from the journal alone.
import type { StepId } from '../machines/steps.js';
import { slotsFor } from './run-slots.js';
import type { AttemptRecord, ErrorInfo, LeaseHolder, RunRecord, RunStatus } from '../store/types.js';
import type { MeshConfig } from './config.js';

export type SlotStatus = 'pending' | 'running' | 'succeeded' | 'failed';

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
  durationMs: number;
  clusters: { primary: string; remotes: string[] };
  error: ErrorInfo | null;
  lease: (Omit<LeaseHolder, 'token' | 'heartbeat'> & { heartbeat: string }) | null;
  currentStep: string | null;
  // verify and uninstall: the install run whose mesh they act on.
  targetRun: string | null;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function runView(run: RunRecord, attempts: readonly AttemptRecord[], now: number, isStale: (run: RunRecord) => boolean): RunView {
  const config = JSON.parse(run.configJson) as MeshConfig;
  const open = attempts.filter((a) => a.outcome === 'running').map((a) => `${a.step}@${a.cluster}`);
  const last = attempts[attempts.length - 1];
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
    durationMs: (run.finishedAt ?? now) - run.createdAt,
    clusters: { primary: config.primary.name, remotes: config.remotes.map((r) => r.name) },
    error: run.error,
    lease: run.lease ? { pid: run.lease.pid, host: run.lease.host, user: run.lease.user, heartbeat: iso(run.lease.heartbeat) as string } : null,
    targetRun: run.targetRun ?? null,
    currentStep: open.length > 0 ? open.join(', ') : run.status === 'succeeded' ? null : last ? `${last.step}@${last.cluster}` : null,
  };
}

// One row per (step, cluster) the run goes through, in page order.
export function slotViews(run: RunRecord, attempts: readonly AttemptRecord[]): SlotView[] {
  const config = JSON.parse(run.configJson) as MeshConfig;
  return slotsFor(run.kind, config).map(({ step, cluster }) => {
    const mine = attempts.filter((a) => a.step === step && a.cluster === cluster);
    const last = mine[mine.length - 1];
    let status: SlotStatus = 'pending';
    if (last?.outcome === 'succeeded') status = 'succeeded';
    else if (last?.outcome === 'failed') status = 'failed';
    else if (last?.outcome === 'running') status = 'running';
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
