// A mesh's drift over time, read from its runs: each drift item (kind, cluster, and whose or which secret) as
// streaks of drift checks that saw it. A streak starts at the first check that saw it and ends at the repair
// run that put it back (a repair that succeeded listing it), or at the first later check that looked
// everywhere and no longer saw it ("gone": fixed by hand, or by another tool). A check that could not read
// every cluster ends nothing: what it did not see may only be what it could not read. Pure.
import type { RepairItem } from '../../shared/model.js';
import type { Observation, RunRecord } from '../../store/contract.js';
import { recordedCheck } from '../activities/drift-record.js';
import { KINDS } from '../kinds/registry.js';
import { maybeRunConfig } from './run-config.js';

// A run, and when.
export interface DriftMark {
  runId: string;
  at: number;
}

export interface DriftEpisode {
  kind: string;
  cluster: string;
  source?: string;
  secret?: string;
  // As the latest check that saw it put it ('' when only a repair's own check saw it: it records no text).
  what: string;
  // The first check of the streak, and the latest that still saw it.
  firstSeen: DriftMark;
  lastSeen: DriftMark;
  // How many checks saw it in this streak.
  checks: number;
  // Absent while it is still there: the repair run that put it back, or the check that no longer saw it.
  ended?: DriftMark & { how: 'repaired' | 'gone' };
}

export interface DriftHistory {
  // The latest drift check, and whether it read every cluster whole.
  lastCheck?: DriftMark & { complete: boolean };
  open: DriftEpisode[];
  // Ended streaks, the most recent end first.
  ended: DriftEpisode[];
}

interface Which {
  kind: string;
  cluster: string;
  source?: string;
  secret?: string;
}

// One drift item across checks: the same kind on the same cluster, about the same secret if any.
export function driftKey(item: Which): string {
  return [item.kind, item.cluster, item.source ?? item.secret ?? ''].join('\0');
}

const repairs = (r: RepairItem, e: DriftEpisode) =>
  r.kind === e.kind && r.cluster === e.cluster && (r.source === undefined || r.source === e.source) && (r.secret === undefined || r.secret === e.secret);

type Step =
  | { type: 'check'; run: RunRecord; at: number; check: ReturnType<typeof recordedCheck> }
  | { type: 'repair'; run: RunRecord; at: number; items: readonly RepairItem[] };

// What each run says about drift, in the order it happened: a check when it recorded, a repair when it succeeded.
function stepsOf(runs: readonly RunRecord[], observations: readonly Observation[]): Step[] {
  const steps: Step[] = [];
  for (const run of runs) {
    const role = KINDS[run.kind]?.drift;
    if (role === 'checks') {
      const check = recordedCheck(run.id, observations);
      // A check that recorded no cluster (it stopped before) says nothing.
      if (check.clusters.length > 0) steps.push({ type: 'check', run, at: Math.max(...check.clusters.map((c) => c.at)), check });
    } else if (role === 'repairs' && run.status === 'succeeded') {
      const items = maybeRunConfig(run)?.repair ?? [];
      if (items.length > 0) steps.push({ type: 'repair', run, at: run.finishedAt ?? run.updatedAt, items });
    }
  }
  return steps.sort((a, b) => a.at - b.at || a.run.createdAt - b.run.createdAt);
}

export function driftHistory(runs: readonly RunRecord[], observations: readonly Observation[]): DriftHistory {
  const open = new Map<string, DriftEpisode>();
  const ended: DriftEpisode[] = [];
  let lastCheck: DriftHistory['lastCheck'];
  const end = (key: string, e: DriftEpisode, mark: NonNullable<DriftEpisode['ended']>) => {
    open.delete(key);
    ended.push({ ...e, ended: mark });
  };
  for (const step of stepsOf(runs, observations)) {
    const mark = { runId: step.run.id, at: step.at };
    if (step.type === 'repair') {
      // A remote reinstalled because its primary's gateway is repaired (follows) repairs no drift of its own.
      for (const r of step.items.filter((i) => i.follows === undefined)) {
        const matched = [...open].filter(([, e]) => repairs(r, e));
        for (const [key, e] of matched) end(key, e, { ...mark, how: 'repaired' });
        // Found by the repair's own check, never by a journaled one: it starts and ends with the repair.
        if (matched.length === 0) {
          const seen = { runId: step.run.id, at: step.run.createdAt };
          const which = { ...(r.source ? { source: r.source } : {}), ...(r.secret ? { secret: r.secret } : {}) };
          ended.push({ kind: r.kind, cluster: r.cluster, ...which, what: '', firstSeen: seen, lastSeen: seen, checks: 0, ended: { ...mark, how: 'repaired' } });
        }
      }
      continue;
    }
    const complete = step.check.clusters.every((c) => c.outcome !== 'incomplete');
    lastCheck = { ...mark, complete };
    const seen = new Set<string>();
    for (const item of step.check.items) {
      const key = driftKey(item);
      seen.add(key);
      const e = open.get(key);
      const which = { ...(item.source ? { source: item.source } : {}), ...(item.secret ? { secret: item.secret } : {}) };
      if (e) open.set(key, { ...e, ...which, what: item.what, lastSeen: mark, checks: e.checks + 1 });
      else open.set(key, { kind: item.kind, cluster: item.cluster, ...which, what: item.what, firstSeen: mark, lastSeen: mark, checks: 1 });
    }
    if (!complete) continue;
    for (const [key, e] of [...open]) if (!seen.has(key)) end(key, e, { ...mark, how: 'gone' });
  }
  return {
    ...(lastCheck ? { lastCheck } : {}),
    open: [...open.values()],
    ended: ended.sort((a, b) => (b.ended?.at ?? 0) - (a.ended?.at ?? 0)),
  };
}
