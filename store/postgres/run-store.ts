// The RunStore contract on PostgreSQL: one transaction per operation on a small pool, group-committed command
// rows, and leases that hold across machines. A driver's lease and its claim on clusters are rows (who, where,
// heartbeat) plus session advisory locks on a dedicated connection: a holder that dies or loses the database
// frees its locks at once, and a lock this session could take means no live session holds it. Each concern
// is a module of its own, the same ones as on SQLite.
import type pg from 'pg';
import type { RunStore } from '../contract.js';
import type { PostgresLocation } from '../location.js';
import { attemptOps } from './attempts.js';
import { commandOps } from './commands.js';
import { runContext } from './context.js';
import { copyOps } from './copy.js';
import { eventOps } from './events.js';
import { guardedPg } from './guarded.js';
import { historyOps } from './history.js';
import { leaseOps } from './leases.js';
import { lifecycleOps } from './lifecycle.js';
import { runOps } from './runs.js';

export interface PgRunStore extends RunStore {
  // Lets go of every lock this process holds (closing the store).
  closeLocks(): Promise<void>;
}

export function createPgRunStore(pool: pg.Pool, location: PostgresLocation): PgRunStore {
  const c = runContext(pool, location);
  const store: PgRunStore = {
    ...lifecycleOps(c),
    ...runOps(c),
    ...attemptOps(c),
    ...commandOps(c),
    ...eventOps(c),
    ...historyOps(c),
    ...leaseOps(c),
    ...copyOps(c),
    closeLocks: () => c.locks.close(),
  };
  return guardedPg(store, location);
}
