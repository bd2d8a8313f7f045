// The large journal the history section queries: runs 0..n-1, one a minute, every 17th failing once at
// install-remote and retried. The store makes its schema (through the composition root); the rows go in as bulk
// SQL, as no store operation writes a million attempts in seconds.
import Database from 'better-sqlite3';
import pg from 'pg';
import { openStore, type StoreLocation } from '../engine/composition.js';
import type { StepId } from '../machines/steps.js';
import { sqlite } from './harness.js';

// Fills the SQLite file at `path`; returns the step attempts it holds and how long the inserts took.
export async function fillSqliteHistory(path: string, runsCount: number, t0: number): Promise<{ attempts: number; elapsedMs: number }> {
  const store = await openStore(sqlite(path), 'create');
  await store.close();
  const db = new Database(path);
  // The settings a writer of the journal runs with, so the fill costs what the store's own writes would.
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  const started = performance.now();
  const insertRun = db.prepare(
    `INSERT INTO runs (id, kind, topology, mode, status, config_json, config_hash, created_at, updated_at, finished_at, machine_version) VALUES (?, 'install', 'primary-remote', 'dry-run', ?, ?, 'h', ?, ?, ?, 1)`,
  );
  const insertAttempt = db.prepare(
    `INSERT INTO step_attempts (run_id, step, cluster, context, attempt, started_at, ended_at, outcome, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const steps: Array<[StepId, 'p' | 'r' | '*']> = [
    ['preflight', '*'],
    ['install-primary', 'p'],
    ['install-eastwest-gateway', 'p'],
    ['await-gateway-address', 'p'],
    ['expose-istiod', 'p'],
    ['create-remote-namespace', 'r'],
    ['annotate-remote-namespace', 'r'],
    ['install-remote', 'r'],
    ['attach-remote', 'r'],
  ];
  const fill = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const at = t0 + i * 60_000;
      const remote = `cluster${2 + (i % 20)}`;
      const fails = i % 17 === 0;
      const config = `{"primary":{"name":"cluster1"},"remotes":[{"name":"${remote}"}]}`;
      insertRun.run(`mr-b${i.toString(36).padStart(7, '0')}`, fails ? 'failed' : 'succeeded', config, at, at + 300_000, at + 300_000);
      steps.forEach(([step, scope], s) => {
        const cluster = scope === '*' ? '*' : scope === 'p' ? 'cluster1' : remote;
        const failed = fails && step === 'install-remote';
        insertAttempt.run(
          `mr-b${i.toString(36).padStart(7, '0')}`,
          step,
          cluster,
          cluster === '*' ? null : cluster,
          1,
          at + s * 1000,
          at + s * 1000 + 900,
          failed ? 'failed' : 'succeeded',
          failed ? '{"message":"forbidden"}' : null,
        );
        if (failed)
          insertAttempt.run(`mr-b${i.toString(36).padStart(7, '0')}`, step, cluster, cluster, 2, at + s * 1000 + 2000, at + s * 1000 + 2900, 'succeeded', null);
      });
    }
  });
  for (let i = 0; i < runsCount; i += 10_000) fill(i, Math.min(runsCount, i + 10_000));
  const { n } = db.prepare('SELECT COUNT(*) AS n FROM step_attempts').get() as { n: number };
  db.close();
  return { attempts: n, elapsedMs: performance.now() - started };
}

// The same journal as the SQLite fill, generated inside PostgreSQL.
export async function fillPostgresHistory(location: StoreLocation & { kind: 'postgres' }, runsCount: number, t0: number): Promise<number> {
  const store = await openStore(location, 'create');
  await store.close();
  const client = new pg.Client({ connectionString: location.connectionString });
  await client.connect();
  const s = `"${location.schema}"`;
  const id = `'mr-b' || lpad(${base36Sql('i')}, 7, '0')`;
  const remote = `'cluster' || (2 + i % 20)`;
  try {
    await client.query(
      `INSERT INTO ${s}.runs (id, kind, topology, mode, status, config_json, config_hash, created_at, updated_at, finished_at, machine_version)
       SELECT ${id}, 'install', 'primary-remote', 'dry-run', CASE WHEN i % 17 = 0 THEN 'failed' ELSE 'succeeded' END,
              '{"primary":{"name":"cluster1"},"remotes":[{"name":"' || ${remote} || '"}]}', 'h', $1::bigint + i::bigint * 60000, $1::bigint + i::bigint * 60000 + 300000, $1::bigint + i::bigint * 60000 + 300000, 1
       FROM generate_series(0, $2 - 1) AS i`,
      [t0, runsCount],
    );
    await client.query(
      `INSERT INTO ${s}.step_attempts (run_id, step, cluster, context, attempt, started_at, ended_at, outcome, error)
       SELECT ${id}, st.step,
              CASE st.scope WHEN '*' THEN '*' WHEN 'p' THEN 'cluster1' ELSE ${remote} END,
              CASE st.scope WHEN '*' THEN NULL WHEN 'p' THEN 'cluster1' ELSE ${remote} END,
              1, $1::bigint + i::bigint * 60000 + st.n * 1000, $1::bigint + i::bigint * 60000 + st.n * 1000 + 900,
              CASE WHEN i % 17 = 0 AND st.step = 'install-remote' THEN 'failed' ELSE 'succeeded' END,
              CASE WHEN i % 17 = 0 AND st.step = 'install-remote' THEN '{"message":"forbidden"}' END
       FROM generate_series(0, $2 - 1) AS i
       CROSS JOIN (VALUES (0, 'preflight', '*'), (1, 'install-primary', 'p'), (2, 'install-eastwest-gateway', 'p'), (3, 'await-gateway-address', 'p'),
                          (4, 'expose-istiod', 'p'), (5, 'create-remote-namespace', 'r'), (6, 'annotate-remote-namespace', 'r'), (7, 'install-remote', 'r'),
                          (8, 'attach-remote', 'r')) AS st (n, step, scope)`,
      [t0, runsCount],
    );
    await client.query(
      `INSERT INTO ${s}.step_attempts (run_id, step, cluster, context, attempt, started_at, ended_at, outcome, error)
       SELECT ${id}, 'install-remote', ${remote}, ${remote}, 2, $1::bigint + i::bigint * 60000 + 9000, $1::bigint + i::bigint * 60000 + 9900, 'succeeded', NULL
       FROM generate_series(0, $2 - 1) AS i WHERE i % 17 = 0`,
      [t0, runsCount],
    );
    await client.query(`ANALYZE ${s}.runs, ${s}.step_attempts`);
    const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${s}.step_attempts`);
    return Number(rows[0]?.n ?? 0);
  } finally {
    await client.end();
  }
}

// An integer's base-36 digits in SQL, as JavaScript's toString(36) writes them (ids match the SQLite fill).
function base36Sql(column: string): string {
  const digits = Array.from(
    { length: 7 },
    (_, k) => `substr('0123456789abcdefghijklmnopqrstuvwxyz'::text, ((${column} / ${36 ** k})::bigint % 36 + 1)::int, 1)`,
  );
  return `ltrim(${digits.reverse().join(' || ')}, '0')`;
}
