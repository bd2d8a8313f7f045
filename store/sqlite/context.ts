// What the parts of the SQLite run store share: the database, the statements more than one part runs, and
// the fenced transaction that every write changing a run is.
import type { ErrorInfo, Fence, RunStore } from '../contract.js';
import type { AttemptRow, CommandRow, EventRow, RunRow } from '../rows.js';
import { leaseFence } from './fence.js';
import type { Synchronous } from './guarded.js';
import type { Db } from './open-db.js';

// The operations one part of the store implements, synchronously (as better-sqlite3 code does).
export type RunOps<K extends keyof RunStore> = Pick<Synchronous<RunStore>, K>;

export type RunContext = ReturnType<typeof runContext>;

export const errorJson = (error: ErrorInfo | null | undefined): string | null => (error ? JSON.stringify(error) : null);

export function runContext(db: Db) {
  const q = {
    getRun: db.prepare<[string], RunRow>('SELECT * FROM runs WHERE id = ?'),
    insertEvent: db.prepare('INSERT INTO run_events (run_id, at, type, user, host, pid, detail, step, cluster) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)'),
    listEvents: db.prepare<[string], EventRow>(
      'SELECT id, run_id, at, type, user, host, pid, detail, step, cluster FROM run_events WHERE run_id = ? ORDER BY id',
    ),
    listAttempts: db.prepare<[string], AttemptRow>('SELECT * FROM step_attempts WHERE run_id = ? ORDER BY started_at, id'),
    listCommands: db.prepare<[string], CommandRow>('SELECT * FROM commands WHERE run_id = ? ORDER BY id'),
    insertObservation: db.prepare('INSERT OR IGNORE INTO observations (run_id, cluster, subject, present, owner, detail, at) VALUES (?, ?, ?, ?, ?, ?, ?)'),
    savePart: db.prepare('INSERT INTO run_snapshot_parts (run_id, part, json) VALUES (?, ?, ?) ON CONFLICT (run_id, part) DO UPDATE SET json = excluded.json'),
    listParts: db.prepare<[string], { part: string; json: string }>('SELECT part, json FROM run_snapshot_parts WHERE run_id = ? ORDER BY part'),
    setLease: db.prepare(
      'UPDATE runs SET lease_token = ?, lease_pid = ?, lease_host = ?, lease_user = ?, lease_heartbeat = ?, lease_proc_start = ? WHERE id = ?',
    ),
    release: db.prepare(
      'UPDATE runs SET lease_token = NULL, lease_pid = NULL, lease_host = NULL, lease_user = NULL, lease_heartbeat = NULL, lease_proc_start = NULL WHERE id = ? AND lease_token = ?',
    ),
    claimOf: db.prepare<[string], { run_id: string }>('SELECT run_id FROM cluster_claims WHERE key = ?'),
    claim: db.prepare(
      'INSERT INTO cluster_claims (key, run_id, at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET run_id = excluded.run_id, at = excluded.at',
    ),
    unclaim: db.prepare('DELETE FROM cluster_claims WHERE run_id = ?'),
  };
  const fenced = leaseFence(db);
  return {
    db,
    q,
    // One IMMEDIATE transaction that writes only while `fence` holds the run.
    underLease: <T>(runId: string, fence: Fence, write: () => T): T =>
      db
        .transaction(() => {
          fenced(runId, fence);
          return write();
        })
        .immediate(),
  };
}
