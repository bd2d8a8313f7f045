// Who holds a run, and whether that holder is still alive.
import { hostname } from 'node:os';
import type { LeaseHolder } from '../store/types.js';

export const LEASE_STALE_MS = 30_000;

// Whether the process holding a lease still exists (only knowable on the same host).
export function holderAlive(holder: { pid: number; host: string }): boolean {
  if (holder.host !== hostname()) return true;
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// A "running" run whose driver is gone: no lease, a silent heartbeat, or a dead pid on this host.
export function isLeaseStale(run: { lease: LeaseHolder | null }, now: number = Date.now()): boolean {
  if (!run.lease) return true;
  return now - run.lease.heartbeat > LEASE_STALE_MS || !holderAlive(run.lease);
}
