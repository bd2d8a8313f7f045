// Who holds a run, and whether that holder is still alive.
import { hostname } from 'node:os';
import { processStart, processState } from '../../adapters/processes.js';
import type { LeaseHolder } from '../../store/contract.js';

// How long a holder that stopped heart-beating still counts (it beats four times in that span). A driver
// paused for longer (SIGSTOP, a suspended VM) is taken over, and its writes are fenced when it wakes.
// MESH_RUN_LEASE_STALE_MS sets it, from 1 s up: tests pause drivers past it without waiting 30 s.
export const LEASE_STALE_MS = staleTime(process.env.MESH_RUN_LEASE_STALE_MS);

function staleTime(setting: string | undefined): number {
  const ms = Number(setting);
  return setting && Number.isInteger(ms) && ms >= 1000 ? ms : 30_000;
}

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

// When a holder last said it was alive, in words that stay true under a skewed clock; 0: a holder known
// only by its database session, which has not written its lease yet.
export function heartbeatAge(heartbeat: number, now: number): string {
  if (heartbeat === 0) return 'no heartbeat recorded yet';
  const seconds = Math.round((now - heartbeat) / 1000);
  if (seconds < 0) return `last heartbeat ${-seconds}s ahead of this machine's clock (the clocks disagree)`;
  return `last heartbeat ${seconds}s ago`;
}

// A lease's holder for messages: its process, where, whose, and when it last beat.
export function describeHolder(h: LeaseHolder, now: number): string {
  const who = h.user === 'unknown' ? '' : `user ${h.user}, `;
  return `pid ${h.pid} on ${h.host} (${who}${heartbeatAge(h.heartbeat, now)})`;
}
