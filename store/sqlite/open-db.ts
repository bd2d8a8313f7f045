// Opens the SQLite file with the durability settings mesh-run relies on, and migrates it.

import { accessSync, chmodSync, closeSync, constants, existsSync, mkdirSync, openSync, readSync, statfsSync, statSync } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';
import Database from 'better-sqlite3';
import { PreconditionError } from '../../shared/errors.js';
import { damagedHint, integrityProblems, isDamage, stampMatches, summarizeProblems } from './integrity.js';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations.js';

export type Db = Database.Database;

export interface OpenOptions {
  // Open an existing database only; never create one.
  mustExist?: boolean;
  // Read-only verbs: open read-only, never create, migrate, or change a mode; refuse what is not a
  // mesh-run database before SQLite touches it.
  readOnly?: boolean;
}

const SQLITE_HEADER = 'SQLite format 3\0';
// How long a statement waits for another process's write lock. SQLite waits without yielding, so this also
// bounds how long a Ctrl-C can go unanswered; every transaction mesh-run writes takes milliseconds.
export const BUSY_TIMEOUT_MS = 2000;
const MISSING_HINT = 'start a run with "mesh-run install", or pass --db with the file you used';

// Creates `dir` and its missing parents (mode 0700), one level at a time: a recursive mkdir can spin on
// special file systems such as /proc, and reports a file in the way as EEXIST rather than "not a directory".
export function makeDirs(dir: string): void {
  const missing: string[] = [];
  let current = resolvePath(dir);
  for (;;) {
    let stat: ReturnType<typeof statSync> | undefined;
    try {
      stat = statSync(current);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    if (stat) {
      if (!stat.isDirectory()) throw Object.assign(new Error(`${current} is not a directory`), { code: 'ENOTDIR' });
      break;
    }
    missing.unshift(current);
    const parent = dirname(current);
    if (parent === current) break;
    current = parent;
  }
  for (const d of missing) mkdirSync(d, { mode: 0o700 });
}

const ERRNO: Record<string, string> = {
  ENOTDIR: 'not a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOENT: 'no such file or directory (the file system does not allow creating it)',
  ENOSPC: 'no space left on the device',
  EEXIST: 'a file is in the way',
};

function describeErrno(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  if (e.code === 'ENOTDIR' && e.message.endsWith('is not a directory')) return `${e.message} (ENOTDIR)`;
  const what = e.code ? ERRNO[e.code] : undefined;
  return what ? `${what} (${e.code})` : (e.code ?? e.message);
}

// Opens (creating with mode 0600 if needed) and migrates the database at `path`; ':memory:' works for tests.
export function openDb(path: string, options: OpenOptions = {}): Db {
  if (options.readOnly) return openReadOnly(path);
  if (path !== ':memory:') {
    if (!existsSync(path)) {
      if (options.mustExist) throw new PreconditionError('store-missing', `no mesh-run database at ${path}`, { hint: MISSING_HINT });
      try {
        makeDirs(dirname(path));
        // Create the file first, so SQLite's -wal and -shm files inherit 0600 from it.
        closeSync(openSync(path, 'a', 0o600));
        chmodSync(path, 0o600);
      } catch (error) {
        throw new PreconditionError('store-unwritable', `cannot create the database ${path}: ${describeErrno(error)}`, {
          hint: 'pass --db with a writable path, or set MESH_RUN_DB',
          cause: error,
        });
      }
    }
  }
  let db: Db | undefined;
  try {
    if (path !== ':memory:') checkHeader(path, true);
    db = new Database(path, { timeout: BUSY_TIMEOUT_MS });
    // Before anything is written: a write into a damaged file can spread the damage and loses the run it writes.
    if (path !== ':memory:' && !stampMatches(path)) {
      const problems = integrityProblems(db);
      if (problems.length) throw damagedError(path, summarizeProblems(problems));
    }
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    migrate(db);
  } catch (error) {
    db?.close();
    if (error instanceof PreconditionError) throw error;
    if (isDamage(error)) throw damagedError(path, (error as Error).message, error);
    if (/^SQLITE_(BUSY|LOCKED)/.test(String((error as { code?: unknown }).code ?? ''))) {
      throw new PreconditionError('store-busy', `the database ${path} is busy (held by another process)`, {
        hint: 'another mesh-run (or a tool with the file open) holds a write lock; run the command again when it lets go',
        cause: error,
      });
    }
    const dir = unwritableDirectory(path);
    if (dir) throw dir;
    const full = diskFullNote(path);
    throw new PreconditionError('store-unusable', `cannot use the database ${path}: ${(error as Error).message}${full ? ` (${full})` : ''}`, {
      hint: full ? 'free disk space, then run the command again' : 'check the file is a mesh-run database on a local, writable file system',
      cause: error,
    });
  }
  return db;
}

// The file's pages do not hold what SQLite wrote: nothing is written into it (exit 3), and the hint says how to
// save what still reads back.
export function damagedError(path: string, detail: string, cause?: unknown): PreconditionError {
  return new PreconditionError('store-damaged', `the database ${path} is damaged: ${detail}`, {
    hint: damagedHint(path),
    ...(cause === undefined ? {} : { cause }),
  });
}

// SQLite keeps -wal and -shm files beside the database, so even reading needs its directory writable (once
// those files are gone): say so, rather than "attempt to write a readonly database".
function unwritableDirectory(path: string): PreconditionError | undefined {
  if (path === ':memory:') return undefined;
  const dir = dirname(resolvePath(path));
  try {
    accessSync(dir, constants.W_OK);
    return undefined;
  } catch (error) {
    return new PreconditionError(
      'store-unusable',
      `cannot use the database ${path}: its directory ${dir} is not writable: ${describeErrno(error)}; SQLite keeps its -wal and -shm files beside the database`,
      {
        hint: 'make the directory writable, or copy the database into a writable one and pass --db',
      },
    );
  }
}

// A file that is not an SQLite database is refused before SQLite opens (and would rewrite) it; an empty
// file is acceptable only to a command that creates the database.
function checkHeader(path: string, emptyIsNew: boolean): void {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(16);
    const read = readSync(fd, head, 0, 16, 0);
    if (read === 0 && emptyIsNew) {
      // An empty file becomes the journal: private, like one mesh-run creates.
      chmodSync(path, 0o600);
      return;
    }
    if (read < 16 || head.toString('latin1') !== SQLITE_HEADER) {
      throw new PreconditionError('store-not-database', `${path} is not a mesh-run database${read === 0 ? ' (it is an empty file)' : ''}`, {
        hint: 'pass --db with the file mesh-run created (default: $XDG_STATE_HOME/mesh-run/mesh-run.db)',
      });
    }
  } finally {
    closeSync(fd);
  }
}

// The read-only verbs' way in: nothing is created, migrated or re-moded, whatever the file is.
function openReadOnly(path: string): Db {
  let stat: ReturnType<typeof statSync>;
  try {
    stat = statSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new PreconditionError('store-missing', `no mesh-run database at ${path}`, { hint: MISSING_HINT });
    throw new PreconditionError('store-unusable', `cannot read the database ${path}: ${describeErrno(error)}`, { cause: error });
  }
  if (!stat.isFile())
    throw new PreconditionError('store-not-database', `${path} is not a mesh-run database (not a regular file)`, {
      hint: 'pass --db with the file mesh-run created',
    });
  let db: Db | undefined;
  try {
    checkHeader(path, false);
    db = new Database(path, { readonly: true, fileMustExist: true, timeout: BUSY_TIMEOUT_MS });
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new PreconditionError('store-newer', `the database has schema version ${version}, newer than this mesh-run understands (${SCHEMA_VERSION})`, {
        hint: 'upgrade mesh-run, or pass --db with another file',
      });
    }
    if (version === 0)
      throw new PreconditionError('store-not-database', `${path} is an SQLite file but not a mesh-run database`, {
        hint: 'pass --db with the file mesh-run created',
      });
    if (version < SCHEMA_VERSION) {
      throw new PreconditionError('store-older', `the database ${path} has schema version ${version}; this mesh-run reads version ${SCHEMA_VERSION}`, {
        hint: 'a command that writes (install, resume, verify or uninstall) upgrades it; read-only commands never change the file',
      });
    }
    return db;
  } catch (error) {
    db?.close();
    if (error instanceof PreconditionError) throw error;
    if (isDamage(error)) throw damagedError(path, (error as Error).message, error);
    const dir = unwritableDirectory(path);
    if (dir) throw dir;
    throw new PreconditionError('store-unusable', `cannot read the database ${path}: ${(error as Error).message}`, {
      hint: 'check the file is a mesh-run database on a local file system',
      cause: error,
    });
  }
}

// "the disk is full: 12 KiB free" when the file system holding `path` is (nearly) full; SQLite often
// reports that as a plain I/O error.
export function diskFullNote(path: string): string | undefined {
  if (path === ':memory:' || path === '') return undefined;
  try {
    const fs = statfsSync(dirname(path));
    const free = fs.bavail * fs.bsize;
    return free < 256 * 1024 ? `the disk is full: ${Math.floor(free / 1024)} KiB free` : undefined;
  } catch {
    return undefined;
  }
}

// Applies pending migrations in one transaction; refuses databases written by a newer mesh-run.
// The version is read again under the write lock: several processes may open a new file at once.
export function migrate(db: Db): void {
  const newer = (version: number) =>
    new PreconditionError('store-newer', `the database has schema version ${version}, newer than this mesh-run understands (${SCHEMA_VERSION})`, {
      hint: 'upgrade mesh-run, or pass --db with another file',
    });
  const seen = db.pragma('user_version', { simple: true }) as number;
  if (seen > SCHEMA_VERSION) throw newer(seen);
  if (seen === SCHEMA_VERSION) return;
  db.transaction(() => {
    const current = db.pragma('user_version', { simple: true }) as number;
    if (current > SCHEMA_VERSION) throw newer(current);
    for (const migration of MIGRATIONS) {
      if (migration.version <= current) continue;
      db.exec(migration.sql);
      db.pragma(`user_version = ${migration.version}`);
    }
  }).immediate();
}
