// The RunStore contract on better-sqlite3: prepared statements, IMMEDIATE transactions, one per transition.
// better-sqlite3 is synchronous: every operation completes before its promise is returned, so calls commit in
// the order they are made. Each concern is a module of its own, the same ones as on PostgreSQL.
import type { RunStore } from '../contract.js';
import { attemptOps } from './attempts.js';
import { commandOps } from './commands.js';
import { runContext } from './context.js';
import { copyOps } from './copy.js';
import { eventOps } from './events.js';
import { guarded } from './guarded.js';
import { historyOps } from './history.js';
import { leaseOps } from './leases.js';
import { lifecycleOps } from './lifecycle.js';
import type { Db } from './open-db.js';
import { runOps } from './runs.js';

// Builds the store over an open, migrated database.
export function createSqliteRunStore(db: Db): RunStore {
  const c = runContext(db);
  return guarded<RunStore>(
    {
      ...lifecycleOps(c),
      ...runOps(c),
      ...attemptOps(c),
      ...commandOps(c),
      ...eventOps(c),
      ...historyOps(c),
      ...leaseOps(c),
      ...copyOps(c),
    },
    db.name,
  );
}
