// The lease a driver holds a run by, and its claim on the run's clusters: taken, kept alive, let go, broken.
import type { LeaseResult } from '../contract.js';
import { type Liveness, leaseRefused } from '../lease-rules.js';
import { toRun } from '../rows.js';
import { heldElsewhere, setLease } from './claims.js';
import type { RunContext, RunOps } from './context.js';

type Ops = RunOps<'acquireLease' | 'heartbeat' | 'watchLease' | 'releaseLease' | 'breakLease'>;

export function leaseOps(c: RunContext): Ops {
  const { db, q } = c;
  const heartbeat = db.prepare('UPDATE runs SET lease_heartbeat = ? WHERE id = ? AND lease_token = ?');
  return {
    acquireLease(runId, candidate, staleAfterMs, isAlive, keys = []) {
      return db
        .transaction((): LeaseResult => {
          const row = q.getRun.get(runId);
          if (!row) throw new Error(`run ${runId} vanished while taking its lease`);
          const current = toRun(row).lease;
          const live: Liveness = { now: candidate.heartbeat, staleAfterMs, isAlive };
          if (current && leaseRefused(current, candidate, live)) return { acquired: false, holder: current };
          const busy = heldElsewhere(c, runId, keys, live);
          if (busy) return { acquired: false, busy };
          for (const key of keys) q.claim.run(key, runId, candidate.heartbeat);
          setLease(c, runId, candidate);
          return current !== null && current.token !== candidate.token ? { acquired: true, tookOverFrom: current } : { acquired: true };
        })
        .immediate();
    },
    heartbeat(runId, token, at) {
      return heartbeat.run(at, runId, token).changes === 1;
    },
    watchLease() {
      // One file, no session: a lost lease shows in the fenced writes and the heartbeat.
      return () => undefined;
    },
    releaseLease(runId, token) {
      db.transaction(() => {
        if (q.release.run(runId, token).changes > 0) q.unclaim.run(runId);
      }).immediate();
    },
    breakLease(runId, token, actor, at, detail) {
      return db
        .transaction((): 'released' | 'changed' => {
          if (q.release.run(runId, token).changes === 0) return 'changed';
          q.unclaim.run(runId);
          q.insertEvent.run(runId, at, 'unlocked', actor.user, actor.host, actor.pid, detail, null, null);
          return 'released';
        })
        .immediate();
    },
  };
}
