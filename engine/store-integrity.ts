// Is the journal's file intact (mesh-run store check), and saving what reads back from a damaged one (mesh-run
// store recover). Both are about an SQLite file: a PostgreSQL server checks its own pages.
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { PreconditionError, UsageError } from '../shared/errors.js';
import type { StoreLocation } from '../store/location.js';
import { damagedHint, integrityProblems, isDamage } from '../store/sqlite/integrity.js';
import { openDb } from '../store/sqlite/open-db.js';
import { type RecoveryReport, recoverSqlite } from '../store/sqlite/recover.js';

export type { RecoveryReport } from '../store/sqlite/recover.js';

export interface CheckReport {
  path: string;
  check: 'integrity_check' | 'quick_check';
  pages: number;
  bytes: number;
  elapsedMs: number;
  // One line per problem SQLite found; none when the file is intact.
  problems: string[];
  // What to do when it is damaged.
  hint?: string;
}

function sqlitePath(location: StoreLocation, flag: string): string {
  if (location.kind !== 'sqlite')
    throw new UsageError(`${flag}: store check and store recover work on an SQLite file; a PostgreSQL server checks its own pages (data checksums, amcheck)`);
  if (location.path === ':memory:') throw new UsageError(`${flag}: name a file, not :memory:`);
  return location.path;
}

// Reads every page of the file (integrity_check, or the cheaper quick_check); changes nothing.
export async function checkStore(location: StoreLocation, options: { quick: boolean }): Promise<CheckReport> {
  const path = sqlitePath(location, location.kind === 'sqlite' ? '--db' : '--store');
  const check = options.quick ? 'quick_check' : 'integrity_check';
  const started = performance.now();
  const report = (problems: string[], pages: number): CheckReport => ({
    path,
    check,
    pages,
    bytes: statSync(path).size,
    elapsedMs: performance.now() - started,
    problems,
    ...(problems.length ? { hint: damagedHint(path) } : {}),
  });
  let db: ReturnType<typeof openDb>;
  try {
    db = openDb(path, { readOnly: true });
  } catch (error) {
    // A file too damaged to open is what this verb is asked about: it reports, it does not refuse.
    if (error instanceof PreconditionError && error.code === 'store-damaged') return report([error.message], 0);
    throw error;
  }
  let pages = 0;
  try {
    pages = db.pragma('page_count', { simple: true }) as number;
    return report(integrityProblems(db, !options.quick), pages);
  } catch (error) {
    if (!isDamage(error)) throw error;
    return report([(error as Error).message], pages);
  } finally {
    db.close();
  }
}

// Copies what reads back from `from` into the new file `to`; `from` is only read.
export async function recoverStore(from: StoreLocation, to: StoreLocation): Promise<RecoveryReport & { from: string; to: string }> {
  const source = sqlitePath(from, '--from');
  const target = sqlitePath(to, '--to');
  if (resolve(source) === resolve(target))
    throw new UsageError('--from and --to name the same file: recover writes a new file and never changes the damaged one');
  if (!existsSync(source)) throw new UsageError(`--from: no file at ${source}`);
  if (existsSync(target)) throw new UsageError(`--to: ${target} exists; name a new file (recover never writes into an existing one)`);
  return { from: source, to: target, ...recoverSqlite(source, target) };
}
