// The lease a driver holds a run by, and its claim on the run's clusters: taken (advisory locks first, then
// the rows in one transaction), kept alive, watched, let go, broken by an operator.
import type { LeaseHolder, LeaseResult } from '../contract.js';
import { leaseRefused } from '../lease-rules.js';
import {
  claimHolder,
  claimKeyOf,
  heldElsewhere,
  judge,
  judgeClaim,
  letGo,
  remember,
  runHolder,
  runLockName,
  setLease,
  takeLocks,
  writeClaims,
} from './claims.js';
import { LockSession, transaction } from './connection.js';
import type { RunContext, RunOps } from './context.js';

type Ops = RunOps<'acquireLease' | 'heartbeat' | 'releaseLease' | 'watchLease' | 'breakLease'>;

const CLEAR_LEASE = 'lease_token = NULL, lease_pid = NULL, lease_host = NULL, lease_user = NULL, lease_heartbeat = NULL, lease_proc_start = NULL';

export function leaseOps(c: RunContext): Ops {
  const { pool, s, locks } = c;
  return {
    acquireLease: (runId, candidate, staleAfterMs, isAlive, keys = []) => acquireLease(c, runId, candidate, staleAfterMs, isAlive, keys),

    async heartbeat(runId, token, at) {
      // The locks went with a lost session: this driver no longer holds the run, whatever the row says.
      locks.check();
      const { rowCount } = await pool.query(`UPDATE ${s}.runs SET lease_heartbeat = $1 WHERE id = $2 AND lease_token = $3`, [at, runId, token]);
      return rowCount === 1;
    },

    async releaseLease(runId, token) {
      await transaction(pool, async (db) => {
        const { rowCount } = await db.query(`UPDATE ${s}.runs SET ${CLEAR_LEASE} WHERE id = $1 AND lease_token = $2`, [runId, token]);
        if (rowCount) await db.query(`DELETE FROM ${s}.cluster_claims WHERE run_id = $1`, [runId]);
      });
      await letGo(c, runId);
    },

    async watchLease(runId, onLost) {
      return locks.onLost((error) => {
        if (c.heldFor.has(runId)) onLost(error);
      });
    },

    async breakLease(runId, token, actor, at, detail) {
      // A holder whose session still holds the run's lock is connected: not gone, whatever its heartbeat.
      const name = runLockName(c.location.schema, runId);
      if (!locks.holds(name) && (await LockSession.heldAnywhere(pool, name))) return 'connected';
      return transaction(pool, async (db) => {
        const { rowCount } = await db.query(`UPDATE ${s}.runs SET ${CLEAR_LEASE} WHERE id = $1 AND lease_token = $2`, [runId, token]);
        if (!rowCount) return 'changed' as const;
        await db.query(`DELETE FROM ${s}.cluster_claims WHERE run_id = $1`, [runId]);
        await c.insertEvent(db, runId, at, 'unlocked', actor, detail);
        await c.notify(db, [runId]);
        return 'released' as const;
      });
    },
  };
}

// The run's lock and its claim locks first: a lock another live session holds refuses the lease at once.
// Then one transaction judges the recorded holder and the claims, and writes both.
async function acquireLease(
  c: RunContext,
  runId: string,
  candidate: LeaseHolder,
  staleAfterMs: number,
  isAlive: (holder: LeaseHolder) => boolean,
  keys: readonly string[],
): Promise<LeaseResult> {
  const { names, taken, refused, fresh } = await takeLocks(c, runId, keys);
  if (refused) {
    if (refused === runLockName(c.location.schema, runId)) return { acquired: false, holder: await runHolder(c, runId, refused, staleAfterMs) };
    return { acquired: false, busy: await claimHolder(c, claimKeyOf(c, refused)) };
  }
  const result = await transaction(c.pool, async (db): Promise<LeaseResult> => {
    const run = await c.readRun(db, runId, true);
    if (!run) throw new Error(`run ${runId} vanished while taking its lease`);
    const current = run.lease;
    const own = judge(fresh, runLockName(c.location.schema, runId), candidate.heartbeat, staleAfterMs, isAlive);
    if (current && leaseRefused(current, candidate, own)) return { acquired: false, holder: current };
    const busy = await heldElsewhere(c, db, runId, keys, (key) => judgeClaim(c, fresh, key, candidate.heartbeat, staleAfterMs, isAlive));
    if (busy) return { acquired: false, busy };
    await writeClaims(c, db, runId, keys, candidate.heartbeat);
    await setLease(c, db, runId, candidate);
    await c.notify(db, [runId]);
    return current !== null && current.token !== candidate.token ? { acquired: true, tookOverFrom: current } : { acquired: true };
  });
  if (!result.acquired) {
    await c.locks.release(taken);
    return result;
  }
  remember(c, runId, names);
  return result;
}
