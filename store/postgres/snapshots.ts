// The machine snapshot of a run: its root on the run's row, each child's snapshot a part of its own, so a
// transition writes only the parts that changed.
import type { RunRow } from '../rows.js';
import { assembleSnapshot, hasPartRefs, type SnapshotWrite } from '../snapshot-parts.js';
import type { Queryable } from './connection.js';
import type { RunContext } from './context.js';

// The parts a snapshot write saves and drops, after the statement's other parameters ($first on); only
// when `saved` updated the run under its lease.
export const partsCte = (s: string, first: number) => `saved_parts AS (
           INSERT INTO ${s}.run_snapshot_parts (run_id, part, json)
           SELECT $3, p.part, p.json FROM unnest($${first}::text[], $${first + 1}::text[]) AS p (part, json) WHERE EXISTS (SELECT 1 FROM saved)
           ON CONFLICT (run_id, part) DO UPDATE SET json = EXCLUDED.json RETURNING part),
         dropped_parts AS (
           DELETE FROM ${s}.run_snapshot_parts WHERE run_id = $3 AND EXISTS (SELECT 1 FROM saved)
             AND (part = ANY($${first + 2}::text[]) OR ($${first + 3}::boolean AND NOT (part = ANY($${first}::text[]))))
           RETURNING part)`;

export function partParams(snapshot: SnapshotWrite | null): unknown[] {
  return [snapshot?.parts.map(([id]) => id) ?? [], snapshot?.parts.map(([, json]) => json) ?? [], snapshot?.dropped ?? [], snapshot?.full ?? false];
}

// The row with its snapshot's parts put back.
export async function wholeRun(c: RunContext, db: Queryable, row: RunRow): Promise<RunRow> {
  if (!hasPartRefs(row.snapshot_json)) return row;
  const { rows } = await db.query<{ part: string; json: string }>(`SELECT part, json FROM ${c.s}.run_snapshot_parts WHERE run_id = $1`, [row.id]);
  return { ...row, snapshot_json: assembleSnapshot(row.snapshot_json, new Map(rows.map((p) => [p.part, p.json]))) };
}
