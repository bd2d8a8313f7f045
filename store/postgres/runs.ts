// Reading runs, the config a run continues with, and hearing that a run changed.
import pg from 'pg';
import { crashPoint } from '../crash-points.js';
import { type RunRow, toRun } from '../rows.js';
import { clientConfig } from './connection.js';
import type { RunContext, RunOps } from './context.js';
import { wholeRun } from './snapshots.js';

type Ops = RunOps<'getRun' | 'findRunIds' | 'listRuns' | 'listRunsTargeting' | 'updateRunConfig' | 'watchRun'>;

export function runOps(c: RunContext): Ops {
  const { pool, s } = c;
  return {
    async getRun(id) {
      const { rows } = await pool.query<RunRow>(`SELECT * FROM ${s}.runs WHERE id = $1`, [id]);
      return rows[0] ? toRun(await wholeRun(c, pool, rows[0])) : undefined;
    },

    async findRunIds(prefix, limit) {
      const escaped = prefix.replace(/[\\%_]/g, (ch) => `\\${ch}`);
      const { rows } = await pool.query<{ id: string }>(
        `SELECT id FROM ${s}.runs WHERE id LIKE $1 ESCAPE '\\' ORDER BY created_at DESC, id COLLATE "C" DESC LIMIT $2`,
        [`${escaped}%`, limit],
      );
      return rows.map((r) => r.id);
    },

    async listRuns(limit) {
      const { rows } = await pool.query<RunRow>(`SELECT * FROM ${s}.runs ORDER BY created_at DESC, id COLLATE "C" DESC LIMIT $1`, [limit]);
      return rows.map(toRun);
    },

    async listRunsTargeting(runId) {
      const { rows } = await pool.query<RunRow>(`SELECT * FROM ${s}.runs WHERE target_run = $1 ORDER BY created_at, id COLLATE "C"`, [runId]);
      return rows.map(toRun);
    },

    async updateRunConfig(runId, fence, config, configHash) {
      await c.underLease(runId, fence, (db) =>
        db.query(`UPDATE ${s}.runs SET config_json = $1, config_hash = $2 WHERE id = $3`, [JSON.stringify(config), configHash, runId]),
      );
      crashPoint('journal-write');
    },

    async watchRun(runId, onChange) {
      // LISTEN needs a connection of its own, held while watching.
      const client = new pg.Client(clientConfig(c.location));
      client.on('error', () => undefined);
      await client.connect();
      client.on('notification', (message) => {
        if (message.payload === runId) onChange();
      });
      await client.query(`LISTEN ${c.channel}`);
      return async () => {
        await client.end().catch(() => undefined);
      };
    },
  };
}
