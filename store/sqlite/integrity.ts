// Damage in the SQLite file: how a writer finds it before it writes, and how it is worded.
//
// A writer runs PRAGMA quick_check when it opens the file (it reads every page: 0.85 to 1.6 s on the 260 MiB
// of a million step attempts, see docs/benchmarks.md), unless the file is exactly as the last writer that closed it cleanly
// left it. That writer records the file's identity (device, inode, size, mtime and ctime in nanoseconds) in a
// stamp beside it; anything else that writes the file (a tool, a copy put in its place, a crashed driver's WAL)
// changes one of them, and the next writer checks again. Damage that changes none of them (the disk itself) is
// found when a page is read (SQLITE_CORRUPT), which drops the stamp. `mesh-run store check` runs the full
// integrity_check on demand.
import { existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type Database from 'better-sqlite3';

type Db = Database.Database;

// SQLITE_CORRUPT (and its extended codes) and SQLITE_NOTADB: the file's pages do not hold what SQLite wrote.
export function isDamage(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^SQLITE_(CORRUPT|NOTADB)/.test(code);
}

function quoted(path: string): string {
  return /^[\w@%+=:,./-]+$/.test(path) ? path : `'${path.replaceAll("'", "'\\''")}'`;
}

// Where `store recover` puts what it saves of `path` unless told otherwise: mesh-run.db -> mesh-run-recovered.db.
export function recoveredPath(path: string): string {
  return /\.db$/.test(path) ? path.replace(/\.db$/, '-recovered.db') : `${path}-recovered`;
}

// What to do about a damaged journal: copy what still reads back into a new file, then use that one.
export function damagedHint(path: string): string {
  const to = recoveredPath(path);
  return `copy what still reads back into a new file: mesh-run store recover --from ${quoted(path)} --to ${quoted(to)}; then pass --db ${quoted(to)}, or move it in place of ${quoted(path)}`;
}

// The problems PRAGMA quick_check (or integrity_check, `full`) reports; none when the file is intact. A file
// too damaged to check throws SQLITE_CORRUPT or SQLITE_NOTADB, which callers word as damage too.
export function integrityProblems(db: Db, full = false): string[] {
  const rows = db.pragma(full ? 'integrity_check' : 'quick_check') as Array<Record<string, string>>;
  const lines = rows.map((row) => String(Object.values(row)[0]));
  if (lines.length === 1 && lines[0] === 'ok') return [];
  // "*** in database main ***" heads the list; the lines after it name pages and tables.
  return lines.flatMap((line) => line.split('\n')).filter((line) => line !== '' && !line.startsWith('***'));
}

// One line for a message: the first problem, and how many more there are.
export function summarizeProblems(problems: readonly string[]): string {
  const [first = 'unknown damage'] = problems;
  return problems.length > 1 ? `${first} (and ${problems.length - 1} more)` : first;
}

const stampPath = (path: string) => `${path}-checked`;

interface Stamp {
  dev: string;
  ino: string;
  size: string;
  mtimeNs: string;
  ctimeNs: string;
}

function identity(path: string): Stamp {
  const s = statSync(path, { bigint: true });
  return { dev: String(s.dev), ino: String(s.ino), size: String(s.size), mtimeNs: String(s.mtimeNs), ctimeNs: String(s.ctimeNs) };
}

// A WAL with frames holds writes the main file does not have yet (a driver running, or one that crashed).
function walPending(path: string): boolean {
  try {
    return statSync(`${path}-wal`).size > 0;
  } catch {
    return false;
  }
}

// Whether the file is exactly as a writer that had it checked left it when it closed (then it needs no check).
export function stampMatches(path: string): boolean {
  if (walPending(path) || !existsSync(stampPath(path))) return false;
  try {
    const stamp = JSON.parse(readFileSync(stampPath(path), 'utf8')) as Partial<Stamp>;
    const now = identity(path);
    return (Object.keys(now) as Array<keyof Stamp>).every((key) => stamp[key] === now[key]);
  } catch {
    return false;
  }
}

// After a writer closed the file cleanly, records it as checked. Best effort: without a stamp the next writer
// only checks again. Not when another connection still has writes in the WAL: it stamps when it closes.
export function writeStamp(path: string): void {
  if (walPending(path)) return;
  try {
    const tmp = `${stampPath(path)}.${process.pid}`;
    writeFileSync(tmp, `${JSON.stringify(identity(path))}\n`, { mode: 0o600 });
    renameSync(tmp, stampPath(path));
  } catch {
    // A read-only directory, a full disk: the next writer checks the file again.
  }
}

// Forgets that the file was checked (damage was seen): the next writer checks it again.
export function dropStamp(path: string): void {
  try {
    rmSync(stampPath(path), { force: true });
  } catch {
    // A stamp that cannot be removed sits in a directory no writer can use (SQLite needs it for its -wal).
  }
}
