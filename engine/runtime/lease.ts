// Who holds a run, and whether that holder is still alive.
import { hostname } from 'node:os';
import { processStart, processState } from '../../adapters/processes.js';
import type { LeaseHolder } from '../../store/contract.js';

export const LEASE_STALE_MS = 30_000;

// This process's identity beyond its pid, recorded with a lease it takes.
export const OWN_PROCESS_START = processStart(process.pid) ?? null;

// Whether the process holding a lease still exists (only knowable on the same host): a zombie, or a pid now
// used by another process (its start time differs), is a holder that died.
export function holderAlive(holder: { pid: number; host: string; procStart?: string | null }): boolean {
  if (holder.host !== hostname()) return true;
  return processState(holder.pid, holder.procStart) === 'alive';
}

// A "running" run whose driver is gone: no lease, a silent heartbeat, or a dead pid on this host.
export function isLeaseStale(run: { lease: LeaseHolder | null }, now: number = Date.now()): boolean {
  if (!run.lease) return true;
  return now - run.lease.heartbeat > LEASE_STALE_MS || !holderAlive(run.lease);
}
