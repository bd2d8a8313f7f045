// Reading runs, the config a run continues with, and hearing that a run changed.
import { crashPoint } from '../crash-points.js';
import { type RunRow, toRun } from '../rows.js';
import type { RunContext, RunOps } from './context.js';
import { wholeRun } from './snapshots.js';

type Ops = RunOps<'getRun' | 'findRunIds' | 'listRuns' | 'listRunsTargeting' | 'updateRunConfig' | 'watchRun'>;

export function runOps(c: RunContext): Ops {
  const { db, q } = c;
  const findIds = db.prepare<[string, number], { id: string }>(`SELECT id FROM runs WHERE id LIKE ? ESCAPE '\\' ORDER BY created_at DESC LIMIT ?`);
  const listRuns = db.prepare<[number], RunRow>('SELECT * FROM runs ORDER BY created_at DESC, id DESC LIMIT ?');
  const listTargeting = db.prepare<[string], RunRow>('SELECT * FROM runs WHERE target_run = ? ORDER BY created_at, id');
  const updateConfig = db.prepare('UPDATE runs SET config_json = ?, config_hash = ? WHERE id = ?');
  return {
    getRun(id) {
      const row = q.getRun.get(id);
      return row ? toRun(wholeRun(c, row)) : undefined;
    },
    findRunIds(prefix, limit) {
      const escaped = prefix.replace(/[\\%_]/g, (ch) => `\\${ch}`);
      return findIds.all(`${escaped}%`, limit).map((r) => r.id);
    },
    listRuns(limit) {
      return listRuns.all(limit).map(toRun);
    },
    listRunsTargeting(runId) {
      return listTargeting.all(runId).map(toRun);
    },
    updateRunConfig(runId, fence, config, configHash) {
      c.underLease(runId, fence, () => updateConfig.run(JSON.stringify(config), configHash, runId));
      crashPoint('journal-write');
    },
    watchRun(_runId, onChange) {
      // data_version moves whenever another connection commits: re-read then (every change, any run).
      let seen = db.pragma('data_version', { simple: true });
      const timer = setInterval(() => {
        try {
          const now = db.pragma('data_version', { simple: true });
          if (now !== seen) {
            seen = now;
            onChange();
          }
        } catch {
          // the next read reports a broken database
        }
      }, 250);
      return async () => clearInterval(timer);
    },
  };
}
