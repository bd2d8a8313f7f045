// The machine snapshot of a run: its root on the run's row, each child's snapshot a part of its own, so a
// transition writes only the parts that changed.
import type { RunRow } from '../rows.js';
import { assembleSnapshot, hasPartRefs, type SnapshotWrite } from '../snapshot-parts.js';
import type { RunContext } from './context.js';

export function snapshotWriter(c: RunContext) {
  const saveRoot = c.db.prepare('UPDATE runs SET snapshot_json = COALESCE(?, snapshot_json), updated_at = ? WHERE id = ?');
  const dropPart = c.db.prepare('DELETE FROM run_snapshot_parts WHERE run_id = ? AND part = ?');
  const dropParts = c.db.prepare('DELETE FROM run_snapshot_parts WHERE run_id = ?');
  // Inside the caller's fenced transaction.
  return (runId: string, snapshot: SnapshotWrite, at: number) => {
    saveRoot.run(snapshot.root ?? null, at, runId);
    if (snapshot.full) dropParts.run(runId);
    for (const id of snapshot.dropped) dropPart.run(runId, id);
    for (const [id, json] of snapshot.parts) c.q.savePart.run(runId, id, json);
  };
}

// The row with its snapshot's parts put back.
export function wholeRun(c: RunContext, row: RunRow): RunRow {
  return hasPartRefs(row.snapshot_json)
    ? { ...row, snapshot_json: assembleSnapshot(row.snapshot_json, new Map(c.q.listParts.all(row.id).map((p) => [p.part, p.json]))) }
    : row;
}
