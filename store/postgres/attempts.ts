// Step attempts and the machine transitions that open and close them. A transition is one statement (an
// implicit transaction): the run's row is updated first, only under its lease (`saved`), and every other
// part (snapshot parts, attempts closed, the attempt opened) depends on it. An UPDATE re-checks its
// condition against a takeover that committed while it waited for the row.
import type { AttemptClose, AttemptRecord, Fence } from '../contract.js';
import { crashPoint } from '../crash-points.js';
import { type AttemptRow, toAttempt } from '../rows.js';
import type { SnapshotWrite } from '../snapshot-parts.js';
import { errorJson, type RunContext, type RunOps } from './context.js';
import { fencedOut } from './fence.js';
import { partParams, partsCte } from './snapshots.js';

type Ops = RunOps<'commitTransition' | 'openAttempt' | 'closeAttempt' | 'listAttempts'>;

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

function closeParams(closes: readonly AttemptClose[]): unknown[] {
  return [
    closes.map((a) => a.step),
    closes.map((a) => a.cluster),
    closes.map((a) => a.outcome),
    closes.map((a) => a.at),
    closes.map((a) => (a.error ? JSON.stringify(a.error) : null)),
    closes.map((a) => a.output ?? null),
  ];
}

export function attemptOps(c: RunContext): Ops {
  const { pool, s } = c;
  return {
    async commitTransition(runId, fence, snapshot, closes, at) {
      const { rows } = await pool.query<{ held: number }>(
        `WITH saved AS (UPDATE ${s}.runs SET snapshot_json = COALESCE($1, snapshot_json), updated_at = $2 WHERE id = $3 AND lease_token = $16 RETURNING id),
         ${closesCte(s)},
         ${partsCte(s, 12)}
         SELECT (SELECT count(*) FROM saved) AS held, (SELECT count(*) FROM closed) AS closed, (SELECT count(*) FROM notified) AS notified`,
        [snapshot.root ?? null, at, runId, ...closeParams(closes), c.channel, closes.length > 0, ...partParams(snapshot), fence],
      );
      if (Number(rows[0]?.held) !== 1) throw await fencedOut(pool, s, runId);
      if (closes.length > 0) crashPoint('journal-write');
    },

    openAttempt: (runId, fence, snapshot, slot, at, closes = []) => openAttempt(c, runId, fence, snapshot, slot, at, closes),

    async closeAttempt(runId, fence, attemptId, outcome, error, at) {
      await c.underLease(runId, fence, async (db) => {
        const { rows } = await db.query<{ run_id: string }>(
          `UPDATE ${s}.step_attempts SET outcome = $1, ended_at = $2, error = $3 WHERE id = $4 AND outcome = 'running' RETURNING run_id`,
          [outcome, at, errorJson(error), attemptId],
        );
        await c.notify(
          db,
          rows.map((r) => r.run_id),
        );
      });
      crashPoint('journal-write');
    },

    async listAttempts(runId) {
      const { rows } = await pool.query<AttemptRow>(`SELECT * FROM ${s}.step_attempts WHERE run_id = $1 ORDER BY started_at, id`, [runId]);
      return rows.map(toAttempt);
    },
  };
}

// The snapshot as it stands (when given), the attempts closed since the last write, and a new attempt row.
async function openAttempt(
  c: RunContext,
  runId: string,
  fence: Fence,
  snapshot: SnapshotWrite | null,
  slot: { step: string; cluster: string; context: string | null },
  at: number,
  closes: readonly AttemptClose[],
): Promise<AttemptRecord> {
  const s = c.s;
  // Its first command follows: not once this process has lost the session that holds the run's lock.
  c.locks.check();
  const { rows } = await c.pool.query<AttemptRow>(
    `WITH saved AS (UPDATE ${s}.runs SET snapshot_json = CASE WHEN $19::boolean THEN COALESCE($1, snapshot_json) ELSE snapshot_json END,
                      updated_at = CASE WHEN $19::boolean THEN $2 ELSE updated_at END
                    WHERE id = $3 AND lease_token = $20 RETURNING id),
     ${closesCte(s)},
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
      c.channel,
      true,
      slot.step,
      slot.cluster,
      slot.context,
      ...partParams(snapshot),
      snapshot !== null,
      fence,
    ],
  );
  if (!rows[0]) throw await fencedOut(c.pool, s, runId);
  crashPoint('journal-write');
  return toAttempt(rows[0]);
}
