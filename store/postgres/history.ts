// mesh-run history: step attempts and operator actions across runs, narrowed by any mix of filters.
import { type AttemptRow, type EventRow, toAttempt, toEvent } from '../rows.js';
import type { RunContext, RunOps } from './context.js';
import { EVENT_COLUMNS } from './events.js';

type Ops = RunOps<'queryAttempts' | 'queryEvents'>;

export function historyOps(c: RunContext): Ops {
  const { pool, s } = c;
  return {
    async queryAttempts(filter) {
      const { where, params } = conditions(filter, {
        runId: (p) => `run_id = ${p}`,
        cluster: (p) => `cluster = ${p}`,
        step: (p) => `step = ${p}`,
        outcome: (p) => `outcome = ${p}`,
        since: (p) => `started_at >= ${p}`,
        until: (p) => `started_at < ${p}`,
        kind: (p) => `run_id IN (SELECT id FROM ${s}.runs WHERE kind = ${p})`,
      });
      const { rows } = await pool.query<AttemptRow>(`SELECT * FROM ${s}.step_attempts ${where} ORDER BY started_at DESC, id DESC LIMIT $${params.length + 1}`, [
        ...params,
        filter.limit,
      ]);
      return rows.map(toAttempt);
    },

    async queryEvents(filter) {
      const { where, params } = conditions(filter, {
        runId: (p) => `run_id = ${p}`,
        since: (p) => `at >= ${p}`,
        until: (p) => `at < ${p}`,
        kind: (p) => `run_id IN (SELECT id FROM ${s}.runs WHERE kind = ${p})`,
      });
      const { rows } = await pool.query<EventRow>(
        `SELECT ${EVENT_COLUMNS} FROM ${s}.run_events ${where} ORDER BY at DESC, id DESC LIMIT $${params.length + 1}`,
        [...params, filter.limit],
      );
      return rows.map(toEvent);
    },
  };
}

// WHERE clauses of a history query, one per filter field that is set, numbered $1, $2 ...
function conditions<F extends { limit: number }>(
  filter: F,
  clauses: Partial<Record<keyof F, (placeholder: string) => string>>,
): { where: string; params: Array<string | number> } {
  const params: Array<string | number> = [];
  const parts: string[] = [];
  for (const [field, clause] of Object.entries(clauses) as Array<[string, (p: string) => string]>) {
    const value = (filter as Record<string, unknown>)[field];
    if (value === undefined) continue;
    params.push(value as string | number);
    parts.push(clause(`$${params.length}`));
  }
  return { where: parts.length ? `WHERE ${parts.join(' AND ')}` : '', params };
}
