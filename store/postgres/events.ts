// What happened to a run (events: who started, resumed, ended it; what a step reported) and what it saw
// before it changed anything (observations, which uninstall restores).
import { crashPoint } from '../crash-points.js';
import { type EventRow, type ObservationRow, toEvent, toObservation } from '../rows.js';
import { type Queryable, transaction } from './connection.js';
import type { RunContext, RunOps } from './context.js';

type Ops = RunOps<'addEvent' | 'listEvents' | 'recordObservations' | 'listObservations'>;

// An event row's columns under the names rows.ts reads.
export const EVENT_COLUMNS = 'id, run_id, at, type, actor_user AS "user", actor_host AS host, actor_pid AS pid, detail, step, cluster';

export function eventOps(c: RunContext): Ops {
  const { pool, s } = c;
  return {
    async addEvent(runId, fence, type, actor, at, detail, where) {
      const write = async (db: Queryable) => {
        await c.insertEvent(db, runId, at, type, actor, detail ?? null, where);
        await c.notify(db, [runId]);
      };
      if (fence === null) await transaction(pool, write);
      else await c.underLease(runId, fence, write);
      crashPoint('journal-write');
    },

    async listEvents(runId) {
      const { rows } = await pool.query<EventRow>(`SELECT ${EVENT_COLUMNS} FROM ${s}.run_events WHERE run_id = $1 ORDER BY id`, [runId]);
      return rows.map(toEvent);
    },

    async recordObservations(runId, fence, observations) {
      if (observations.length === 0) return;
      await c.underLease(runId, fence, async (db) => {
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
  };
}
