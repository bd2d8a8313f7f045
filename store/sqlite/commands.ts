// The tool commands a run makes, journaled in groups: a command starts only once its row is in.
import type { CommandSpawn } from '../contract.js';
import { crashPoint } from '../crash-points.js';
import { toCommand } from '../rows.js';
import type { RunContext, RunOps } from './context.js';

type Ops = RunOps<'journalCommands' | 'listCommands'>;

export function commandOps(c: RunContext): Ops {
  const { db, q } = c;
  const insertCommand = db.prepare('INSERT INTO commands (run_id, attempt_id, tool, argv_json, context, started_at) VALUES (?, ?, ?, ?, ?, ?)');
  const spawnCommand = db.prepare('UPDATE commands SET pid = ?, pgid = ?, proc_start = ? WHERE id = ?');
  const finishCommand = db.prepare('UPDATE commands SET ended_at = ?, exit_code = ?, duration_ms = ?, stdout_tail = ?, stderr_tail = ? WHERE id = ?');
  return {
    journalCommands(runId, fence, starts, finishes, spawns: readonly CommandSpawn[] = []) {
      if (starts.length === 0 && finishes.length === 0 && spawns.length === 0) return [];
      const ids = c.underLease(runId, fence, () => {
        const created = starts.map((s) => Number(insertCommand.run(s.runId, s.attemptId, s.tool, JSON.stringify(s.argv), s.context, s.at).lastInsertRowid));
        for (const p of spawns) spawnCommand.run(p.pid, p.pgid, p.procStart, p.id);
        for (const r of finishes) finishCommand.run(r.at, r.exitCode, r.durationMs, r.stdoutTail, r.stderrTail, r.id);
        crashPoint('in-transaction');
        return created;
      });
      crashPoint('journal-write');
      return ids;
    },
    listCommands(runId) {
      return q.listCommands.all(runId).map(toCommand);
    },
  };
}
