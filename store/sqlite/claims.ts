// Who else holds the clusters a run asks for: a claim counts only while its run is live.
import type { ClusterHolder, LeaseHolder } from '../contract.js';
import { claimCounts, type Liveness } from '../lease-rules.js';
import { toRun } from '../rows.js';
import type { RunContext } from './context.js';

// The live run (not `runId`) that holds one of `keys`: running, with a fresh heartbeat and a live holder.
export function heldElsewhere(c: RunContext, runId: string, keys: readonly string[], live: Liveness): ClusterHolder | undefined {
  for (const key of keys) {
    const claim = c.q.claimOf.get(key);
    if (!claim || claim.run_id === runId) continue;
    const row = c.q.getRun.get(claim.run_id);
    const other = row ? toRun(row) : undefined;
    if (claimCounts(other, live)) return { runId: other.id, kind: other.kind, key, lease: other.lease };
  }
  return undefined;
}

// Writes `l` as the run's lease holder.
export function setLease(c: RunContext, runId: string, l: LeaseHolder): void {
  c.q.setLease.run(l.token, l.pid, l.host, l.user, l.heartbeat, l.procStart ?? null, runId);
}
