// What only a PostgreSQL store has to prove: migrations that race, locks that hold across sessions and
// vanish with them, a schema of its own, and a URL's password never shown.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../engine/composition.js';
import { parseConfigText } from '../engine/config/mesh-config.js';
import { StoreError } from '../shared/errors.js';
import { withDefaults } from '../shared/model.js';
import type { ClaimRequest, LeaseHolder, NewRun, Store } from '../store/contract.js';
import { type PostgresLocation, parseStoreLocation } from '../store/location.js';
import { PG_MIGRATIONS } from '../store/postgres/migrations.js';
import { runCli, tempDir } from './support/cli.js';
import { freshSchema, havePostgres, postgresUrl } from './support/stores.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const location = (schema: string) => parseStoreLocation(postgresUrl(schema) as string, 'test') as PostgresLocation;
const ALICE = { user: 'alice', host: 'laptop', pid: 101 };
const BOB = { user: 'bob', host: 'ci-runner', pid: 202 };
const CONFIG = withDefaults(parseConfigText('{}', {}, 'test'));
const lease = (token: string, actor: typeof ALICE, at: number): LeaseHolder => ({ token, pid: actor.pid, host: actor.host, user: actor.user, heartbeat: at });
const claim = (token: string, actor: typeof ALICE, at: number, keys: string[]): ClaimRequest => ({
  lease: lease(token, actor, at),
  keys,
  staleAfterMs: 30_000,
  isAlive: () => true,
});
const newRun = (id: string, at: number): NewRun => ({
  id,
  kind: 'install',
  topology: 'primary-remote',
  mode: 'real',
  config: CONFIG,
  configHash: 'h',
  configPath: null,
  createdAt: at,
  machineVersion: 1,
});

async function raw<T extends pg.QueryResultRow>(schema: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: location(schema).connectionString });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

describe.skipIf(!havePostgres())('the PostgreSQL store', () => {
  const opened: Store[] = [];
  const open = async (schema: string, access: 'create' | 'existing' | 'read-only' = 'create') => {
    const store = await openStore(location(schema), access);
    opened.push(store);
    return store;
  };
  afterAll(async () => {
    for (const s of opened) await s.close();
  });

  it('migrates once when several processes open a new schema together, in that schema only', async () => {
    const schema = freshSchema('race');
    await Promise.all(Array.from({ length: 6 }, () => open(schema)));
    const versions = await raw<{ version: number }>(schema, `SELECT version FROM "${schema}".schema_version`);
    expect(versions).toEqual(PG_MIGRATIONS.map((m) => ({ version: m.version })));
    const tables = await raw<{ table_name: string }>(schema, 'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name', [
      schema,
    ]);
    expect(tables.map((t) => t.table_name)).toContain('runs');
    expect(await raw(schema, "SELECT 1 FROM information_schema.tables WHERE table_schema = 'public' AND table_name = 'runs'")).toEqual([]);
  });

  it('refuses a schema a newer mesh-run wrote, and a missing one for reading, changing nothing', async () => {
    const schema = freshSchema('newer');
    await (await open(schema)).close();
    await raw(schema, `INSERT INTO "${schema}".schema_version (version, name, applied_at) VALUES (99, 'future', 0)`);
    await expect(openStore(location(schema), 'create')).rejects.toThrow(/schema version 99, newer than this mesh-run understands/);
    await expect(openStore(location(freshSchema('absent')), 'read-only')).rejects.toThrow(/no mesh-run store in schema/);
    const cli = await runCli(['runs', '--store', postgresUrl(freshSchema('absent')) as string]);
    expect(cli.code).toBe(3);
    expect(cli.stderr).toMatch(/^mesh-run: error: no mesh-run store in schema t?absent_[0-9a-f]+ of postgresql:/m);
  });

  it('keeps two sessions off the same clusters by lock; a session that ends frees them at once', async () => {
    const schema = freshSchema('locks');
    const a = await open(schema);
    const b = await open(schema);
    const now = Date.now();
    expect(await a.runs.createRun(newRun('mr-locka001', now), ALICE, claim('a', ALICE, now, ['context:east']))).toEqual({ created: true });
    // Another session: refused by the lock, naming the run and its holder.
    const refused = await b.runs.createRun(newRun('mr-lockb001', now), BOB, claim('b', BOB, now, ['context:east']));
    expect(refused).toMatchObject({ created: false, busy: { runId: 'mr-locka001', key: 'context:east', lease: { user: 'alice', host: 'laptop' } } });
    expect(await b.runs.getRun('mr-lockb001')).toBeUndefined();
    // Nor may it take the run itself over while the holder's session lives, fresh heartbeat or not.
    expect(await b.runs.acquireLease('mr-locka001', lease('b', BOB, now + 60_000), 30_000, () => false)).toMatchObject({
      acquired: false,
      holder: { token: 'a' },
    });
    // Nor may an operator unlock it: its session is connected, so it is not gone.
    expect(await b.runs.breakLease('mr-locka001', 'a', BOB, now, 'x')).toBe('connected');
    // The holder's connection goes (a crash, a lost network): its row still looks alive, but the lock is free.
    await a.close();
    const taken = await b.runs.acquireLease('mr-locka001', lease('b', BOB, now + 1), 30_000, () => true, ['context:east']);
    expect(taken).toMatchObject({ acquired: true, tookOverFrom: { token: 'a', user: 'alice' } });
    expect(await b.runs.createRun(newRun('mr-lockb002', now + 2), BOB, claim('c', BOB, now + 2, ['context:west']))).toEqual({ created: true });
  });

  it('a driver whose lock session is cut off learns it at its next heartbeat (and stops: exit 3)', async () => {
    const schema = freshSchema('cut');
    const store = await open(schema);
    const now = Date.now();
    await store.runs.createRun(newRun('mr-cut00001', now), ALICE, claim('a', ALICE, now, ['context:east']));
    expect(await store.runs.heartbeat('mr-cut00001', 'a', now + 1)).toBe(true);
    await raw(
      schema,
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'mesh-run:%' AND pid <> pg_backend_pid() AND query LIKE '%advisory%'",
    );
    await new Promise((r) => setTimeout(r, 200));
    const beat = store.runs.heartbeat('mr-cut00001', 'a', now + 2);
    await expect(beat).rejects.toBeInstanceOf(StoreError);
    await expect(beat).rejects.toThrow(/lost the connection to the store postgresql:\/\/.* that holds this run's lock/);
  });

  it('logs in with a password from the URL, PGPASSWORD or a private password file, and never shows it', async () => {
    const admin = freshSchema('pwadmin');
    const secret = `pw-${freshSchema('x').slice(2)}`;
    await raw(admin, "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mesh_pw') THEN CREATE ROLE mesh_pw LOGIN; END IF; END $$");
    await raw(admin, `ALTER ROLE mesh_pw PASSWORD '${secret}'`);
    await raw(admin, 'GRANT CREATE ON DATABASE postgres TO mesh_pw');
    const base = (postgresUrl(freshSchema('pw')) as string).replace('postgresql://postgres@', 'postgresql://mesh_pw@');
    const host = new URLSearchParams(base.slice(base.indexOf('?') + 1));
    // A password file (0600, as libpq demands), matched as localhost for a Unix socket.
    const passfile = join(tmp.dir, 'pgpass');
    writeFileSync(passfile, `localhost:${host.get('port')}:postgres:mesh_pw:${secret}\n`, { mode: 0o600 });
    const viaFile = await runCli(['install', '--dry-run', '--sim-lb-delay', '0', '-q', '--store', base], { env: { PGPASSFILE: passfile } });
    expect(viaFile.code, viaFile.stderr).toBe(0);
    const viaEnv = await runCli(['runs', '--store', base], { env: { PGPASSWORD: secret } });
    expect(viaEnv.code, viaEnv.stderr).toBe(0);
    const inUrl = base.replace('mesh_pw@', `mesh_pw:${secret}@`);
    const failed = await runCli(['install', '--dry-run', '--sim-lb-delay', '0', '--inject-failure', 'attach-remote', '--store', inUrl]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('continue with: mesh-run resume mr-');
    expect(failed.stderr).toContain('--store');
    expect(failed.stderr + failed.stdout).not.toContain(secret);
    // A wrong password: exit 3, the login refused, no password anywhere.
    const wrong = await runCli(['runs', '--store', base], { env: { PGPASSWORD: 'not-it-42' } });
    expect(wrong.code).toBe(3);
    expect(wrong.stderr).toMatch(/refused the login/);
    expect(wrong.stderr).not.toMatch(/not-it-42|pw-/);
    const none = await runCli(['runs', '--store', base], { env: { PGPASSFILE: join(tmp.dir, 'absent') } });
    expect(none.code).toBe(3);
    expect(none.stderr).toMatch(/refused the login/);
  });

  it('never shows a password: URLs are masked in every message', async () => {
    const url = 'postgresql://mesh:hunter2-secret@127.0.0.1:1/team?sslmode=disable';
    for (const args of [
      ['runs', '--store', url],
      ['install', '--dry-run', '--store', url],
    ]) {
      const result = await runCli(args, { env: { MESH_RUN_STORE: '' } });
      expect(result.code).toBe(3);
      expect(result.stderr).toContain('postgresql://mesh:***@127.0.0.1:1/team');
      expect(result.stderr + result.stdout).not.toContain('hunter2');
    }
    const viaEnv = await runCli(['runs'], { env: { MESH_RUN_STORE: 'postgres://x:pw-in-env@127.0.0.1:1/db?password=pw-in-query' } });
    expect(viaEnv.stderr).not.toMatch(/pw-in-env|pw-in-query/);
    expect(viaEnv.code).toBe(3);
  });
});
