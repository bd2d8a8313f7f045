// What the parts of the PostgreSQL run store share: the pool, the schema, the session holding this process's
// advisory locks, the change channel, and the fenced transaction a write that changes a run runs in.
import type pg from 'pg';
import type { Actor, ErrorInfo, Fence, RunStore } from '../contract.js';
import type { PostgresLocation } from '../location.js';
import { type RunRow, toRun } from '../rows.js';
import { LockSession, type Queryable, transaction } from './connection.js';
import { fencedOut } from './fence.js';

// The operations one part of the store implements.
export type RunOps<K extends keyof RunStore> = Pick<RunStore, K>;

export type RunContext = ReturnType<typeof runContext>;

export const errorJson = (error: ErrorInfo | null | undefined): string | null => (error ? JSON.stringify(error) : null);

// The channel a store notifies when a run changes (status --watch, logs --follow listen on it).
export function changeChannel(schema: string): string {
  return `mesh_run_${schema}`;
}

export function runContext(pool: pg.Pool, location: PostgresLocation) {
  // The quoted schema, as every statement names its tables.
  const s = `"${location.schema}"`;
  const channel = changeChannel(location.schema);
  return {
    pool,
    location,
    s,
    channel,
    locks: new LockSession(location),
    // The lock names each run of this process holds, to let go of them with its lease.
    heldFor: new Map<string, string[]>(),

    notify: (db: Queryable, runIds: Iterable<string>) => Promise.all([...new Set(runIds)].map((id) => db.query('SELECT pg_notify($1, $2)', [channel, id]))),

    readRun: async (db: Queryable, id: string, forUpdate = false) => {
      const { rows } = await db.query<RunRow>(`SELECT * FROM ${s}.runs WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`, [id]);
      return rows[0] ? toRun(rows[0]) : undefined;
    },

    insertEvent: (db: Queryable, runId: string, at: number, type: string, actor: Actor, detail: string | null, where?: { step: string; cluster: string }) =>
      db.query(
        `INSERT INTO ${s}.run_events (run_id, at, type, actor_user, actor_host, actor_pid, detail, step, cluster) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        [runId, at, type, actor.user, actor.host, actor.pid, detail, where?.step ?? null, where?.cluster ?? null],
      ),

    // One transaction that first locks the run's row and checks `fence` still holds it: a takeover committed
    // before is seen (nothing is written), one that comes after waits for this transaction to end.
    underLease: <T>(runId: string, fence: Fence, fn: (db: pg.PoolClient) => Promise<T>): Promise<T> =>
      transaction(pool, async (db) => {
        const { rows } = await db.query<{ lease_token: string | null }>(`SELECT lease_token FROM ${s}.runs WHERE id = $1 FOR NO KEY UPDATE`, [runId]);
        if (rows[0]?.lease_token !== fence) throw await fencedOut(db, s, runId);
        return fn(db);
      }),
  };
}
