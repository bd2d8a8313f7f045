// Opens the SQLite file with the durability settings mesh-run relies on, and migrates it.
import Database from 'better-sqlite3';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import { PreconditionError } from '../engine/errors.js';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations.js';

export type Db = Database.Database;

export interface OpenOptions {
  // Open an existing database only; never create one (for read-only commands).
  mustExist?: boolean;
}

// Opens (creating with mode 0600 if needed) and migrates the database at `path`; ':memory:' works for tests.
export function openDb(path: string, options: OpenOptions = {}): Db {
  if (path !== ':memory:') {
    if (!existsSync(path)) {
      if (options.mustExist) {
        throw new PreconditionError('store-missing', `no mesh-run database at ${path}`, { hint: 'start a run with "mesh-run install", or pass --db with the file you used' });
      }
      try {
        mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
        // Create the file first, so SQLite's -wal and -shm files inherit 0600 from it.
        closeSync(openSync(path, 'a', 0o600));
        chmodSync(path, 0o600);
      } catch (error) {
        throw new PreconditionError('store-unwritable', `cannot create the database ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, {
          hint: 'pass --db with a writable path, or set MESH_RUN_DB',
          cause: error,
        });
      }
    }
  }
  let db: Db;
  try {
    db = new Database(path, { timeout: 10_000 });
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    migrate(db);
  } catch (error) {
    if (error instanceof PreconditionError) throw error;
    const full = diskFullNote(path);
    throw new PreconditionError('store-unusable', `cannot use the database ${path}: ${(error as Error).message}${full ? ` (${full})` : ''}`, {
      hint: full ? 'free disk space, then run the command again' : 'check the file is a mesh-run database on a local, writable file system',
      cause: error,
    });
  }
  return db;
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
