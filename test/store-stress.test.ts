// The journal under stress: full disk, read-only file system, truncated file, newer schema.
// Each must end in a clear message and exit 3, with the data already there left intact.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { SCHEMA_VERSION } from '../store/sqlite/migrations.js';
import { runIdFrom, tempDir } from './support/cli.js';
import { runCli } from './support/cli-here.js';

const tmp = tempDir();
const mounts: string[] = [];
afterAll(() => {
  for (const m of mounts.reverse()) {
    try {
      execFileSync('umount', [m]);
    } catch {
      // already gone
    }
  }
  tmp.cleanup();
});

// A small tmpfs of our own; the tests that need one are skipped (and counted as skipped) where mounting is not allowed.
function mountTmpfs(name: string, size: string): string | undefined {
  const dir = join(tmp.dir, name);
  mkdirSync(dir);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  mounts.push(dir);
  return dir;
}

const canMount = (() => {
  try {
    return process.getuid?.() === 0 && execFileSync('id', ['-u']).toString().trim() === '0';
  } catch {
    return false;
  }
})();

const FAST = ['--dry-run', '--sim-lb-delay', '0', '-q'];

describe('store under stress', () => {
  it.skipIf(!canMount)('full disk: exit 3 with a clear message; earlier runs intact; resume after freeing space', async () => {
    // Big enough for a first run and its WAL (which grows to a few MiB before a checkpoint).
    const dir = mountTmpfs('full', '16m') as string;
    expect(dir).toBeDefined();
    const db = join(dir, 'mesh-run.db');
    const first = await runCli(['install', ...FAST, '--db', db]);
    expect(first.code).toBe(0);
    const firstId = runIdFrom(first);
    // Leave a few pages free: the next run starts and then cannot write.
    const free = () => Number(execFileSync('df', ['--output=avail', '-B1', dir]).toString().split('\n')[1]);
    writeFileSync(join(dir, 'filler'), Buffer.alloc(Math.max(0, free() - 24 * 1024)));
    const second = await runCli(['install', ...FAST, '--db', db]);
    expect(second.code).toBe(3);
    expect(second.stderr).toMatch(/mesh-run: error: cannot (write the journal|use the database|create the database) .*the disk is full: \d+ KiB free/);
    expect(second.stderr).not.toMatch(/\n\s+at /);
    writeFileSync(join(dir, 'filler'), '');
    const runs = JSON.parse((await runCli(['runs', '--db', db, '--json'])).stdout) as Array<{ id: string; status: string }>;
    expect(runs.find((r) => r.id === firstId)?.status).toBe('succeeded');
    const secondId = /^run (mr-\w+)/m.exec(second.stdout)?.[1];
    if (secondId) {
      const resumed = await runCli(['resume', secondId, '--db', db, '-q']);
      expect(resumed.code, resumed.stderr).toBe(0);
    } else {
      expect(runs).toHaveLength(1);
    }
  });

  it.skipIf(!canMount)('read-only file system: exit 3, data intact', async () => {
    const dir = mountTmpfs('ro', '4m') as string;
    const db = join(dir, 'mesh-run.db');
    const first = await runCli(['install', ...FAST, '--db', db]);
    expect(first.code).toBe(0);
    const before = readFileSync(db);
    execFileSync('mount', ['-o', 'remount,ro', dir]);
    const install = await runCli(['install', ...FAST, '--db', db]);
    expect(install.code).toBe(3);
    expect(install.stderr).toMatch(/mesh-run: error: cannot use the database .*(readonly|read-only|unable to open)/i);
    expect(install.stderr.trim().split('\n')).toHaveLength(2);
    execFileSync('mount', ['-o', 'remount,rw', dir]);
    expect(readFileSync(db).equals(before)).toBe(true);
    const status = await runCli(['status', runIdFrom(first), '--db', db, '--json']);
    expect(JSON.parse(status.stdout).run.status).toBe('succeeded');
  });

  it('truncated database: exit 3, and the file is left as it was', async () => {
    const db = join(tmp.dir, 'truncated.db');
    expect((await runCli(['install', ...FAST, '--db', db])).code).toBe(0);
    truncateSync(db, Math.floor(statSync(db).size / 2));
    const before = readFileSync(db);
    for (const args of [['runs'], ['install', ...FAST]]) {
      const result = await runCli([...args, '--db', db]);
      expect(result.code, args.join(' ')).toBe(3);
      expect(result.stderr).toMatch(/mesh-run: error: the database \S+ is damaged: .*(malformed|not a database|corrupt)/i);
    }
    expect(readFileSync(db).equals(before)).toBe(true);
  });

  it('database from a newer mesh-run: exit 3, untouched', async () => {
    const db = join(tmp.dir, 'newer.db');
    expect((await runCli(['install', ...FAST, '--db', db])).code).toBe(0);
    const raw = new Database(db);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 7}`);
    raw.close();
    const copy = join(tmp.dir, 'newer-copy.db');
    copyFileSync(db, copy);
    const result = await runCli(['runs', '--db', db]);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(`schema version ${SCHEMA_VERSION + 7}, newer than this mesh-run understands (${SCHEMA_VERSION})`);
    expect(readFileSync(db).equals(readFileSync(copy))).toBe(true);
  });
});
