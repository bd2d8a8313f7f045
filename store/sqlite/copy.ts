// mesh-run store copy: a run with everything recorded about it, as stored, out of one store and into another.

import type { RunExport } from '../contract.js';
import { copiedCommandValues, type ObservationRow, storedRunValues, toAttempt, toCommand, toEvent, toObservation, toStoredRun } from '../rows.js';
import type { RunContext, RunOps } from './context.js';

type Ops = RunOps<'exportRun' | 'importRun'>;

export function copyOps(c: RunContext): Ops {
  const { db, q } = c;
  const listObservations = db.prepare<[string], ObservationRow>(
    'SELECT run_id, cluster, subject, present, owner, detail, at FROM observations WHERE run_id = ? ORDER BY id',
  );
  const insert = importStatements(c);
  return {
    exportRun(runId) {
      const row = q.getRun.get(runId);
      if (!row) return undefined;
      return {
        run: toStoredRun(row),
        parts: q.listParts.all(runId).map((p) => ({ part: p.part, json: p.json })),
        attempts: q.listAttempts.all(runId).map(toAttempt),
        commands: q.listCommands.all(runId).map(toCommand),
        events: q.listEvents.all(runId).map(toEvent),
        observations: listObservations.all(runId).map(toObservation),
      };
    },
    importRun(data) {
      db.transaction(() => importRows(c, insert, data)).immediate();
    },
  };
}

function importStatements(c: RunContext) {
  return {
    run: c.db.prepare(
      `INSERT INTO runs (id, kind, topology, mode, status, config_json, config_hash, config_path, created_at, updated_at, finished_at, machine_version, snapshot_json, error_json, target_run, sim_world)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    attempt: c.db.prepare(
      'INSERT INTO step_attempts (run_id, step, cluster, context, attempt, started_at, ended_at, outcome, error, output) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    command: c.db.prepare(
      `INSERT INTO commands (run_id, attempt_id, tool, argv_json, context, started_at, ended_at, exit_code, duration_ms, stdout_tail, stderr_tail, pid, pgid, proc_start)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
  };
}

// Inside the caller's transaction: the run's rows get new ids here, and its commands the new ids of their attempts.
function importRows(c: RunContext, insert: ReturnType<typeof importStatements>, data: RunExport): void {
  const r = data.run;
  insert.run.run(...storedRunValues(r));
  const attemptIds = new Map<number, number>();
  for (const a of data.attempts) {
    const info = insert.attempt.run(
      r.id,
      a.step,
      a.cluster,
      a.context,
      a.attempt,
      a.startedAt,
      a.endedAt,
      a.outcome,
      a.error ? JSON.stringify(a.error) : null,
      a.output ?? null,
    );
    attemptIds.set(a.id, Number(info.lastInsertRowid));
  }
  for (const cmd of data.commands) {
    insert.command.run(...copiedCommandValues(r.id, cmd, attemptIds));
  }
  for (const p of data.parts) c.q.savePart.run(r.id, p.part, p.json);
  for (const e of data.events) c.q.insertEvent.run(r.id, e.at, e.type, e.user, e.host, e.pid, e.detail, e.step, e.cluster);
  for (const o of data.observations)
    c.q.insertObservation.run(r.id, o.cluster, o.subject, o.present ? 1 : 0, o.owner, o.detail ? JSON.stringify(o.detail) : null, o.at);
}
