// What a PostgreSQL write refused by its lease reports: who holds the run now, as the database says.
import type { FencedError } from '../../shared/errors.js';
import { fencedBy, LEASE_COLUMNS, type LeaseRow } from '../rows.js';
import type { Queryable } from './connection.js';

// `s` is the quoted schema.
export async function fencedOut(db: Queryable, s: string, runId: string): Promise<FencedError> {
  const { rows } = await db.query<LeaseRow>(`SELECT ${LEASE_COLUMNS} FROM ${s}.runs WHERE id = $1`, [runId]);
  return fencedBy(runId, rows[0]);
}
