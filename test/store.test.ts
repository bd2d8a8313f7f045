import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { PreconditionError } from '../shared/errors.js';
import { SCHEMA_VERSION } from '../store/migrations.js';
import { openDb } from '../store/open-db.js';
import { createSqliteRunStore } from '../store/sqlite-run-store.js';
import type { LeaseHolder } from '../store/types.js';
import { runCli, tempDir } from './support/cli.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const operator = { user: 'alice', host: 'laptop', pid: 1 };
function newRun(store: ReturnType<typeof createSqliteRunStore>, id = 'mr-test') {
  store.createRun(
    { id, kind: 'install', topology: 'primary-remote', mode: 'dry-run', configJson: '{}', configHash: 'h', configPath: null, createdAt: 1, machineVersion: 1 },
    operator,
  );
}

describe('the SQLite store', () => {
  it('creates the database and its WAL files with mode 0600, in WAL mode with synchronous=FULL', () => {
    const path = join(tmp.dir, 'nested', 'dir', 'a.db');
    const db = openDb(path);
    newRun(createSqliteRunStore(db));
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

  it('keeps every attempt and closes only the open one when a transition commits', () => {
    const store = createSqliteRunStore(openDb(':memory:'));
    newRun(store);
    const a1 = store.openAttempt('mr-test', '{"s":1}', { step: 'install-primary', cluster: 'c1', context: 'c1' }, 10);
    store.closeAttempt(a1.id, 'failed', { message: 'boom' }, 11);
    const a2 = store.openAttempt('mr-test', null, { step: 'install-primary', cluster: 'c1', context: 'c1' }, 12);
    expect(a2.attempt).toBe(2);
    store.commitTransition('mr-test', '{"s":2}', [{ step: 'install-primary', cluster: 'c1', outcome: 'succeeded', at: 13 }], 13);
    expect(store.listAttempts('mr-test').map((a) => [a.attempt, a.outcome, a.endedAt])).toEqual([
      [1, 'failed', 11],
      [2, 'succeeded', 13],
    ]);
    expect(store.getRun('mr-test')?.snapshotJson).toBe('{"s":2}');
  });
});

describe('run leases', () => {
  const holder = (token: string, pid: number, heartbeat: number): LeaseHolder => ({ token, pid, host: 'laptop', user: 'alice', heartbeat });

  it('lets one process hold a run; a second is refused while the first is alive', () => {
    const store = createSqliteRunStore(openDb(':memory:'));
    newRun(store);
    expect(store.acquireLease('mr-test', holder('a', 100, 1000), 30_000, () => true)).toEqual({ acquired: true });
    const second = store.acquireLease('mr-test', holder('b', 200, 2000), 30_000, () => true);
    expect(second).toMatchObject({ acquired: false, holder: { pid: 100, token: 'a' } });
  });

  it('takes over from a holder that died or stopped heart-beating, and says from whom', () => {
    const store = createSqliteRunStore(openDb(':memory:'));
    newRun(store);
    store.acquireLease('mr-test', holder('a', 100, 1000), 30_000, () => true);
    expect(store.acquireLease('mr-test', holder('b', 200, 2000), 30_000, () => false)).toMatchObject({ acquired: true, tookOverFrom: { pid: 100 } });
    expect(store.acquireLease('mr-test', holder('c', 300, 2000 + 30_001), 30_000, () => true)).toMatchObject({ acquired: true, tookOverFrom: { pid: 200 } });
    expect(store.heartbeat('mr-test', 'b', 5)).toBe(false);
    expect(store.heartbeat('mr-test', 'c', 5)).toBe(true);
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
