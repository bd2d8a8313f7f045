// When a lease or a claim on clusters still counts: the rules every backend applies inside its transaction.
import type { LeaseHolder, RunRecord } from './contract.js';

export interface Liveness {
  // When the asking process took its lease (or wants it).
  now: number;
  staleAfterMs: number;
  isAlive: (holder: LeaseHolder) => boolean;
}

// A holder that stopped heart-beating, or is known dead, no longer counts.
export function holderCounts(holder: LeaseHolder, live: Liveness): boolean {
  return live.now - holder.heartbeat <= live.staleAfterMs && live.isAlive(holder);
}

// Whether `current` keeps `candidate` from taking a run's lease (its own token never does).
export function leaseRefused(current: LeaseHolder | null, candidate: LeaseHolder, live: Liveness): boolean {
  return current !== null && current.token !== candidate.token && holderCounts(current, live);
}

// Whether the run that claims a cluster still holds it: running, with a lease that counts.
export function claimCounts(holder: RunRecord | undefined, live: Liveness): holder is RunRecord & { lease: LeaseHolder } {
  return holder?.status === 'running' && holder.lease !== null && holderCounts(holder.lease, live);
}
