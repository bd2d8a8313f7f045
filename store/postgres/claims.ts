// A run's lease and its claim on clusters, as rows (who, where, heartbeat) and as session advisory locks:
// a holder that dies or loses the database frees its locks at once, and a lock this session could take
// means no live session holds it.
import type { ClusterHolder, LeaseHolder } from '../contract.js';
import { claimCounts, type Liveness } from '../lease-rules.js';
import { LockSession, type Queryable } from './connection.js';
import type { RunContext } from './context.js';

export function runLockName(schema: string, runId: string): string {
  return `${schema}:run:${runId}`;
}

function claimLockName(schema: string, key: string): string {
  return `${schema}:claim:${key}`;
}

// The claim key a claim lock is named for.
export const claimKeyOf = (c: RunContext, lockName: string): string => lockName.slice(`${c.location.schema}:claim:`.length);

export const setLease = (c: RunContext, db: Queryable, runId: string, l: LeaseHolder) =>
  db.query(
    `UPDATE ${c.s}.runs SET lease_token = $1, lease_pid = $2, lease_host = $3, lease_user = $4, lease_heartbeat = $5, lease_proc_start = $6 WHERE id = $7`,
    [l.token, l.pid, l.host, l.user, l.heartbeat, l.procStart ?? null, runId],
  );

export async function writeClaims(c: RunContext, db: Queryable, runId: string, keys: readonly string[], at: number): Promise<void> {
  for (const key of keys) {
    await db.query(
      `INSERT INTO ${c.s}.cluster_claims (key, run_id, at) VALUES ($1, $2, $3) ON CONFLICT (key) DO UPDATE SET run_id = excluded.run_id, at = excluded.at`,
      [key, runId, at],
    );
  }
}

// The live run (not `runId`) that holds one of `keys`; `live(key)` judges its holder.
export async function heldElsewhere(
  c: RunContext,
  db: Queryable,
  runId: string,
  keys: readonly string[],
  live: (key: string) => Liveness,
): Promise<ClusterHolder | undefined> {
  for (const key of keys) {
    const { rows } = await db.query<{ run_id: string }>(`SELECT run_id FROM ${c.s}.cluster_claims WHERE key = $1`, [key]);
    const holder = rows[0]?.run_id;
    if (!holder || holder === runId) continue;
    const other = await c.readRun(db, holder);
    if (claimCounts(other, live(key))) return { runId: other.id, kind: other.kind, key, lease: other.lease };
  }
  return undefined;
}

// A holder known only by the session holding its lock (its lease row is not written yet): no heartbeat
// recorded (0), no user known.
async function sessionHolder(c: RunContext, name: string): Promise<LeaseHolder> {
  const session = await LockSession.holderOf(c.pool, name);
  return { token: '', pid: session?.pid ?? 0, host: session?.host ?? 'another session', user: 'unknown', heartbeat: 0 };
}

// Who holds a run's lock: the lease row once the holder has written it (it takes the lock first, so a row
// that still names an earlier, silent holder is waited on a little). A row whose heartbeat looks old but
// that names the very process whose session holds the lock is that holder (paused, or its clock behind):
// its real last heartbeat is shown.
export async function runHolder(c: RunContext, runId: string, lock: string, staleAfterMs: number): Promise<LeaseHolder> {
  for (let tries = 0; tries < 30; tries++) {
    const lease = (await c.readRun(c.pool, runId))?.lease;
    if (lease && Date.now() - lease.heartbeat <= staleAfterMs) return lease;
    const session = await LockSession.holderOf(c.pool, lock);
    if (lease && session && session.pid === lease.pid && lease.host.startsWith(session.host)) return lease;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return sessionHolder(c, lock);
}

// Who holds a lock this session could not take: the run that claims the key, as recorded. A run being
// created holds the lock a moment before its row commits: wait for the row a little.
export async function claimHolder(c: RunContext, key: string): Promise<ClusterHolder> {
  for (let tries = 0; tries < 30; tries++) {
    const { rows } = await c.pool.query<{ run_id: string }>(`SELECT run_id FROM ${c.s}.cluster_claims WHERE key = $1`, [key]);
    const run = rows[0] ? await c.readRun(c.pool, rows[0].run_id) : undefined;
    if (run?.lease) return { runId: run.id, kind: run.kind, key, lease: run.lease };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { runId: '', kind: 'install', key, lease: await sessionHolder(c, claimLockName(c.location.schema, key)) };
}

// Takes the advisory locks of a run and its claim keys. A lock this session just took means no live session
// held it: a holder recorded for it is gone, whatever its heartbeat says. One it already held (this
// process) is judged by the rows, as on SQLite.
export async function takeLocks(c: RunContext, runId: string, keys: readonly string[]) {
  const names = [runLockName(c.location.schema, runId), ...keys.map((k) => claimLockName(c.location.schema, k))];
  const { taken, refused } = await c.locks.take(names);
  const fresh = new Set(taken);
  return { names, taken, refused, fresh };
}

// How to judge the holder of lock `name`: gone at once if this session just took the lock.
export function judge(fresh: Set<string>, name: string, now: number, staleAfterMs: number, isAlive: (h: LeaseHolder) => boolean): Liveness {
  return { now, staleAfterMs, isAlive: fresh.has(name) ? () => false : isAlive };
}

// The same, for the claim lock of `key`.
export const judgeClaim = (c: RunContext, fresh: Set<string>, key: string, now: number, staleAfterMs: number, isAlive: (h: LeaseHolder) => boolean) =>
  judge(fresh, claimLockName(c.location.schema, key), now, staleAfterMs, isAlive);

// Lets go of the advisory locks this process holds for a run (its lease row is cleared already).
export async function letGo(c: RunContext, runId: string): Promise<void> {
  const names = c.heldFor.get(runId) ?? [];
  c.heldFor.delete(runId);
  await c.locks.release(names);
}

export function remember(c: RunContext, runId: string, names: readonly string[]): void {
  c.heldFor.set(runId, [...new Set([...(c.heldFor.get(runId) ?? []), ...names])]);
}
