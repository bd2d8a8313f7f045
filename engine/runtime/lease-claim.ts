// Taking a run's lease: who a driver is, the holder record it writes, and the error for clusters another
// live run holds.
import { randomUUID } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import { PreconditionError } from '../../shared/errors.js';
import type { Actor, ClusterHolder, LeaseHolder, RunStore } from '../../store/contract.js';
import { describeHolder, heartbeatAge, holderAlive, LEASE_STALE_MS, OWN_PROCESS_START } from './lease.js';

// The lease a driver holds: who it is, and when it last said so.
export function leaseFor(operator: Actor, token: string, now: number): LeaseHolder {
  return {
    token,
    pid: operator.pid,
    host: operator.host,
    user: operator.user,
    heartbeat: now,
    procStart: operator.pid === process.pid ? OWN_PROCESS_START : null,
  };
}

// The error for clusters another live run holds: exit 3, naming that run and where it is driven.
export function clustersBusy(busy: ClusterHolder, now: number, doing: string): PreconditionError {
  const simulated = busy.key.startsWith('world:');
  const where = simulated ? 'these simulated clusters' : `context "${busy.key.slice('context:'.length)}"`;
  // A run whose row is not committed yet is known only by the process creating it.
  if (busy.runId === '') {
    return new PreconditionError(
      'clusters-busy',
      `another run is starting on ${where} (pid ${busy.lease.pid} on ${busy.lease.host}); wait for it to finish before ${doing} ${simulated ? 'them' : 'it'}`,
      { hint: '"mesh-run runs" lists it once it has started' },
    );
  }
  return new PreconditionError(
    'clusters-busy',
    `run ${busy.runId} (${busy.kind}) is still running on ${where} (pid ${busy.lease.pid} on ${busy.lease.host}, ${heartbeatAge(busy.lease.heartbeat, now)}); wait for it to finish before ${doing} ${simulated ? 'them' : 'it'}`,
    {
      hint: `"mesh-run status ${busy.runId}" shows where it is; a holder that died stops counting at once (or after ${LEASE_STALE_MS / 1000} s without a heartbeat)`,
    },
  );
}

// Takes a run's lease and its claim on its clusters for `operator`, or says who holds them (exit 3).
export async function takeLease(
  store: RunStore,
  runId: string,
  operator: Actor,
  keys: readonly string[],
  now: number,
  staleAfterMs: number = LEASE_STALE_MS,
): Promise<{ token: string; tookOverFrom?: LeaseHolder }> {
  const token = randomUUID();
  const result = await store.acquireLease(runId, leaseFor(operator, token, now), staleAfterMs, holderAlive, keys);
  if (result.acquired) return { token, ...(result.tookOverFrom ? { tookOverFrom: result.tookOverFrom } : {}) };
  if ('busy' in result) throw clustersBusy(result.busy, now, 'resuming this run on');
  const h = result.holder;
  throw new PreconditionError('run-locked', `run ${runId} is being driven by ${describeHolder(h, now)}`, {
    hint: 'wait for it to finish, or stop that process first; a holder that died is taken over automatically',
  });
}

// The process and person driving a run, for leases and the audit trail.
export function currentOperator(): Actor {
  let user = process.env.USER ?? 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (containers): keep $USER
  }
  return { user, host: hostname(), pid: process.pid };
}
