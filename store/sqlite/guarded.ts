// Every SQLite store method's errors in mesh-run's words, and the promise the contract returns: the
// synchronous driver has settled it already.
import { StoreError } from '../../shared/errors.js';
import { damagedHint, isDamage } from './integrity.js';
import { diskFullNote } from './open-db.js';

// Turns SQLite's errors into StoreErrors that say what happened and what to do.
export function asStoreError(error: unknown, path: string): unknown {
  if (error instanceof StoreError || !(error instanceof Error) || !('code' in error) || !String((error as { code: unknown }).code).startsWith('SQLITE_'))
    return error;
  const code = String((error as { code: unknown }).code);
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new StoreError(`the database ${path} is busy (held by another process)`, {
      hint: 'another mesh-run (or a tool with the file open) holds a write lock; when it lets go, run the command again ("mesh-run resume" continues a run)',
      cause: error,
      busy: true,
    });
  }
  // A read runs into damage as often as a write: say what the file is, not which of them failed.
  if (isDamage(error)) return new StoreError(`the database ${path} is damaged: ${error.message} (${code})`, { hint: damagedHint(path), cause: error });
  const full = diskFullNote(path);
  if (full)
    return new StoreError(`cannot write the journal ${path}: ${error.message} (${full})`, {
      hint: 'free disk space, then "mesh-run resume" the run',
      cause: error,
    });
  if (code === 'SQLITE_READONLY_DIRECTORY' || code === 'SQLITE_CANTOPEN') {
    return new StoreError(
      `cannot write the journal ${path}: ${error.message} (${code}); SQLite keeps its -wal and -shm files beside the database, so its directory must be writable`,
      { hint: 'make the directory writable, or pass --db with a path in a writable one', cause: error },
    );
  }
  const hint =
    code === 'SQLITE_FULL'
      ? 'free disk space, then "mesh-run resume" the run'
      : code.startsWith('SQLITE_READONLY')
        ? 'the database or its directory is read-only; make it writable, or pass --db with a writable path'
        : 'check the file is an intact mesh-run database on a local file system';
  return new StoreError(`cannot write the journal ${path}: ${error.message} (${code})`, { hint, cause: error });
}

// The synchronous shape of an asynchronous contract: what better-sqlite3 code implements.
export type Synchronous<T> = { [K in keyof T]: T[K] extends (...args: infer A) => Promise<infer R> ? (...args: A) => R : T[K] };

// Wraps every method: callers see StoreError, never a raw driver error, and get a promise (the contract's
// shape), which the synchronous driver has already settled.
export function guarded<T extends object>(target: Synchronous<T>, path: string): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(target)) {
    if (typeof value !== 'function') continue;
    wrapped[name] = (...args: unknown[]) => {
      try {
        return Promise.resolve((value as (...a: unknown[]) => unknown)(...args));
      } catch (error) {
        return Promise.reject(asStoreError(error, path));
      }
    };
  }
  return wrapped as T;
}
