// What changed between two drift checks of one mesh: drifts that appeared or went, clusters that became
// unreadable or readable again. Pure.
import type { DriftItem, DriftReport } from './drift-service.js';
import type { DriftChange } from './drift-watch-model.js';

// A drift's identity across checks: its kind and cluster, and for a remote secret whose it is and its name.
export function driftKey(item: Pick<DriftItem, 'kind' | 'cluster' | 'source' | 'secret'>): string {
  return JSON.stringify([item.kind, item.cluster, item.source ?? '', item.secret ?? '']);
}

// `next` against `previous` (none: the first check, against a mesh with nothing known, so whatever it found is
// new). Drifts come in the report's order, found before gone; then the clusters.
export function driftChanges(previous: DriftReport | undefined, next: DriftReport): DriftChange[] {
  const before = new Map((previous?.drift ?? []).map((d) => [driftKey(d), d]));
  const after = new Map(next.drift.map((d) => [driftKey(d), d]));
  const changes: DriftChange[] = [];
  for (const [key, item] of after) if (!before.has(key)) changes.push({ type: 'drift-found', item });
  for (const [key, item] of before) if (!after.has(key)) changes.push({ type: 'drift-gone', item });
  // A cluster read in part may be listed more than once: one change per cluster.
  const unreadBefore = new Set((previous?.unreadable ?? []).map((u) => u.cluster));
  const unreadNow = new Set<string>();
  for (const u of next.unreadable) {
    if (unreadNow.has(u.cluster)) continue;
    unreadNow.add(u.cluster);
    if (!unreadBefore.has(u.cluster)) changes.push({ type: 'unreadable', cluster: u });
  }
  const readable = new Set<string>();
  for (const u of previous?.unreadable ?? []) {
    if (unreadNow.has(u.cluster) || readable.has(u.cluster)) continue;
    readable.add(u.cluster);
    changes.push({ type: 'readable', cluster: u.cluster, context: u.context });
  }
  return changes;
}
