// A run's life: created (with its lease, its claim on its clusters and its simulated world), resumed, ended.
// Each is one transaction; resuming and ending write only under the run's lease.
import type { Actor, ClaimRequest, CreateResult, NewRun, WorldSeed } from '../contract.js';
import { crashPoint } from '../crash-points.js';
import { claimHolder, claimKeyOf, heldElsewhere, judgeClaim, letGo, remember, setLease, takeLocks, writeClaims } from './claims.js';
import { type Queryable, transaction } from './connection.js';
import { errorJson, type RunContext, type RunOps } from './context.js';

type Ops = RunOps<'createRun' | 'beginResume' | 'endRun'>;

export function lifecycleOps(c: RunContext): Ops {
  const s = c.s;
  return {
    createRun: (run, actor, claim, seed) => createRun(c, run, actor, claim, seed),

    async beginResume(runId, fence, reason, actor, at, detail) {
      await c.underLease(runId, fence, async (db) => {
        await db.query(`UPDATE ${s}.commands SET ended_at = $1 WHERE run_id = $2 AND ended_at IS NULL`, [at, runId]);
        await db.query(`UPDATE ${s}.step_attempts SET outcome = 'interrupted', ended_at = $1, error = $2 WHERE run_id = $3 AND outcome = 'running'`, [
          at,
          JSON.stringify({ message: reason }),
          runId,
        ]);
        await db.query(`UPDATE ${s}.runs SET status = 'running', updated_at = $1, finished_at = NULL, error_json = NULL WHERE id = $2`, [at, runId]);
        crashPoint('in-transaction');
        await c.insertEvent(db, runId, at, 'resumed', actor, detail ?? null);
        await c.notify(db, [runId]);
      });
      crashPoint('journal-write');
    },

    async endRun(runId, fence, status, actor, at, error, detail) {
      await c.underLease(runId, fence, async (db) => {
        if (status === 'interrupted') {
          await db.query(`UPDATE ${s}.commands SET ended_at = $1 WHERE run_id = $2 AND ended_at IS NULL`, [at, runId]);
          await db.query(`UPDATE ${s}.step_attempts SET outcome = 'interrupted', ended_at = $1, error = $2 WHERE run_id = $3 AND outcome = 'running'`, [
            at,
            JSON.stringify({ message: error?.message ?? 'interrupted' }),
            runId,
          ]);
        }
        // A run that is over (or interrupted) holds no lease and no clusters any more: in the same step, so no
        // other driver can act on it between its end and its release.
        await db.query(
          `UPDATE ${s}.runs SET status = $1, updated_at = $2, finished_at = $2, error_json = $3,
             lease_token = NULL, lease_pid = NULL, lease_host = NULL, lease_user = NULL, lease_heartbeat = NULL, lease_proc_start = NULL
           WHERE id = $4`,
          [status, at, errorJson(error), runId],
        );
        await db.query(`DELETE FROM ${s}.cluster_claims WHERE run_id = $1`, [runId]);
        crashPoint('in-transaction');
        await c.insertEvent(db, runId, at, status, actor, detail ?? null);
        await c.notify(db, [runId]);
      });
      await letGo(c, runId);
      crashPoint('journal-write');
    },
  };
}

// The run's locks first (a live run holding one of its clusters refuses it), then one transaction: the run,
// its events, its lease, its claims and its simulated world.
async function createRun(c: RunContext, run: NewRun, actor: Actor, claim: ClaimRequest, seed?: WorldSeed): Promise<CreateResult> {
  const { names, taken, refused, fresh } = await takeLocks(c, run.id, claim.keys);
  if (refused) return { created: false, busy: await claimHolder(c, claimKeyOf(c, refused)) };
  const result = await transaction(c.pool, async (db): Promise<CreateResult> => {
    const busy = await heldElsewhere(c, db, run.id, claim.keys, (key) => judgeClaim(c, fresh, key, claim.lease.heartbeat, claim.staleAfterMs, claim.isAlive));
    if (busy) return { created: false, busy };
    if (seed) await plantSeed(c, db, seed);
    await insertRun(c, db, run);
    await c.insertEvent(db, run.id, run.createdAt, 'started', actor, null);
    for (const e of run.events ?? []) await c.insertEvent(db, run.id, run.createdAt, e.type, actor, e.detail);
    await setLease(c, db, run.id, claim.lease);
    await writeClaims(c, db, run.id, claim.keys, run.createdAt);
    await c.notify(db, [run.id]);
    return { created: true };
  });
  if (!result.created) {
    await c.locks.release(taken);
    return result;
  }
  remember(c, run.id, names);
  crashPoint('journal-write');
  return result;
}

// A dry run's simulated world and injected failures; the world's version moves on, so cached copies reload.
async function plantSeed(c: RunContext, db: Queryable, seed: WorldSeed): Promise<void> {
  const s = c.s;
  if (seed.world) {
    await db.query(
      `INSERT INTO ${s}.sim_worlds (id, settings_json) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET settings_json = excluded.settings_json, version = ${s}.sim_worlds.version + 1`,
      [seed.world.id, seed.world.settingsJson],
    );
  }
  for (const f of seed.faults) {
    await db.query(`INSERT INTO ${s}.sim_faults (world, step, cluster, remaining, kind) VALUES ($1, $2, $3, $4, $5)`, [
      seed.faultWorld,
      f.step,
      f.cluster,
      f.remaining,
      f.kind,
    ]);
  }
  if (seed.faults.length > 0 && !seed.world) await db.query(`UPDATE ${s}.sim_worlds SET version = version + 1 WHERE id = $1`, [seed.faultWorld]);
}

function insertRun(c: RunContext, db: Queryable, run: NewRun) {
  return db.query(
    `INSERT INTO ${c.s}.runs (id, kind, topology, mode, status, config_json, config_hash, config_path, created_at, updated_at, machine_version, target_run, sim_world)
     VALUES ($1, $2, $3, $4, 'running', $5, $6, $7, $8, $8, $9, $10, $11)`,
    [
      run.id,
      run.kind,
      run.topology,
      run.mode,
      JSON.stringify(run.config),
      run.configHash,
      run.configPath,
      run.createdAt,
      run.machineVersion,
      run.targetRun ?? null,
      run.simWorld ?? null,
    ],
  );
}
