// The tool commands a run makes, journaled in groups: a command starts only once its row is in.
import type { CommandFinish, CommandSpawn, Fence, NewCommand } from '../contract.js';
import { crashPoint } from '../crash-points.js';
import { type CommandRow, toCommand } from '../rows.js';
import type { RunContext, RunOps } from './context.js';
import { fencedOut } from './fence.js';

type Ops = RunOps<'journalCommands' | 'listCommands'>;

export function commandOps(c: RunContext): Ops {
  return {
    journalCommands: (runId, fence, starts, finishes, spawns = []) => journalCommands(c, runId, fence, starts, finishes, spawns),

    async listCommands(runId) {
      const { rows } = await c.pool.query<CommandRow>(`SELECT * FROM ${c.s}.commands WHERE run_id = $1 ORDER BY id`, [runId]);
      return rows.map(toCommand);
    },
  };
}

// One statement for the whole group: new rows (their ids come back in the order given), processes
// started, results. A spawn and a result of the same command in one group land as one update.
// The run's row is read FOR SHARE under its lease first (`fence`): a takeover waits for this statement,
// or this statement, having waited for a takeover, finds the lease taken and writes nothing.
async function journalCommands(
  c: RunContext,
  runId: string,
  fence: Fence,
  starts: readonly NewCommand[],
  finishes: readonly CommandFinish[],
  spawns: readonly CommandSpawn[],
): Promise<number[]> {
  if (starts.length === 0 && finishes.length === 0 && spawns.length === 0) return [];
  // New rows are commands about to start: not once the session holding the run's lock is gone.
  if (starts.length > 0) c.locks.check();
  const s = c.s;
  const spawned = new Map(spawns.map((p) => [p.id, p]));
  const done = finishes.map((f) => ({ ...f, spawn: spawned.get(f.id) }));
  for (const f of finishes) spawned.delete(f.id);
  const alone = [...spawned.values()];
  const { rows } = await c.pool.query<{ ids: number[]; held: number }>(
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
      starts.map((n) => n.runId),
      starts.map((n) => n.attemptId),
      starts.map((n) => n.tool),
      starts.map((n) => JSON.stringify(n.argv)),
      starts.map((n) => n.context),
      starts.map((n) => n.at),
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
      c.channel,
      runId,
      fence,
    ],
  );
  if (Number(rows[0]?.held) !== 1) throw await fencedOut(c.pool, s, runId);
  crashPoint('journal-write');
  return (rows[0]?.ids ?? []).map(Number);
}
