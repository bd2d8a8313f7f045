// A run's life: created (with its lease, its claim on its clusters and its simulated world), resumed, ended.
// Each is one IMMEDIATE transaction; resuming and ending write only under the run's lease.
import type { Actor, CreateResult, NewRun } from '../contract.js';
import { crashPoint } from '../crash-points.js';
import { heldElsewhere, setLease } from './claims.js';
import { errorJson, type RunContext, type RunOps } from './context.js';

type Ops = RunOps<'createRun' | 'beginResume' | 'endRun'>;

export function lifecycleOps(c: RunContext): Ops {
  const { db, q } = c;
  const insertRun =
    db.prepare(`INSERT INTO runs (id, kind, topology, mode, status, config_json, config_hash, config_path, created_at, updated_at, machine_version, target_run, sim_world)
      VALUES (@id, @kind, @topology, @mode, 'running', @configJson, @configHash, @configPath, @createdAt, @createdAt, @machineVersion, @targetRun, @simWorld)`);
  const putWorld = db.prepare('INSERT INTO sim_worlds (id, settings_json) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET settings_json = excluded.settings_json');
  const addFault = db.prepare('INSERT INTO sim_faults (world, step, cluster, remaining, kind) VALUES (?, ?, ?, ?, ?)');
  const interruptOpen = db.prepare(`UPDATE step_attempts SET outcome = 'interrupted', ended_at = ?, error = ? WHERE run_id = ? AND outcome = 'running'`);
  const interruptOpenCommands = db.prepare(`UPDATE commands SET ended_at = ? WHERE run_id = ? AND ended_at IS NULL`);
  const setStatus = db.prepare(
    `UPDATE runs SET status = @status, updated_at = @at, finished_at = CASE WHEN @status = 'running' THEN NULL ELSE @at END, error_json = @error WHERE id = @id`,
  );
  const event = (runId: string, at: number, type: string, actor: Actor, detail: string | null) =>
    q.insertEvent.run(runId, at, type, actor.user, actor.host, actor.pid, detail, null, null);

  return {
    createRun(run, actor, claim, seed) {
      const result = db
        .transaction((): CreateResult => {
          const busy = heldElsewhere(c, run.id, claim.keys, { now: claim.lease.heartbeat, staleAfterMs: claim.staleAfterMs, isAlive: claim.isAlive });
          if (busy) return { created: false, busy };
          if (seed?.world) putWorld.run(seed.world.id, seed.world.settingsJson);
          for (const f of seed?.faults ?? []) addFault.run(seed?.faultWorld, f.step, f.cluster, f.remaining, f.kind);
          insertRun.run(runParams(run));
          event(run.id, run.createdAt, 'started', actor, null);
          for (const e of run.events ?? []) event(run.id, run.createdAt, e.type, actor, e.detail);
          setLease(c, run.id, claim.lease);
          for (const key of claim.keys) q.claim.run(key, run.id, run.createdAt);
          return { created: true };
        })
        .immediate();
      if (result.created) crashPoint('journal-write');
      return result;
    },
    beginResume(runId, fence, reason, actor, at, detail) {
      c.underLease(runId, fence, () => {
        interruptOpenCommands.run(at, runId);
        interruptOpen.run(at, JSON.stringify({ message: reason }), runId);
        setStatus.run({ id: runId, status: 'running', at, error: null });
        crashPoint('in-transaction');
        event(runId, at, 'resumed', actor, detail ?? null);
      });
      crashPoint('journal-write');
    },
    endRun(runId, fence, status, actor, at, error, detail) {
      c.underLease(runId, fence, () => {
        if (status === 'interrupted') {
          interruptOpenCommands.run(at, runId);
          interruptOpen.run(at, JSON.stringify({ message: error?.message ?? 'interrupted' }), runId);
        }
        setStatus.run({ id: runId, status, at, error: errorJson(error) });
        // A run that is over (or interrupted) holds no clusters and no lease any more: in the same step, so
        // no other driver can act on it between its end and its release.
        q.release.run(runId, fence);
        q.unclaim.run(runId);
        crashPoint('in-transaction');
        event(runId, at, status, actor, detail ?? null);
      });
      crashPoint('journal-write');
    },
  };
}

function runParams(run: NewRun) {
  return {
    id: run.id,
    kind: run.kind,
    topology: run.topology,
    mode: run.mode,
    configJson: JSON.stringify(run.config),
    configHash: run.configHash,
    configPath: run.configPath,
    createdAt: run.createdAt,
    machineVersion: run.machineVersion,
    targetRun: run.targetRun ?? null,
    simWorld: run.simWorld ?? null,
  };
}
