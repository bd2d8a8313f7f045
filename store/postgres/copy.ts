// mesh-run store copy: a run with everything recorded about it, as stored, out of one store and into another.

import type { RunExport } from '../contract.js';
import {
  type AttemptRow,
  type CommandRow,
  copiedCommandValues,
  type EventRow,
  type ObservationRow,
  type RunRow,
  storedRunValues,
  toAttempt,
  toCommand,
  toEvent,
  toObservation,
  toStoredRun,
} from '../rows.js';
import { type Queryable, transaction } from './connection.js';
import type { RunContext, RunOps } from './context.js';
import { EVENT_COLUMNS } from './events.js';

type Ops = RunOps<'exportRun' | 'importRun'>;

export function copyOps(c: RunContext): Ops {
  const { pool, s } = c;
  return {
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
        await insertRunRow(c, db, data);
        const attemptIds = await insertAttempts(c, db, data);
        await insertCommands(c, db, data, attemptIds);
        await insertRest(c, db, data);
        await c.notify(db, [data.run.id]);
      });
    },
  };
}

function insertRunRow(c: RunContext, db: Queryable, data: RunExport) {
  const r = data.run;
  return db.query(
    `INSERT INTO ${c.s}.runs (id, kind, topology, mode, status, config_json, config_hash, config_path, created_at, updated_at, finished_at, machine_version, snapshot_json, error_json, target_run, sim_world)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
    storedRunValues(r),
  );
}

// The run's attempts under new ids: exported id -> new id.
async function insertAttempts(c: RunContext, db: Queryable, data: RunExport): Promise<Map<number, number>> {
  const attemptIds = new Map<number, number>();
  for (const a of data.attempts) {
    const { rows } = await db.query<{ id: number }>(
      `INSERT INTO ${c.s}.step_attempts (run_id, step, cluster, context, attempt, started_at, ended_at, outcome, error, output) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
      [data.run.id, a.step, a.cluster, a.context, a.attempt, a.startedAt, a.endedAt, a.outcome, a.error ? JSON.stringify(a.error) : null, a.output ?? null],
    );
    attemptIds.set(a.id, (rows[0] as { id: number }).id);
  }
  return attemptIds;
}

async function insertCommands(c: RunContext, db: Queryable, data: RunExport, attemptIds: Map<number, number>): Promise<void> {
  for (const cmd of data.commands) {
    await db.query(
      `INSERT INTO ${c.s}.commands (run_id, attempt_id, tool, argv_json, context, started_at, ended_at, exit_code, duration_ms, stdout_tail, stderr_tail, pid, pgid, proc_start)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
      copiedCommandValues(data.run.id, cmd, attemptIds),
    );
  }
}

// Snapshot parts, events and observations.
async function insertRest(c: RunContext, db: Queryable, data: RunExport): Promise<void> {
  const { s } = c;
  const id = data.run.id;
  if (data.parts.length > 0) {
    await db.query(`INSERT INTO ${s}.run_snapshot_parts (run_id, part, json) SELECT $1, p.part, p.json FROM unnest($2::text[], $3::text[]) AS p (part, json)`, [
      id,
      data.parts.map((p) => p.part),
      data.parts.map((p) => p.json),
    ]);
  }
  for (const e of data.events) {
    await db.query(
      `INSERT INTO ${s}.run_events (run_id, at, type, actor_user, actor_host, actor_pid, detail, step, cluster) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [id, e.at, e.type, e.user, e.host, e.pid, e.detail, e.step, e.cluster],
    );
  }
  for (const o of data.observations) {
    await db.query(
      `INSERT INTO ${s}.observations (run_id, cluster, subject, present, owner, detail, at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (run_id, cluster, subject) DO NOTHING`,
      [id, o.cluster, o.subject, o.present, o.owner, o.detail ? JSON.stringify(o.detail) : null, o.at],
    );
  }
}
