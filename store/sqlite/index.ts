// The SQLite backend: one file holds the journal and the simulated worlds.
import type { Store } from '../contract.js';
import { type OpenOptions, openDb } from './open-db.js';
import { createSqliteRunStore } from './run-store.js';
import { createSqliteWorldStore } from './world-store.js';

export function openSqliteStore(path: string, options: OpenOptions = {}): Store {
  const db = openDb(path, options);
  return {
    runs: createSqliteRunStore(db),
    worlds: createSqliteWorldStore(db),
    location: path,
    close: async () => {
      db.close();
    },
  };
}
