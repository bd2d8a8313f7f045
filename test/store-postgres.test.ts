// What only a PostgreSQL store has to prove: migrations that race, locks that hold across sessions and
// vanish with them, a schema of its own, and a URL's password never shown.

import { writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../engine/composition.js';
import { parseConfigText } from '../engine/config/mesh-config.js';
import { FencedError, StoreError } from '../shared/errors.js';
import { withDefaults } from '../shared/model.js';
import type { ClaimRequest, LeaseHolder, NewRun, Store } from '../store/contract.js';
import { type PostgresLocation, parseStoreLocation } from '../store/location.js';
import { PG_MIGRATIONS } from '../store/postgres/migrations.js';
import { tempDir } from './support/cli.js';
import { runCli } from './support/cli-here.js';
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

  it('a driver whose lock session is cut off learns it at once: told, and refused its next command and heartbeat', async () => {
    const schema = freshSchema('cut');
    const store = await open(schema);
    const now = Date.now();
    await store.runs.createRun(newRun('mr-cut00001', now), ALICE, claim('a', ALICE, now, ['context:east']));
    expect(await store.runs.heartbeat('mr-cut00001', 'a', now + 1)).toBe(true);
    const attempt = await store.runs.openAttempt('mr-cut00001', 'a', null, { step: 'install-primary', cluster: 'c1', context: 'east' }, now + 1);
    const told: Error[] = [];
    const stop = await store.runs.watchLease('mr-cut00001', (error) => told.push(error));
    await raw(
      schema,
      // Only this process's sessions: other test files' CLI processes share the server.
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'mesh-run:${process.pid}@%' AND pid <> pg_backend_pid() AND query LIKE '%advisory%'`,
    );
    // pg reports a terminated session within milliseconds (57P01, then 'end'): no heartbeat needed.
    for (let i = 0; i < 100 && told.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(told.map((e) => e.message)).toEqual([expect.stringMatching(/lost the connection to the store .* that holds this run's lock/)]);
    stop();
    // No command gets a row any more (a command starts only once its row is in), nor a new attempt.
    const command = { runId: 'mr-cut00001', attemptId: attempt.id, tool: 'kubectl', argv: ['get'], context: 'east', at: now + 2 };
    await expect(store.runs.journalCommands('mr-cut00001', 'a', [command], [])).rejects.toBeInstanceOf(StoreError);
    await expect(store.runs.openAttempt('mr-cut00001', 'a', null, { step: 'attach-remote', cluster: 'c2', context: 'west' }, now + 2)).rejects.toBeInstanceOf(
      StoreError,
    );
    expect(await store.runs.listCommands('mr-cut00001')).toEqual([]);
    const beat = store.runs.heartbeat('mr-cut00001', 'a', now + 2);
    await expect(beat).rejects.toBeInstanceOf(StoreError);
    await expect(beat).rejects.toThrow(/lost the connection to the store postgresql:\/\/.* that holds this run's lock/);
  });

  // lifecycle-next.md (5): without a lock on the run's row, a stale-token INSERT can commit beside a takeover.
  it('a write under an old lease waits for a takeover in flight, then writes nothing; a takeover waits for a write in flight', async () => {
    const schema = freshSchema('fence');
    const store = await open(schema);
    const now = Date.now();
    await store.runs.createRun(newRun('mr-fence002', now), ALICE, claim('a', ALICE, now, []));
    const attempt = await store.runs.openAttempt('mr-fence002', 'a', null, { step: 'install-primary', cluster: 'c1', context: 'east' }, now);
    const command = (at: number) => ({ runId: 'mr-fence002', attemptId: attempt.id, tool: 'kubectl', argv: ['apply'], context: 'east', at });
    const client = new pg.Client({ connectionString: location(schema).connectionString });
    await client.connect();
    try {
      // A takeover holds the run's row and has written the new holder, not yet committed.
      await client.query('BEGIN');
      await client.query(`SELECT id FROM "${schema}".runs WHERE id = $1 FOR UPDATE`, ['mr-fence002']);
      await client.query(`UPDATE "${schema}".runs SET lease_token = 'b', lease_pid = 202, lease_host = 'ci-runner', lease_user = 'bob' WHERE id = $1`, [
        'mr-fence002',
      ]);
      const settled: string[] = [];
      const writes = [
        store.runs.journalCommands('mr-fence002', 'a', [command(now + 1)], []),
        store.runs.commitTransition('mr-fence002', 'a', { root: '{"s":2}', parts: [], dropped: [], full: true }, [], now + 1),
        store.runs.addEvent('mr-fence002', 'a', 'kept', ALICE, now + 1, 'x'),
      ].map((w, i) =>
        w.then(
          () => settled.push(`${i}: written`),
          (e: unknown) => settled.push(`${i}: ${e instanceof FencedError ? 'fenced' : String(e)}`),
        ),
      );
      await new Promise((r) => setTimeout(r, 300));
      // They wait for the takeover to end, rather than slip in under the old lease.
      expect(settled).toEqual([]);
      await client.query('COMMIT');
      await Promise.all(writes);
      expect(settled.sort()).toEqual(['0: fenced', '1: fenced', '2: fenced']);
      expect(await store.runs.listCommands('mr-fence002')).toEqual([]);
      expect((await store.runs.getRun('mr-fence002'))?.snapshot).toBeNull();
      // The other way round: the new holder's write holds the row; a second takeover waits for it to commit.
      const journaled = store.runs.journalCommands('mr-fence002', 'b', [command(now + 2)], []);
      await journaled;
      await client.query('BEGIN');
      await client.query(`SELECT id FROM "${schema}".runs WHERE id = $1 FOR SHARE`, ['mr-fence002']);
      const takeover = store.runs.acquireLease('mr-fence002', lease('c', ALICE, now + 60_000), 30_000, () => false);
      let taken = false;
      void takeover.then(() => {
        taken = true;
      });
      await new Promise((r) => setTimeout(r, 300));
      expect(taken).toBe(false);
      await client.query('COMMIT');
      expect(await takeover).toMatchObject({ acquired: true });
    } finally {
      await client.end();
    }
  });

  it('names a holder whose session holds the lock by its row, with its real last heartbeat, however old it looks', async () => {
    const schema = freshSchema('skew');
    const a = await open(schema);
    const b = await open(schema);
    const now = Date.now();
    // The holder is this process (its session holds the lock), and its clock is ten minutes behind ours.
    const me = { user: 'alice', host: hostname(), pid: process.pid };
    await a.runs.createRun(newRun('mr-skew0001', now), me, claim('a', me, now - 600_000, []));
    const refused = await b.runs.acquireLease('mr-skew0001', lease('b', BOB, now), 30_000, () => false);
    expect(refused).toMatchObject({ acquired: false, holder: { token: 'a', user: 'alice', pid: process.pid, heartbeat: now - 600_000 } });
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
