// The SQLite backend: one file holds the journal and the simulated worlds.
import type { Store } from '../contract.js';
import { dropStamp, isDamage, writeStamp } from './integrity.js';
import { type OpenOptions, openDb } from './open-db.js';
import { createSqliteRunStore } from './run-store.js';
import { createSqliteWorldStore } from './world-store.js';

export function openSqliteStore(path: string, options: OpenOptions = {}): Store {
  const db = openDb(path, options);
  const file = path !== ':memory:';
  let damaged = false;
  // Damage a call runs into (SQLITE_CORRUPT, wrapped as a StoreError) means the file is not as checked.
  const noticed = (error: unknown) => {
    if (isDamage(error) || isDamage((error as { cause?: unknown } | undefined)?.cause)) {
      damaged = true;
      if (file) dropStamp(path);
    }
    throw error;
  };
  return {
    runs: watched(createSqliteRunStore(db), noticed),
    worlds: watched(createSqliteWorldStore(db), noticed),
    location: path,
    close: async () => {
      db.close();
      // A writer that opened the file checked (or found it as a checked writer left it) and wrote only
      // through SQLite: the file as it is now needs no check at the next open.
      if (file && !options.readOnly && !damaged) writeStamp(path);
    },
  };
}

// The same object, with `onError` seeing every method's rejection first.
function watched<T extends object>(target: T, onError: (error: unknown) => never): T {
  const wrapped = { ...target } as Record<string, unknown>;
  for (const [name, value] of Object.entries(target)) {
    if (typeof value !== 'function') continue;
    wrapped[name] = (...args: unknown[]) => {
      const result = (value as (...a: unknown[]) => unknown).apply(target, args);
      return result instanceof Promise ? result.catch(onError) : result;
    };
  }
  return wrapped as T;
}
