// Step attempts and the machine transitions that open and close them: each transition is one fenced
// transaction, its snapshot and the attempts it closed together.
import type { AttemptClose, AttemptRecord } from '../contract.js';
import { crashPoint } from '../crash-points.js';
import { type AttemptRow, toAttempt } from '../rows.js';
import { errorJson, type RunContext, type RunOps } from './context.js';
import { snapshotWriter } from './snapshots.js';

type Ops = RunOps<'commitTransition' | 'openAttempt' | 'closeAttempt' | 'listAttempts'>;

export function attemptOps(c: RunContext): Ops {
  const { db, q } = c;
  const saveSnapshot = snapshotWriter(c);
  const closeOpenAttempt = db.prepare(`UPDATE step_attempts SET outcome = ?, ended_at = ?, error = ?, output = ?
      WHERE id = (SELECT id FROM step_attempts WHERE run_id = ? AND step = ? AND cluster = ? AND outcome = 'running' ORDER BY attempt DESC LIMIT 1)`);
  const nextAttempt = db.prepare<[string, string, string], { n: number }>(
    'SELECT COALESCE(MAX(attempt), 0) + 1 AS n FROM step_attempts WHERE run_id = ? AND step = ? AND cluster = ?',
  );
  const insertAttempt = db.prepare(
    `INSERT INTO step_attempts (run_id, step, cluster, context, attempt, started_at, outcome) VALUES (?, ?, ?, ?, ?, ?, 'running')`,
  );
  const getAttempt = db.prepare<[number | bigint], AttemptRow>('SELECT * FROM step_attempts WHERE id = ?');
  const closeAttempt = db.prepare(`UPDATE step_attempts SET outcome = ?, ended_at = ?, error = ? WHERE id = ? AND outcome = 'running'`);

  const close = (runId: string, closes: readonly AttemptClose[]) => {
    for (const a of closes) closeOpenAttempt.run(a.outcome, a.at, errorJson(a.error), a.output ?? null, runId, a.step, a.cluster);
  };
  const open = (runId: string, slot: { step: string; cluster: string; context: string | null }, at: number): AttemptRecord => {
    const { n } = nextAttempt.get(runId, slot.step, slot.cluster) as { n: number };
    const info = insertAttempt.run(runId, slot.step, slot.cluster, slot.context, n, at);
    return toAttempt(getAttempt.get(info.lastInsertRowid) as AttemptRow);
  };

  return {
    commitTransition(runId, fence, snapshot, closes, at) {
      c.underLease(runId, fence, () => {
        saveSnapshot(runId, snapshot, at);
        if (closes.length > 0) crashPoint('in-transaction');
        close(runId, closes);
      });
      if (closes.length > 0) crashPoint('journal-write');
    },
    openAttempt(runId, fence, snapshot, slot, at, closes = []) {
      const attempt = c.underLease(runId, fence, () => {
        if (snapshot !== null) saveSnapshot(runId, snapshot, at);
        close(runId, closes);
        const created = open(runId, slot, at);
        crashPoint('in-transaction');
        return created;
      });
      crashPoint('journal-write');
      return attempt;
    },
    closeAttempt(runId, fence, attemptId, outcome, error, at) {
      c.underLease(runId, fence, () => closeAttempt.run(outcome, at, errorJson(error), attemptId));
      crashPoint('journal-write');
    },
    listAttempts(runId) {
      return q.listAttempts.all(runId).map(toAttempt);
    },
  };
}
