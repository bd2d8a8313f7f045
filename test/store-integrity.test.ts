// A damaged SQLite journal (bytes flipped in a page in the middle of the file): writers refuse it before
// writing, readers say it is damaged, the hint they give recovers what reads back, and the check a writer
// skips is skipped only for a file exactly as the last writer left it.
import { copyFileSync, existsSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreError } from '../shared/errors.js';
import { openSqliteStore } from '../store/sqlite/index.js';
import { stampMatches } from '../store/sqlite/integrity.js';
import { type CliResult, runIdFrom, tempDir } from './support/cli.js';
import { runCli } from './support/cli-here.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const FAST = ['--dry-run', '--sim-lb-delay', '0', '-q'];
const PAGE = 4096;

// A small deterministic generator (mulberry32): the same flips on every run of the test.
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// The leaf page of step_attempts nearest the middle of the file: `runs` and `status` read it.
function middleAttemptsPage(path: string): number {
  const db = new Database(path, { readonly: true });
  try {
    const pages = db.pragma('page_count', { simple: true }) as number;
    const leaves = (db.prepare(`SELECT pageno FROM dbstat WHERE name = 'step_attempts' AND pagetype = 'leaf'`).all() as Array<{ pageno: number }>).map(
      (r) => r.pageno,
    );
    return leaves.sort((a, b) => Math.abs(a - pages / 2) - Math.abs(b - pages / 2))[0] as number;
  } finally {
    db.close();
  }
}

// Flips 20 bytes at random positions of one page, as a failing disk or a stray write would.
function flipBytes(path: string, page: number, seed: number): void {
  const bytes = readFileSync(path);
  const random = seeded(seed);
  for (let i = 0; i < 20; i++) {
    const at = (page - 1) * PAGE + Math.floor(random() * PAGE);
    bytes[at] = (bytes[at] as number) ^ 0xff;
  }
  writeFileSync(path, bytes);
}

function quickCheck(path: string): string[] {
  const db = new Database(path, { readonly: true });
  try {
    return (db.pragma('quick_check') as Array<{ quick_check: string }>).map((r) => r.quick_check);
  } finally {
    db.close();
  }
}

function readAllAttempts(path: string): void {
  const db = new Database(path, { readonly: true });
  try {
    db.prepare('SELECT * FROM step_attempts').all();
  } finally {
    db.close();
  }
}

let journal: string;
let runIds: string[];
let attemptsBefore: number;

// Four dry-run installs, then the damage.
beforeAll(async () => {
  journal = join(tmp.dir, 'journal.db');
  runIds = [];
  for (let i = 0; i < 4; i++) {
    const result = await runCli(['install', ...FAST, '--db', journal]);
    expect(result.code, result.stderr).toBe(0);
    runIds.push(runIdFrom(result));
  }
  const intact = new Database(journal, { readonly: true });
  attemptsBefore = (intact.prepare('SELECT count(*) AS n FROM step_attempts').get() as { n: number }).n;
  intact.close();
  flipBytes(journal, middleAttemptsPage(journal), 27);
  // The premise: SQLite itself calls the file malformed, and reading the attempts runs into it.
  expect(quickCheck(journal)).not.toEqual(['ok']);
  expect(() => readAllAttempts(journal)).toThrowError(expect.objectContaining({ code: 'SQLITE_CORRUPT' }));
}, 120_000);

const damaged = (r: CliResult) => expect(r.stderr).toMatch(/^mesh-run: error: the database \S+ is damaged: /m);

describe('a damaged SQLite journal', () => {
  it('install --dry-run exits 3 saying the database is damaged, and the file is byte for byte as it was', async () => {
    const before = readFileSync(journal);
    const install = await runCli(['install', ...FAST, '--db', journal]);
    expect(install.code, install.stderr).toBe(3);
    damaged(install);
    expect(install.stderr).toContain('mesh-run: hint: copy what still reads back into a new file: mesh-run store recover --from');
    expect(install.stdout).not.toMatch(/^run mr-/m);
    expect(readFileSync(journal).equals(before)).toBe(true);
    // Nor does a resume or a follow-up write into it.
    const resume = await runCli(['resume', runIds[0] as string, '--db', journal, '-q']);
    expect(resume.code, resume.stderr).toBe(3);
    const verify = await runCli(['verify', '--run', runIds[3] as string, '--db', journal, '-q']);
    expect(verify.code, verify.stderr).toBe(3);
    damaged(verify);
    expect(readFileSync(journal).equals(before)).toBe(true);
  });

  it('read verbs (runs, status) exit 3 saying it is damaged, not that a write failed', async () => {
    const runs = await runCli(['runs', '--db', journal]);
    expect(runs.code, runs.stderr).toBe(3);
    damaged(runs);
    expect(runs.stderr).not.toContain('cannot write');
    const statuses = await Promise.all(runIds.map((id) => runCli(['status', id, '--db', journal])));
    // A run whose rows are all on intact pages still shows; one that reads the damaged page says so.
    const refused = statuses.filter((s) => s.code !== 0);
    expect(refused.length).toBeGreaterThan(0);
    for (const s of refused) {
      expect(s.code, s.stderr).toBe(3);
      damaged(s);
      expect(s.stderr).not.toContain('cannot write');
    }
  });

  it('store check lists the damage (exit 3); the hint the refusal gives recovers what reads back into a file mesh-run uses', async () => {
    const check = await runCli(['store', 'check', '--db', journal]);
    expect(check.code).toBe(3);
    expect(check.stdout).toMatch(/the database \S+ is damaged: \d+ problems? \(integrity_check of \d+ pages/);
    const copy = join(tmp.dir, 'hinted.db');
    copyFileSync(journal, copy);
    const refusal = await runCli(['install', ...FAST, '--db', copy]);
    // The hint, run as given.
    const hinted = /mesh-run store recover (--from \S+ --to \S+);/.exec(refusal.stderr)?.[1]?.split(' ');
    expect(hinted, refusal.stderr).toBeDefined();
    const recovered = (hinted as string[])[3] as string;
    const recover = await runCli(['store', 'recover', ...(hinted as string[])]);
    expect(recover.code, recover.stderr).toBe(0);
    expect(recover.stdout).toMatch(/^ {2}4 runs$/m);
    // The rows on the damaged page are lost (or left out), the others are all there.
    const saved = Number(/^ {2}(\d+) step attempts; \d+ unreadable stretch/m.exec(recover.stdout)?.[1]);
    expect(saved).toBeGreaterThan(0);
    expect(saved).toBeLessThan(attemptsBefore);
    const db = new Database(recovered, { readonly: true });
    expect(db.prepare('SELECT count(*) AS n FROM step_attempts').get()).toEqual({ n: saved });
    db.close();
    expect(readFileSync(copy).equals(readFileSync(journal))).toBe(true);
    expect(quickCheck(recovered)).toEqual(['ok']);
    const runs = await runCli(['runs', '--json', '--db', recovered]);
    expect(runs.code, runs.stderr).toBe(0);
    expect((JSON.parse(runs.stdout) as Array<{ id: string }>).map((r) => r.id).sort()).toEqual([...runIds].sort());
    expect((await runCli(['store', 'check', '--db', recovered])).code).toBe(0);
    const install = await runCli(['install', ...FAST, '--db', recovered]);
    expect(install.code, install.stderr).toBe(0);
    // Recover writes only a new file.
    expect((await runCli(['store', 'recover', '--from', copy, '--to', recovered])).code).toBe(2);
  });
});

describe('the check a writer runs at open', () => {
  it('is skipped only for a file exactly as the last writer left it: any other write, even one that restores the mtime, makes it run', async () => {
    const path = join(tmp.dir, 'stamped.db');
    const store = openSqliteStore(path);
    await store.close();
    expect(existsSync(`${path}-checked`)).toBe(true);
    expect(stampMatches(path)).toBe(true);
    const { mtime } = statSync(path);
    writeFileSync(path, readFileSync(path));
    utimesSync(path, mtime, mtime);
    expect(stampMatches(path)).toBe(false);
  });

  it('damage a skipped check missed (the file unchanged to the stamp, say a failing disk) is found on read, said, and the stamp dropped', async () => {
    const path = join(tmp.dir, 'rotted.db');
    copyFileSync(journal, path);
    // Forge a stamp for the damaged file, as if a writer had left it so.
    const s = statSync(path, { bigint: true });
    writeFileSync(
      `${path}-checked`,
      JSON.stringify({ dev: String(s.dev), ino: String(s.ino), size: String(s.size), mtimeNs: String(s.mtimeNs), ctimeNs: String(s.ctimeNs) }),
    );
    expect(stampMatches(path)).toBe(true);
    const store = openSqliteStore(path);
    const reads = await Promise.allSettled(runIds.map((id) => store.runs.listAttempts(id)));
    await store.close();
    const failed = reads.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(failed.length).toBeGreaterThan(0);
    for (const f of failed) {
      expect(f.reason).toBeInstanceOf(StoreError);
      expect((f.reason as Error).message).toMatch(/is damaged: database disk image is malformed \(SQLITE_CORRUPT\)/);
    }
    expect(existsSync(`${path}-checked`)).toBe(false);
    const install = await runCli(['install', ...FAST, '--db', path]);
    expect(install.code, install.stderr).toBe(3);
    damaged(install);
  });
});
