import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../engine/composition.js';
import { parseConfigText } from '../engine/config/mesh-config.js';
import { PreconditionError } from '../shared/errors.js';
import { withDefaults } from '../shared/model.js';
import { parseStoreLocation } from '../store/location.js';
import { openSqliteStore } from '../store/sqlite/index.js';
import { SCHEMA_VERSION } from '../store/sqlite/migrations.js';
import { openDb } from '../store/sqlite/open-db.js';
import { createSqliteRunStore } from '../store/sqlite/run-store.js';
import { runCli, tempDir } from './support/cli.js';
import { storeContract } from './support/store-contract.js';
import { freshSchema, havePostgres, postgresUrl } from './support/stores.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const operator = { user: 'alice', host: 'laptop', pid: 1 };
const lease = { token: 't', pid: 1, host: 'laptop', user: 'alice', heartbeat: 1 };

storeContract('SQLite in memory', () => ({ open: async () => openSqliteStore(':memory:'), shared: false }));
storeContract('SQLite file (WAL)', () => {
  const path = join(tmp.dir, `contract-${Math.random().toString(36).slice(2)}.db`);
  return { open: async () => openSqliteStore(path), shared: true };
});
if (havePostgres()) {
  storeContract('PostgreSQL', () => {
    const url = postgresUrl(freshSchema('contract')) as string;
    return { open: () => openStore(parseStoreLocation(url, 'test'), 'create'), shared: true };
  });
} else it.skip('the store contract on PostgreSQL (PostgreSQL is not installed here)', () => {});

describe('the SQLite store', () => {
  it('creates the database and its WAL files with mode 0600, in WAL mode with synchronous=FULL', async () => {
    const path = join(tmp.dir, 'nested', 'dir', 'a.db');
    const db = openDb(path);
    const store = createSqliteRunStore(db);
    await store.createRun(
      {
        id: 'mr-test',
        kind: 'install',
        topology: 'primary-remote',
        mode: 'dry-run',
        config: withDefaults(parseConfigText('{}', {}, 'test')),
        configHash: 'h',
        configPath: null,
        createdAt: 1,
        machineVersion: 1,
      },
      operator,
      { lease, keys: [], staleAfterMs: 1, isAlive: () => true },
    );
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('synchronous', { simple: true })).toBe(2);
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    for (const file of [path, `${path}-wal`, `${path}-shm`]) expect(statSync(file).mode & 0o777, file).toBe(0o600);
    db.close();
  });

  it('refuses a database written by a newer mesh-run, leaving it untouched', () => {
    const path = join(tmp.dir, 'newer.db');
    const raw = new Database(path);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.exec('CREATE TABLE future (x)');
    raw.close();
    expect(() => openDb(path)).toThrowError(PreconditionError);
    expect(() => openDb(path)).toThrowError(/newer than this mesh-run understands/);
    const check = new Database(path);
    expect(check.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION + 1);
    check.close();
  });

  it('exits 3 with a clear message on a file that is not a database', async () => {
    const path = join(tmp.dir, 'garbage.db');
    writeFileSync(path, 'this is not sqlite '.repeat(200));
    const result = await runCli(['runs', '--db', path]);
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/garbage\.db is not a mesh-run database/);
  });

  it('reads back a row it cannot fully parse as damaged, instead of failing every reader', async () => {
    const path = join(tmp.dir, 'damaged.db');
    const store = openSqliteStore(path);
    await store.close();
    const raw = new Database(path);
    raw
      .prepare(
        `INSERT INTO runs (id, kind, topology, mode, status, config_json, config_hash, created_at, updated_at, machine_version, error_json)
         VALUES ('mr-broken1', 'reconcile', 'primary-remote', 'dry-run', 'failed', '{not json', 'h', 1, 1, 1, '[1,2')`,
      )
      .run();
    raw.close();
    const reader = openSqliteStore(path, { readOnly: true });
    const run = await reader.runs.getRun('mr-broken1');
    await reader.close();
    expect(run).toMatchObject({ kind: 'install', storedKind: 'reconcile', config: null, error: { message: '(the recorded error is damaged)' } });
    expect(run?.damaged).toEqual(['kind', 'config', 'error']);
  });
});

describe('where the database may be', () => {
  it('fails fast on a --db under /proc, and says "not a directory" when a file is in the way', async () => {
    const started = Date.now();
    const proc = await runCli(['install', '--dry-run', '--db', '/proc/nope/x.db']);
    expect(proc.code).toBe(3);
    expect(proc.stderr).toMatch(/^mesh-run: error: cannot create the database \/proc\/nope\/x\.db: .*\(ENOENT\)$/m);
    expect(Date.now() - started).toBeLessThan(10_000);
    const file = join(tmp.dir, 'plain-file');
    writeFileSync(file, 'x');
    const blocked = await runCli(['install', '--dry-run', '--db', join(file, 'x.db')]);
    expect(blocked.code).toBe(3);
    expect(blocked.stderr).toContain(`cannot create the database ${join(file, 'x.db')}: ${file} is not a directory (ENOTDIR)`);
    expect(blocked.stderr).not.toContain('EEXIST');
  });

  it('read-only verbs never create, migrate or re-mode a file, whatever it holds', async () => {
    const cases: Array<[string, Buffer | string, RegExp]> = [
      ['empty.txt', '', /is not a mesh-run database \(it is an empty file\)/],
      ['notes.txt', 'remember the milk\n', /is not a mesh-run database/],
      ['old.db', '', /schema version 2; this mesh-run reads version/],
      ['other.db', '', /an SQLite file but not a mesh-run database/],
    ];
    for (const [name, content, message] of cases) {
      const path = join(tmp.dir, name);
      if (name === 'old.db' || name === 'other.db') {
        const raw = new Database(path);
        raw.exec('CREATE TABLE t (x)');
        if (name === 'old.db') raw.pragma('user_version = 2');
        raw.close();
      } else {
        writeFileSync(path, content);
      }
      const { chmodSync, readFileSync } = await import('node:fs');
      chmodSync(path, 0o644);
      const before = readFileSync(path);
      for (const verb of [
        ['runs'],
        ['history'],
        ['status', 'mr-x'],
        ['show', 'mr-x'],
        ['logs', 'mr-x'],
        ['report', 'mr-x', '--html', join(tmp.dir, 'r.html')],
        ['graph', '--run', 'mr-x'],
      ]) {
        const result = await runCli([...verb, '--db', path]);
        expect(result.code, `${verb[0]} on ${name}`).toBe(3);
        expect(result.stderr, `${verb[0]} on ${name}`).toMatch(message);
      }
      expect(readFileSync(path).equals(before), name).toBe(true);
      expect(statSync(path).mode & 0o777, name).toBe(0o644);
    }
  });
});
