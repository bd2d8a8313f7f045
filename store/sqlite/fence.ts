// The lease check every SQLite write that changes a run makes first, inside its IMMEDIATE transaction.
// SQLite has one writer at a time, so no takeover can commit between this check and the write's commit.
import type { Fence } from '../contract.js';
import { fencedBy, LEASE_COLUMNS, type LeaseRow } from '../rows.js';
import type { Db } from './open-db.js';

// Throws FencedError (naming who holds the run now) unless `fence` still holds it.
export function leaseFence(db: Db): (runId: string, fence: Fence) => void {
  const leaseOf = db.prepare<[string], LeaseRow>(`SELECT ${LEASE_COLUMNS} FROM runs WHERE id = ?`);
  return (runId, fence) => {
    const row = leaseOf.get(runId);
    if (row?.lease_token !== fence) throw fencedBy(runId, row);
  };
}
