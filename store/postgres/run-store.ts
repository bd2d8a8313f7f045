// The RunStore contract on PostgreSQL: one transaction per operation on a small pool, group-committed command
// rows, and leases that hold across machines. A driver's lease and its claim on clusters are rows (who, where,
// heartbeat) plus session advisory locks on a dedicated connection: a holder that dies or loses the database
// frees its locks at once, and a lock this session could take means no live session holds it.
import pg from 'pg';
import type {
  Actor,
  AttemptClose,
  ClaimRequest,
  ClusterHolder,
  CommandSpawn,
  CreateResult,
  ErrorInfo,
  Fence,
  HistoryFilter,
  LeaseHolder,
  LeaseResult,
  NewRun,
  RunStore,
  WorldSeed,
} from '../contract.js';
import { crashPoint } from '../crash-points.js';
import { claimCounts, type Liveness, leaseRefused } from '../lease-rules.js';
import type { PostgresLocation } from '../location.js';
import {
  type AttemptRow,
  type CommandRow,
  type EventRow,
  type ObservationRow,
  type RunRow,
  toAttempt,
  toCommand,
  toEvent,
  toObservation,
  toRun,
  toStoredRun,
} from '../rows.js';
import { assembleSnapshot, hasPartRefs, type SnapshotWrite } from '../snapshot-parts.js';
import { asPgStoreError, clientConfig, LockSession, type Queryable, transaction } from './connection.js';
import { fencedOut } from './fence.js';

const EVENT_COLUMNS = 'id, run_id, at, type, actor_user AS "user", actor_host AS host, actor_pid AS pid, detail, step, cluster';

// The channel a store notifies when a run changes (status --watch, logs --follow listen on it).
export function changeChannel(schema: string): string {
  return `mesh_run_${schema}`;
}

// Closes the open attempt of each (step, cluster) given ($4..$9, in arrays) and notifies ($10) when $11;
// used with the run's id in $3, after a `saved` CTE that updated the run's row under its lease (nothing
// happens when that found the lease taken).
const closesCte = (s: string) => `closed AS (
           UPDATE ${s}.step_attempts a SET outcome = u.outcome, ended_at = u.at, error = u.error, output = u.output
           FROM unnest($4::text[], $5::text[], $6::text[], $7::bigint[], $8::text[], $9::text[]) AS u (step, cluster, outcome, at, error, output)
           WHERE a.id = (SELECT id FROM ${s}.step_attempts WHERE run_id = $3 AND step = u.step AND cluster = u.cluster AND outcome = 'running' ORDER BY attempt DESC LIMIT 1)
             AND EXISTS (SELECT 1 FROM saved)
           RETURNING a.id),
         notified AS (SELECT pg_notify($10, $3) WHERE $11::boolean AND EXISTS (SELECT 1 FROM saved))`;

// The parts a snapshot write saves and drops, after the statement's other parameters ($first on); only
// when `saved` updated the run under its lease.
const partsCte = (s: string, first: number) => `saved_parts AS (
           INSERT INTO ${s}.run_snapshot_parts (run_id, part, json)
           SELECT $3, p.part, p.json FROM unnest($${first}::text[], $${first + 1}::text[]) AS p (part, json) WHERE EXISTS (SELECT 1 FROM saved)
           ON CONFLICT (run_id, part) DO UPDATE SET json = EXCLUDED.json RETURNING part),
         dropped_parts AS (
           DELETE FROM ${s}.run_snapshot_parts WHERE run_id = $3 AND EXISTS (SELECT 1 FROM saved)
             AND (part = ANY($${first + 2}::text[]) OR ($${first + 3}::boolean AND NOT (part = ANY($${first}::text[]))))
           RETURNING part)`;

function partParams(snapshot: SnapshotWrite | null): unknown[] {
  return [snapshot?.parts.map(([id]) => id) ?? [], snapshot?.parts.map(([, json]) => json) ?? [], snapshot?.dropped ?? [], snapshot?.full ?? false];
}

function closeParams(closes: readonly AttemptClose[]): unknown[] {
  return [
    closes.map((c) => c.step),
    closes.map((c) => c.cluster),
    closes.map((c) => c.outcome),
    closes.map((c) => c.at),
    closes.map((c) => (c.error ? JSON.stringify(c.error) : null)),
    closes.map((c) => c.output ?? null),
  ];
}

export function runLockName(schema: string, runId: string): string {
  return `${schema}:run:${runId}`;
}

function claimLockName(schema: string, key: string): string {
  return `${schema}:claim:${key}`;
}

export interface PgRunStore extends RunStore {
  // Lets go of every lock this process holds (closing the store).
  closeLocks(): Promise<void>;
}

export function createPgRunStore(pool: pg.Pool, location: PostgresLocation): PgRunStore {
  const s = `"${location.schema}"`;
  const locks = new LockSession(location);
  // The lock names each run of this process holds, to let go of them with its lease.
  const heldFor = new Map<string, string[]>();
  const channel = changeChannel(location.schema);
  const CLOSES_CTE = closesCte(s);
  const errorJson = (error: ErrorInfo | null | undefined): string | null => (error ? JSON.stringify(error) : null);

  const notify = (db: Queryable, runIds: Iterable<string>) =>
    Promise.all([...new Set(runIds)].map((id) => db.query('SELECT pg_notify($1, $2)', [channel, id])));

  const getRun = async (db: Queryable, id: string, forUpdate = false) => {
    const { rows } = await db.query<RunRow>(`SELECT * FROM ${s}.runs WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`, [id]);
    return rows[0] ? toRun(rows[0]) : undefined;
  };

  // The row with its snapshot's parts put back.
  const whole = async (db: Queryable, row: RunRow): Promise<RunRow> => {
    if (!hasPartRefs(row.snapshot_json)) return row;
    const { rows } = await db.query<{ part: string; json: string }>(`SELECT part, json FROM ${s}.run_snapshot_parts WHERE run_id = $1`, [row.id]);
    return { ...row, snapshot_json: assembleSnapshot(row.snapshot_json, new Map(rows.map((p) => [p.part, p.json]))) };
  };

  const insertEvent = (
    db: Queryable,
    runId: string,
    at: number,
    type: string,
    actor: Actor,
    detail: string | null,
    where?: { step: string; cluster: string },
  ) =>
    db.query(
      `INSERT INTO ${s}.run_events (run_id, at, type, actor_user, actor_host, actor_pid, detail, step, cluster) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [runId, at, type, actor.user, actor.host, actor.pid, detail, where?.step ?? null, where?.cluster ?? null],
    );

  // One transaction that first locks the run's row and checks `fence` still holds it: a takeover committed
  // before is seen (nothing is written), one that comes after waits for this transaction to end.
  const underLease = <T>(runId: string, fence: Fence, fn: (db: pg.PoolClient) => Promise<T>): Promise<T> =>
    transaction(pool, async (db) => {
      const { rows } = await db.query<{ lease_token: string | null }>(`SELECT lease_token FROM ${s}.runs WHERE id = $1 FOR NO KEY UPDATE`, [runId]);
      if (rows[0]?.lease_token !== fence) throw await fencedOut(db, s, runId);
      return fn(db);
    });

  const setLease = (db: Queryable, runId: string, l: LeaseHolder) =>
    db.query(
      `UPDATE ${s}.runs SET lease_token = $1, lease_pid = $2, lease_host = $3, lease_user = $4, lease_heartbeat = $5, lease_proc_start = $6 WHERE id = $7`,
      [l.token, l.pid, l.host, l.user, l.heartbeat, l.procStart ?? null, runId],
    );

  // The live run (not `runId`) that holds one of `keys`; `live(key)` judges its holder.
  const heldElsewhere = async (db: Queryable, runId: string, keys: readonly string[], live: (key: string) => Liveness): Promise<ClusterHolder | undefined> => {
    for (const key of keys) {
      const { rows } = await db.query<{ run_id: string }>(`SELECT run_id FROM ${s}.cluster_claims WHERE key = $1`, [key]);
      const holder = rows[0]?.run_id;
      if (!holder || holder === runId) continue;
      const other = await getRun(db, holder);
      if (claimCounts(other, live(key))) return { runId: other.id, kind: other.kind, key, lease: other.lease };
    }
    return undefined;
  };

  // A holder known only by the session holding its lock (its lease row is not written yet): no heartbeat
  // recorded (0), no user known.
  const sessionHolder = async (name: string): Promise<LeaseHolder> => {
    const session = await LockSession.holderOf(pool, name);
    return { token: '', pid: session?.pid ?? 0, host: session?.host ?? 'another session', user: 'unknown', heartbeat: 0 };
  };

  // Who holds a run's lock: the lease row once the holder has written it (it takes the lock first, so a row
  // that still names an earlier, silent holder is waited on a little). A row whose heartbeat looks old but
  // that names the very process whose session holds the lock is that holder (paused, or its clock behind):
  // its real last heartbeat is shown.
  const runHolder = async (runId: string, lock: string, staleAfterMs: number): Promise<LeaseHolder> => {
    for (let tries = 0; tries < 30; tries++) {
      const lease = (await getRun(pool, runId))?.lease;
      if (lease && Date.now() - lease.heartbeat <= staleAfterMs) return lease;
      const session = await LockSession.holderOf(pool, lock);
      if (lease && session && session.pid === lease.pid && lease.host.startsWith(session.host)) return lease;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return sessionHolder(lock);
  };

  // Who holds a lock this session could not take: the run that claims the key, as recorded. A run being
  // created holds the lock a moment before its row commits: wait for the row a little.
  const claimHolder = async (key: string): Promise<ClusterHolder> => {
    for (let tries = 0; tries < 30; tries++) {
      const { rows } = await pool.query<{ run_id: string }>(`SELECT run_id FROM ${s}.cluster_claims WHERE key = $1`, [key]);
      const run = rows[0] ? await getRun(pool, rows[0].run_id) : undefined;
      if (run?.lease) return { runId: run.id, kind: run.kind, key, lease: run.lease };
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return { runId: '', kind: 'install', key, lease: await sessionHolder(claimLockName(location.schema, key)) };
  };

  // Takes the advisory locks of a run and its claim keys. A lock this session just took means no live session
  // held it: a holder recorded for it is gone, whatever its heartbeat says. One it already held (this
  // process) is judged by the rows, as on SQLite.
  const takeLocks = async (runId: string, keys: readonly string[]) => {
    const names = [runLockName(location.schema, runId), ...keys.map((k) => claimLockName(location.schema, k))];
    const { taken, refused } = await locks.take(names);
    const fresh = new Set(taken);
    return { names, taken, refused, fresh };
  };

  const judge = (fresh: Set<string>, name: string, now: number, staleAfterMs: number, isAlive: (h: LeaseHolder) => boolean): Liveness => ({
    now,
    staleAfterMs,
    isAlive: fresh.has(name) ? () => false : isAlive,
  });

  // Lets go of the advisory locks this process holds for a run (its lease row is cleared already).
  const letGo = async (runId: string) => {
    const names = heldFor.get(runId) ?? [];
    heldFor.delete(runId);
    await locks.release(names);
  };

  const remember = (runId: string, names: readonly string[]) => heldFor.set(runId, [...new Set([...(heldFor.get(runId) ?? []), ...names])]);

  const store: PgRunStore = {
    async createRun(run: NewRun, actor: Actor, claim: ClaimRequest, seed?: WorldSeed): Promise<CreateResult> {
      const { names, taken, refused, fresh } = await takeLocks(run.id, claim.keys);
      if (refused) return { created: false, busy: await claimHolder(refused.slice(`${location.schema}:claim:`.length)) };
      const result = await transaction(pool, async (db): Promise<CreateResult> => {
        const busy = await heldElsewhere(db, run.id, claim.keys, (key) =>
          judge(fresh, claimLockName(location.schema, key), claim.lease.heartbeat, claim.staleAfterMs, claim.isAlive),
        );
        if (busy) return { created: false, busy };
        if (seed?.world) {
          await db.query(
            `INSERT INTO ${s}.sim_worlds (id, settings_json) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET settings_json = excluded.settings_json, version = ${s}.sim_worlds.version + 1`,
            [seed.world.id, seed.world.settingsJson],
          );
        }
        for (const f of seed?.faults ?? []) {
          await db.query(`INSERT INTO ${s}.sim_faults (world, step, cluster, remaining, kind) VALUES ($1, $2, $3, $4, $5)`, [
            seed?.faultWorld,
            f.step,
            f.cluster,
            f.remaining,
            f.kind,
          ]);
        }
        if (seed && seed.faults.length > 0 && !seed.world) await db.query(`UPDATE ${s}.sim_worlds SET version = version + 1 WHERE id = $1`, [seed.faultWorld]);
        await db.query(
          `INSERT INTO ${s}.runs (id, kind, topology, mode, status, config_json, config_hash, config_path, created_at, updated_at, machine_version, target_run, sim_world)
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
        await insertEvent(db, run.id, run.createdAt, 'started', actor, null);
        for (const e of run.events ?? []) await insertEvent(db, run.id, run.createdAt, e.type, actor, e.detail);
        await setLease(db, run.id, claim.lease);
        for (const key of claim.keys) {
          await db.query(
            `INSERT INTO ${s}.cluster_claims (key, run_id, at) VALUES ($1, $2, $3) ON CONFLICT (key) DO UPDATE SET run_id = excluded.run_id, at = excluded.at`,
            [key, run.id, run.createdAt],
          );
        }
        await notify(db, [run.id]);
        return { created: true };
      });
      if (!result.created) {
        await locks.release(taken);
        return result;
      }
      remember(run.id, names);
      crashPoint('journal-write');
      return result;
    },

    async getRun(id) {
      const { rows } = await pool.query<RunRow>(`SELECT * FROM ${s}.runs WHERE id = $1`, [id]);
      return rows[0] ? toRun(await whole(pool, rows[0])) : undefined;
    },

    async findRunIds(prefix, limit) {
      const escaped = prefix.replace(/[\\%_]/g, (c) => `\\${c}`);
      const { rows } = await pool.query<{ id: string }>(
        `SELECT id FROM ${s}.runs WHERE id LIKE $1 ESCAPE '\\' ORDER BY created_at DESC, id COLLATE "C" DESC LIMIT $2`,
        [`${escaped}%`, limit],
      );
      return rows.map((r) => r.id);
    },

    async listRuns(limit) {
      const { rows } = await pool.query<RunRow>(`SELECT * FROM ${s}.runs ORDER BY created_at DESC, id COLLATE "C" DESC LIMIT $1`, [limit]);
      return rows.map(toRun);
    },

    async listRunsTargeting(runId) {
      const { rows } = await pool.query<RunRow>(`SELECT * FROM ${s}.runs WHERE target_run = $1 ORDER BY created_at, id COLLATE "C"`, [runId]);
      return rows.map(toRun);
    },

    async updateRunConfig(runId, fence, config, configHash) {
      await underLease(runId, fence, (db) =>
        db.query(`UPDATE ${s}.runs SET config_json = $1, config_hash = $2 WHERE id = $3`, [JSON.stringify(config), configHash, runId]),
      );
      crashPoint('journal-write');
    },

    // One statement each (an implicit transaction): the snapshot, the attempts closed, the new attempt. The
    // run's row is updated first, only under its lease (`saved`); every other part depends on it. An UPDATE
    // re-checks its condition against a takeover that committed while it waited for the row.
    async commitTransition(runId, fence, snapshot, closes, at) {
      const { rows } = await pool.query<{ held: number }>(
        `WITH saved AS (UPDATE ${s}.runs SET snapshot_json = COALESCE($1, snapshot_json), updated_at = $2 WHERE id = $3 AND lease_token = $16 RETURNING id),
         ${CLOSES_CTE},
         ${partsCte(s, 12)}
         SELECT (SELECT count(*) FROM saved) AS held, (SELECT count(*) FROM closed) AS closed, (SELECT count(*) FROM notified) AS notified`,
        [snapshot.root ?? null, at, runId, ...closeParams(closes), channel, closes.length > 0, ...partParams(snapshot), fence],
      );
      if (Number(rows[0]?.held) !== 1) throw await fencedOut(pool, s, runId);
      if (closes.length > 0) crashPoint('journal-write');
    },

    async openAttempt(runId, fence, snapshot, slot, at, closes = []) {
      // Its first command follows: not once this process has lost the session that holds the run's lock.
      locks.check();
      const { rows } = await pool.query<AttemptRow>(
        `WITH saved AS (UPDATE ${s}.runs SET snapshot_json = CASE WHEN $19::boolean THEN COALESCE($1, snapshot_json) ELSE snapshot_json END,
                          updated_at = CASE WHEN $19::boolean THEN $2 ELSE updated_at END
                        WHERE id = $3 AND lease_token = $20 RETURNING id),
         ${CLOSES_CTE},
         ${partsCte(s, 15)},
         opened AS (INSERT INTO ${s}.step_attempts (run_id, step, cluster, context, attempt, started_at, outcome)
                    SELECT $3, $12, $13, $14, (SELECT COALESCE(MAX(attempt), 0) + 1 FROM ${s}.step_attempts WHERE run_id = $3 AND step = $12 AND cluster = $13), $2, 'running'
                    WHERE EXISTS (SELECT 1 FROM saved)
                    RETURNING *)
         SELECT opened.*, (SELECT count(*) FROM closed) AS closed_count, (SELECT count(*) FROM notified) AS notified_count FROM opened`,
        [
          snapshot?.root ?? null,
          at,
          runId,
          ...closeParams(closes),
          channel,
          true,
          slot.step,
          slot.cluster,
          slot.context,
          ...partParams(snapshot),
          snapshot !== null,
          fence,
        ],
      );
      if (!rows[0]) throw await fencedOut(pool, s, runId);
      crashPoint('journal-write');
      return toAttempt(rows[0]);
    },

    async closeAttempt(runId, fence, attemptId, outcome, error, at) {
      await underLease(runId, fence, async (db) => {
        const { rows } = await db.query<{ run_id: string }>(
          `UPDATE ${s}.step_attempts SET outcome = $1, ended_at = $2, error = $3 WHERE id = $4 AND outcome = 'running' RETURNING run_id`,
          [outcome, at, errorJson(error), attemptId],
        );
        await notify(
          db,
          rows.map((r) => r.run_id),
        );
      });
      crashPoint('journal-write');
    },

    async beginResume(runId, fence, reason, actor, at, detail) {
      await underLease(runId, fence, async (db) => {
        await db.query(`UPDATE ${s}.commands SET ended_at = $1 WHERE run_id = $2 AND ended_at IS NULL`, [at, runId]);
        await db.query(`UPDATE ${s}.step_attempts SET outcome = 'interrupted', ended_at = $1, error = $2 WHERE run_id = $3 AND outcome = 'running'`, [
          at,
          JSON.stringify({ message: reason }),
          runId,
        ]);
        await db.query(`UPDATE ${s}.runs SET status = 'running', updated_at = $1, finished_at = NULL, error_json = NULL WHERE id = $2`, [at, runId]);
        crashPoint('in-transaction');
        await insertEvent(db, runId, at, 'resumed', actor, detail ?? null);
        await notify(db, [runId]);
      });
      crashPoint('journal-write');
    },

    async endRun(runId, fence, status, actor, at, error, detail) {
      await underLease(runId, fence, async (db) => {
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
        await insertEvent(db, runId, at, status, actor, detail ?? null);
        await notify(db, [runId]);
      });
      await letGo(runId);
      crashPoint('journal-write');
    },

    async listAttempts(runId) {
      const { rows } = await pool.query<AttemptRow>(`SELECT * FROM ${s}.step_attempts WHERE run_id = $1 ORDER BY started_at, id`, [runId]);
      return rows.map(toAttempt);
    },

    // One statement for the whole group: new rows (their ids come back in the order given), processes
    // started, results. A spawn and a result of the same command in one group land as one update.
    // The run's row is read FOR SHARE under its lease first (`fence`): a takeover waits for this statement,
    // or this statement, having waited for a takeover, finds the lease taken and writes nothing.
    async journalCommands(runId, fence, starts, finishes, spawns: readonly CommandSpawn[] = []) {
      if (starts.length === 0 && finishes.length === 0 && spawns.length === 0) return [];
      // New rows are commands about to start: not once the session holding the run's lock is gone.
      if (starts.length > 0) locks.check();
      const spawned = new Map(spawns.map((p) => [p.id, p]));
      const done = finishes.map((f) => ({ ...f, spawn: spawned.get(f.id) }));
      for (const f of finishes) spawned.delete(f.id);
      const alone = [...spawned.values()];
      const { rows } = await pool.query<{ ids: number[]; held: number }>(
        `WITH fence AS MATERIALIZED (SELECT id FROM ${s}.runs WHERE id = $21 AND lease_token = $22 FOR SHARE),
         started AS (
           INSERT INTO ${s}.commands (run_id, attempt_id, tool, argv_json, context, started_at)
           SELECT u.run_id, u.attempt_id, u.tool, u.argv, u.context, u.at
           FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::bigint[]) WITH ORDINALITY AS u (run_id, attempt_id, tool, argv, context, at, n)
           WHERE EXISTS (SELECT 1 FROM fence)
           ORDER BY u.n
           RETURNING id, run_id),
         spawned AS (
           UPDATE ${s}.commands c SET pid = u.pid, pgid = u.pgid, proc_start = u.proc_start
           FROM unnest($7::bigint[], $8::int[], $9::int[], $10::text[]) AS u (id, pid, pgid, proc_start) WHERE c.id = u.id AND EXISTS (SELECT 1 FROM fence)),
         finished AS (
           UPDATE ${s}.commands c SET ended_at = u.at, exit_code = u.code, duration_ms = u.duration, stdout_tail = u.out, stderr_tail = u.err,
             pid = COALESCE(u.pid, c.pid), pgid = COALESCE(u.pgid, c.pgid), proc_start = COALESCE(u.proc_start, c.proc_start)
           FROM unnest($11::bigint[], $12::bigint[], $13::int[], $14::bigint[], $15::text[], $16::text[], $17::int[], $18::int[], $19::text[])
             AS u (id, at, code, duration, out, err, pid, pgid, proc_start)
           WHERE c.id = u.id AND EXISTS (SELECT 1 FROM fence)
           RETURNING c.run_id),
         notified AS (SELECT pg_notify($20, r.run_id) FROM (SELECT run_id FROM started UNION SELECT run_id FROM finished) AS r)
         SELECT ARRAY(SELECT id FROM started ORDER BY id) AS ids, (SELECT count(*) FROM fence) AS held, (SELECT count(*) FROM notified) AS notified`,
        [
          starts.map((c) => c.runId),
          starts.map((c) => c.attemptId),
          starts.map((c) => c.tool),
          starts.map((c) => JSON.stringify(c.argv)),
          starts.map((c) => c.context),
          starts.map((c) => c.at),
          alone.map((p) => p.id),
          alone.map((p) => p.pid),
          alone.map((p) => p.pgid),
          alone.map((p) => p.procStart),
          done.map((f) => f.id),
          done.map((f) => f.at),
          done.map((f) => f.exitCode),
          done.map((f) => f.durationMs),
          done.map((f) => f.stdoutTail),
          done.map((f) => f.stderrTail),
          done.map((f) => f.spawn?.pid ?? null),
          done.map((f) => f.spawn?.pgid ?? null),
          done.map((f) => f.spawn?.procStart ?? null),
          channel,
          runId,
          fence,
        ],
      );
      if (Number(rows[0]?.held) !== 1) throw await fencedOut(pool, s, runId);
      crashPoint('journal-write');
      return (rows[0]?.ids ?? []).map(Number);
    },

    async listCommands(runId) {
      const { rows } = await pool.query<CommandRow>(`SELECT * FROM ${s}.commands WHERE run_id = $1 ORDER BY id`, [runId]);
      return rows.map(toCommand);
    },

    async addEvent(runId, fence, type, actor, at, detail, where) {
      const write = async (db: Queryable) => {
        await insertEvent(db, runId, at, type, actor, detail ?? null, where);
        await notify(db, [runId]);
      };
      if (fence === null) await transaction(pool, write);
      else await underLease(runId, fence, write);
      crashPoint('journal-write');
    },

    async listEvents(runId) {
      const { rows } = await pool.query<EventRow>(`SELECT ${EVENT_COLUMNS} FROM ${s}.run_events WHERE run_id = $1 ORDER BY id`, [runId]);
      return rows.map(toEvent);
    },

    async recordObservations(runId, fence, observations) {
      if (observations.length === 0) return;
      await underLease(runId, fence, async (db) => {
        for (const o of observations) {
          await db.query(
            `INSERT INTO ${s}.observations (run_id, cluster, subject, present, owner, detail, at) VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (run_id, cluster, subject) DO NOTHING`,
            [o.runId, o.cluster, o.subject, o.present, o.owner, o.detail ? JSON.stringify(o.detail) : null, o.at],
          );
        }
      });
      crashPoint('journal-write');
    },

    async listObservations(runIds) {
      if (runIds.length === 0) return [];
      const { rows } = await pool.query<ObservationRow>(
        `SELECT run_id, cluster, subject, present, owner, detail, at FROM ${s}.observations WHERE run_id = ANY($1::text[]) ORDER BY at, id`,
        [runIds],
      );
      return rows.map(toObservation);
    },

    async queryAttempts(filter: HistoryFilter) {
      const { where, params } = conditions(filter, {
        runId: (p) => `run_id = ${p}`,
        cluster: (p) => `cluster = ${p}`,
        step: (p) => `step = ${p}`,
        outcome: (p) => `outcome = ${p}`,
        since: (p) => `started_at >= ${p}`,
        until: (p) => `started_at < ${p}`,
        kind: (p) => `run_id IN (SELECT id FROM ${s}.runs WHERE kind = ${p})`,
      });
      const { rows } = await pool.query<AttemptRow>(`SELECT * FROM ${s}.step_attempts ${where} ORDER BY started_at DESC, id DESC LIMIT $${params.length + 1}`, [
        ...params,
        filter.limit,
      ]);
      return rows.map(toAttempt);
    },

    async queryEvents(filter) {
      const { where, params } = conditions(filter, {
        runId: (p) => `run_id = ${p}`,
        since: (p) => `at >= ${p}`,
        until: (p) => `at < ${p}`,
        kind: (p) => `run_id IN (SELECT id FROM ${s}.runs WHERE kind = ${p})`,
      });
      const { rows } = await pool.query<EventRow>(
        `SELECT ${EVENT_COLUMNS} FROM ${s}.run_events ${where} ORDER BY at DESC, id DESC LIMIT $${params.length + 1}`,
        [...params, filter.limit],
      );
      return rows.map(toEvent);
    },

    async acquireLease(runId, candidate, staleAfterMs, isAlive, keys = []): Promise<LeaseResult> {
      const { names, taken, refused, fresh } = await takeLocks(runId, keys);
      if (refused) {
        if (refused === runLockName(location.schema, runId)) return { acquired: false, holder: await runHolder(runId, refused, staleAfterMs) };
        return { acquired: false, busy: await claimHolder(refused.slice(`${location.schema}:claim:`.length)) };
      }
      const result = await transaction(pool, async (db): Promise<LeaseResult> => {
        const run = await getRun(db, runId, true);
        if (!run) throw new Error(`run ${runId} vanished while taking its lease`);
        const current = run.lease;
        const own = judge(fresh, runLockName(location.schema, runId), candidate.heartbeat, staleAfterMs, isAlive);
        if (current && leaseRefused(current, candidate, own)) return { acquired: false, holder: current };
        const busy = await heldElsewhere(db, runId, keys, (key) =>
          judge(fresh, claimLockName(location.schema, key), candidate.heartbeat, staleAfterMs, isAlive),
        );
        if (busy) return { acquired: false, busy };
        for (const key of keys) {
          await db.query(
            `INSERT INTO ${s}.cluster_claims (key, run_id, at) VALUES ($1, $2, $3) ON CONFLICT (key) DO UPDATE SET run_id = excluded.run_id, at = excluded.at`,
            [key, runId, candidate.heartbeat],
          );
        }
        await setLease(db, runId, candidate);
        await notify(db, [runId]);
        return current !== null && current.token !== candidate.token ? { acquired: true, tookOverFrom: current } : { acquired: true };
      });
      if (!result.acquired) {
        await locks.release(taken);
        return result;
      }
      remember(runId, names);
      return result;
    },

    async heartbeat(runId, token, at) {
      // The locks went with a lost session: this driver no longer holds the run, whatever the row says.
      locks.check();
      const { rowCount } = await pool.query(`UPDATE ${s}.runs SET lease_heartbeat = $1 WHERE id = $2 AND lease_token = $3`, [at, runId, token]);
      return rowCount === 1;
    },

    async releaseLease(runId, token) {
      await transaction(pool, async (db) => {
        const { rowCount } = await db.query(
          `UPDATE ${s}.runs SET lease_token = NULL, lease_pid = NULL, lease_host = NULL, lease_user = NULL, lease_heartbeat = NULL, lease_proc_start = NULL
           WHERE id = $1 AND lease_token = $2`,
          [runId, token],
        );
        if (rowCount) await db.query(`DELETE FROM ${s}.cluster_claims WHERE run_id = $1`, [runId]);
      });
      await letGo(runId);
    },

    async watchLease(runId, onLost) {
      return locks.onLost((error) => {
        if (heldFor.has(runId)) onLost(error);
      });
    },

    async breakLease(runId, token, actor, at, detail) {
      // A holder whose session still holds the run's lock is connected: not gone, whatever its heartbeat.
      const name = runLockName(location.schema, runId);
      if (!locks.holds(name) && (await LockSession.heldAnywhere(pool, name))) return 'connected';
      return transaction(pool, async (db) => {
        const { rowCount } = await db.query(
          `UPDATE ${s}.runs SET lease_token = NULL, lease_pid = NULL, lease_host = NULL, lease_user = NULL, lease_heartbeat = NULL, lease_proc_start = NULL
           WHERE id = $1 AND lease_token = $2`,
          [runId, token],
        );
        if (!rowCount) return 'changed' as const;
        await db.query(`DELETE FROM ${s}.cluster_claims WHERE run_id = $1`, [runId]);
        await insertEvent(db, runId, at, 'unlocked', actor, detail);
        await notify(db, [runId]);
        return 'released' as const;
      });
    },

    async watchRun(runId, onChange) {
      // LISTEN needs a connection of its own, held while watching.
      const client = new pg.Client(clientConfig(location));
      client.on('error', () => undefined);
      await client.connect();
      client.on('notification', (message) => {
        if (message.payload === runId) onChange();
      });
      await client.query(`LISTEN ${channel}`);
      return async () => {
        await client.end().catch(() => undefined);
      };
    },

    async exportRun(runId) {
      const { rows } = await pool.query<RunRow>(`SELECT * FROM ${s}.runs WHERE id = $1`, [runId]);
      if (!rows[0]) return undefined;
      const [parts, attempts, commands, events, observations] = await Promise.all([
        pool.query<{ part: string; json: string }>(`SELECT part, json FROM ${s}.run_snapshot_parts WHERE run_id = $1 ORDER BY part COLLATE "C"`, [runId]),
        pool.query<AttemptRow>(`SELECT * FROM ${s}.step_attempts WHERE run_id = $1 ORDER BY started_at, id`, [runId]),
        pool.query<CommandRow>(`SELECT * FROM ${s}.commands WHERE run_id = $1 ORDER BY id`, [runId]),
        pool.query<EventRow>(`SELECT ${EVENT_COLUMNS} FROM ${s}.run_events WHERE run_id = $1 ORDER BY id`, [runId]),
        pool.query<ObservationRow>(`SELECT run_id, cluster, subject, present, owner, detail, at FROM ${s}.observations WHERE run_id = $1 ORDER BY id`, [runId]),
      ]);
      return {
        run: toStoredRun(rows[0]),
        parts: parts.rows.map((p) => ({ part: p.part, json: p.json })),
        attempts: attempts.rows.map(toAttempt),
        commands: commands.rows.map(toCommand),
        events: events.rows.map(toEvent),
        observations: observations.rows.map(toObservation),
      };
    },

    async importRun(data) {
      await transaction(pool, async (db) => {
        const r = data.run;
        await db.query(
          `INSERT INTO ${s}.runs (id, kind, topology, mode, status, config_json, config_hash, config_path, created_at, updated_at, finished_at, machine_version, snapshot_json, error_json, target_run, sim_world)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
          [
            r.id,
            r.kind,
            r.topology,
            r.mode,
            r.status,
            r.configJson,
            r.configHash,
            r.configPath,
            r.createdAt,
            r.updatedAt,
            r.finishedAt,
            r.machineVersion,
            r.snapshotJson,
            r.errorJson,
            r.targetRun,
            r.simWorld,
          ],
        );
        const attemptIds = new Map<number, number>();
        for (const a of data.attempts) {
          const { rows } = await db.query<{ id: number }>(
            `INSERT INTO ${s}.step_attempts (run_id, step, cluster, context, attempt, started_at, ended_at, outcome, error, output) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
            [r.id, a.step, a.cluster, a.context, a.attempt, a.startedAt, a.endedAt, a.outcome, a.error ? JSON.stringify(a.error) : null, a.output ?? null],
          );
          attemptIds.set(a.id, (rows[0] as { id: number }).id);
        }
        for (const c of data.commands) {
          await db.query(
            `INSERT INTO ${s}.commands (run_id, attempt_id, tool, argv_json, context, started_at, ended_at, exit_code, duration_ms, stdout_tail, stderr_tail, pid, pgid, proc_start)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
            [
              r.id,
              c.attemptId === null ? null : (attemptIds.get(c.attemptId) ?? null),
              c.tool,
              JSON.stringify(c.argv),
              c.context,
              c.startedAt,
              c.endedAt,
              c.exitCode,
              c.durationMs,
              c.stdoutTail,
              c.stderrTail,
              c.pid,
              c.pgid,
              c.procStart,
            ],
          );
        }
        if (data.parts.length > 0) {
          await db.query(
            `INSERT INTO ${s}.run_snapshot_parts (run_id, part, json) SELECT $1, p.part, p.json FROM unnest($2::text[], $3::text[]) AS p (part, json)`,
            [r.id, data.parts.map((p) => p.part), data.parts.map((p) => p.json)],
          );
        }
        for (const e of data.events) {
          await db.query(
            `INSERT INTO ${s}.run_events (run_id, at, type, actor_user, actor_host, actor_pid, detail, step, cluster) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
            [r.id, e.at, e.type, e.user, e.host, e.pid, e.detail, e.step, e.cluster],
          );
        }
        for (const o of data.observations) {
          await db.query(
            `INSERT INTO ${s}.observations (run_id, cluster, subject, present, owner, detail, at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (run_id, cluster, subject) DO NOTHING`,
            [r.id, o.cluster, o.subject, o.present, o.owner, o.detail ? JSON.stringify(o.detail) : null, o.at],
          );
        }
        await notify(db, [r.id]);
      });
    },

    closeLocks: () => locks.close(),
  };
  return guardedPg(store, location);
}

// WHERE clauses of a history query, one per filter field that is set, numbered $1, $2 ...
function conditions<F extends { limit: number }>(
  filter: F,
  clauses: Partial<Record<keyof F, (placeholder: string) => string>>,
): { where: string; params: Array<string | number> } {
  const params: Array<string | number> = [];
  const parts: string[] = [];
  for (const [field, clause] of Object.entries(clauses) as Array<[string, (p: string) => string]>) {
    const value = (filter as Record<string, unknown>)[field];
    if (value === undefined) continue;
    params.push(value as string | number);
    parts.push(clause(`$${params.length}`));
  }
  return { where: parts.length ? `WHERE ${parts.join(' AND ')}` : '', params };
}

// Every method's errors in mesh-run's words (a StoreError saying what happened and what to do).
export function guardedPg<T extends object>(target: T, location: PostgresLocation): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(target)) {
    if (typeof value !== 'function') continue;
    wrapped[name] = async (...args: unknown[]) => {
      try {
        return await (value as (...a: unknown[]) => Promise<unknown>)(...args);
      } catch (error) {
        throw asPgStoreError(error, location);
      }
    };
  }
  return wrapped as T;
}
