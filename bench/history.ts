// history: the audit verbs' queries on a journal of a million step attempts, on SQLite and on PostgreSQL.
import { join } from 'node:path';
import { openStore, type StoreLocation } from '../engine/composition.js';
import { historyAttempts, runTimeline } from '../engine/run-queries.js';
import { ms, out, postgres, postgresAt, sqlite, work } from './harness.js';
import { fillPostgresHistory, fillSqliteHistory } from './history-fill.js';
import { integrityAtScale } from './integrity.js';

// The history queries behind the audit verbs, each the median (p50) of 9 after a warm-up.
async function historyQueries(location: StoreLocation, someRun: string): Promise<Map<string, number>> {
  const { runs: store, close } = await openStore(location, 'existing');
  const now = Date.now();
  const results = new Map<string, number>();
  const timed = async (label: string, fn: () => Promise<unknown>) => {
    await fn();
    const times: number[] = [];
    for (let i = 0; i < 9; i++) {
      const t = performance.now();
      await fn();
      times.push(performance.now() - t);
    }
    results.set(label, times.sort((a, b) => a - b)[4] as number);
  };
  await timed('history --limit 100 (newest)', () => store.queryAttempts({ limit: 100 }));
  await timed('history --cluster cluster7 --since 7d', () => store.queryAttempts({ cluster: 'cluster7', since: now - 7 * 86_400_000, limit: 100 }));
  await timed('history --status failed --limit 100', () => store.queryAttempts({ outcome: 'failed', limit: 100 }));
  await timed('history --step install-remote --cluster cluster3 --status failed', () =>
    store.queryAttempts({ step: 'install-remote', cluster: 'cluster3', outcome: 'failed', limit: 100 }),
  );
  await timed('history --run <id>', () => store.queryAttempts({ runId: someRun, limit: 100 }));
  // The engine's filter rule: a known cluster that matches nothing costs one more query; an unknown one
  // (refused, exit 2) reads the journal's configs to name the known ones.
  await timed('history --cluster cluster7 --status interrupted (known, empty)', () =>
    historyAttempts(store, { cluster: 'cluster7', outcome: 'interrupted', limit: 100 }),
  );
  await timed('history --cluster nosuch (unknown: exit 2)', () => historyAttempts(store, { cluster: 'nosuch', limit: 100 }).catch(() => []));
  await timed('logs <id> --cluster nosuch (unknown: exit 2)', () => runTimeline(store, someRun, { cluster: 'nosuch' }).catch(() => undefined));
  await timed('history --actions --since 24h', () => store.queryEvents({ since: now - 86_400_000, limit: 100 }));
  await timed('runs (50 newest, with their attempts)', async () => Promise.all((await store.listRuns(50)).map((r) => store.listAttempts(r.id))));
  await close();
  return results;
}

export async function historyAtScale(): Promise<void> {
  // 111,000 runs of 9 steps (every 17th retried once) make just over a million step attempts.
  const runsCount = Number(process.env.MESH_RUN_BENCH_RUNS ?? 111_000);
  out('section', `history on a large journal: ${runsCount} runs`, '', '', '', '');
  const path = join(work, 'history.db');
  const t0 = Date.now() - runsCount * 60_000;
  const { attempts: n, elapsedMs } = await fillSqliteHistory(path, runsCount, t0);
  out('fill', `${n} step attempts in ${ms(elapsedMs)}`, '', '', '', '');
  const sqliteTimes = await historyQueries(sqlite(path), 'mr-b0001000');
  const pg = postgres();
  let pgTimes: Map<string, number> | undefined;
  if (pg) {
    const location = postgresAt(pg, 'history');
    const filled = performance.now();
    const n = await fillPostgresHistory(location, runsCount, t0);
    out('fill (PostgreSQL)', `${n} step attempts in ${ms(performance.now() - filled)}`, '', '', '', '');
    pgTimes = await historyQueries(location, `mr-b${(1000).toString(36).padStart(7, '0')}`);
  }
  out('query', 'SQLite p50', pg ? 'PostgreSQL p50' : '', '', '', '');
  for (const [label, t] of sqliteTimes) out(label, ms(t), pgTimes ? ms(pgTimes.get(label) as number) : '', '', '', '');
  await integrityAtScale(path, n);
}
