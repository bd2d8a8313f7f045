// mesh-run history: step attempts and operator actions across runs, narrowed by any mix of filters.
import type Database from 'better-sqlite3';
import { type AttemptRow, type EventRow, toAttempt, toEvent } from '../rows.js';
import type { RunContext, RunOps } from './context.js';

type Ops = RunOps<'queryAttempts' | 'queryEvents'>;

type Named = [Record<string, string | number>];

export function historyOps(c: RunContext): Ops {
  // Filters combine freely; each distinct combination is prepared once and reused.
  const statements = new Map<string, Database.Statement<Named, unknown>>();
  const cachedStatement = <R>(sql: string): Database.Statement<Named, R> => {
    let statement = statements.get(sql);
    if (!statement) {
      statement = c.db.prepare<Named, unknown>(sql);
      statements.set(sql, statement);
    }
    return statement as Database.Statement<Named, R>;
  };
  return {
    queryAttempts(filter) {
      const { where, params } = conditions(filter, {
        runId: 'run_id = @runId',
        cluster: 'cluster = @cluster',
        step: 'step = @step',
        outcome: 'outcome = @outcome',
        since: 'started_at >= @since',
        until: 'started_at < @until',
        kind: 'run_id IN (SELECT id FROM runs WHERE kind = @kind)',
      });
      const sql = `SELECT * FROM step_attempts ${where} ORDER BY started_at DESC, id DESC LIMIT @limit`;
      return cachedStatement<AttemptRow>(sql).all(params).map(toAttempt);
    },
    queryEvents(filter) {
      const { where, params } = conditions(filter, {
        runId: 'run_id = @runId',
        since: 'at >= @since',
        until: 'at < @until',
        kind: 'run_id IN (SELECT id FROM runs WHERE kind = @kind)',
      });
      const sql = `SELECT id, run_id, at, type, user, host, pid, detail, step, cluster FROM run_events ${where} ORDER BY at DESC, id DESC LIMIT @limit`;
      return cachedStatement<EventRow>(sql).all(params).map(toEvent);
    },
  };
}

// The WHERE clause and parameters of a history query: one condition per filter field that is set.
function conditions<F extends { limit: number }>(
  filter: F,
  clauses: Partial<Record<keyof F, string>>,
): { where: string; params: Record<string, string | number> } {
  const params: Record<string, string | number> = { limit: filter.limit };
  const parts: string[] = [];
  for (const [field, clause] of Object.entries(clauses) as Array<[string, string]>) {
    const value = (filter as Record<string, unknown>)[field];
    if (value === undefined) continue;
    parts.push(clause);
    params[field] = value as string | number;
  }
  return { where: parts.length ? `WHERE ${parts.join(' AND ')}` : '', params };
}
