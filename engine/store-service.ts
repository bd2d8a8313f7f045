// Operator actions on the store itself: unlock a run whose driver is gone, and copy history between stores
// (a laptop's SQLite into the team's PostgreSQL).
import { hostname } from 'node:os';
import { PreconditionError, UsageError } from '../shared/errors.js';
import type { LeaseHolder, RunExport, Store, WorldExport } from '../store/contract.js';
import { assembleSnapshot } from '../store/snapshot-parts.js';
import { openStore, type StoreLocation } from './composition.js';
import { describeHolder, holderAlive, isLeaseStale } from './runtime/lease.js';
import { currentOperator } from './runtime/run-driver.js';
import { checkRunIdFormat, findRun } from './views/run-lookup.js';

export interface UnlockRequest {
  id: string;
  store: StoreLocation;
  // Asks the operator to confirm what is about to happen (the CLI: a prompt, or --yes).
  confirm: (question: string) => Promise<boolean>;
}

export interface UnlockResult {
  runId: string;
  // The holder whose lease was released; undefined when the run held none.
  released?: LeaseHolder;
}

// mesh-run unlock: releases the lease of a run whose driver is gone, after the operator confirms; the
// action is journaled with who did it. A holder known to be alive (on this host, or still connected to a
// PostgreSQL store) is refused: stop it first.
export async function unlockRun(request: UnlockRequest): Promise<UnlockResult> {
  checkRunIdFormat(request.id);
  const store = await openStore(request.store, 'existing');
  try {
    const run = await findRun(store.runs, request.id);
    const holder = run.lease;
    if (!holder) return { runId: run.id };
    const now = Date.now();
    const who = describeHolder(holder, now);
    if (holder.host === hostname() && holderAlive(holder)) {
      throw new PreconditionError('holder-alive', `run ${run.id} is held by ${who}, which is alive on this host`, {
        hint: `let it finish, or stop it (kill ${holder.pid}) and run "mesh-run resume ${run.id}"; unlock is for holders that are gone`,
      });
    }
    const question = `Release the lease of run ${run.id} (${run.kind}, ${run.status}) held by ${who}? Only do this if that process is gone: two drivers on one run would act on the clusters twice.`;
    if (!(await request.confirm(question))) throw new UsageError('unlock not confirmed: nothing was changed');
    const operator = currentOperator();
    const outcome = await store.runs.breakLease(run.id, holder.token, operator, now, `released the lease of ${who}`);
    if (outcome === 'connected') {
      throw new PreconditionError('holder-connected', `run ${run.id} is held by ${who}, whose database session is still open: it is not gone`, {
        hint: 'stop that process (its session then ends and frees the run at once), or let it finish',
      });
    }
    if (outcome === 'changed') {
      throw new PreconditionError('lease-changed', `the lease of run ${run.id} changed while asking (another driver took it); nothing was changed`, {
        hint: `"mesh-run status ${run.id}" shows who holds it now`,
      });
    }
    return { runId: run.id, released: holder };
  } finally {
    await store.close();
  }
}

export interface CancelRequest {
  id: string;
  store: StoreLocation;
  // How long to wait for the driver to stop the run.
  waitMs: number;
}

export interface CancelResult {
  runId: string;
  // interrupted: the driver stopped it; finished: it ended on its own first; waiting: still running after waitMs.
  outcome: 'interrupted' | 'finished' | 'waiting';
  status: string;
  holder: LeaseHolder;
}

// mesh-run cancel: asks the live driver of a run, on whatever host, to stop it, through the journal (an
// operator action with who asked); the driver stops its commands and ends the run as interrupted.
export async function cancelRun(request: CancelRequest): Promise<CancelResult> {
  checkRunIdFormat(request.id);
  const store = await openStore(request.store, 'existing');
  try {
    const run = await findRun(store.runs, request.id);
    const holder = run.lease;
    if (run.status !== 'running' || !holder) {
      throw new PreconditionError('not-running', `run ${run.id} is ${run.status}, not running: there is nothing to cancel`, {
        hint: run.status === 'succeeded' ? `"mesh-run status ${run.id}" shows how it ended` : `"mesh-run resume ${run.id}" continues it`,
      });
    }
    const now = Date.now();
    if (isLeaseStale(run, now) || (holder.host === hostname() && !holderAlive(holder))) {
      throw new PreconditionError('driver-gone', `run ${run.id} has no live driver (${describeHolder(holder, now)} is gone): nothing is running to cancel`, {
        hint: `"mesh-run resume ${run.id}" continues it; the next resume takes it over`,
      });
    }
    const operator = currentOperator();
    await store.runs.addEvent(run.id, null, 'cancel-requested', operator, now, `by ${operator.user}@${operator.host}`);
    const deadline = Date.now() + request.waitMs;
    for (;;) {
      const current = await store.runs.getRun(run.id);
      const status = current?.status ?? 'unknown';
      if (status !== 'running') {
        const cancelled = (await store.runs.listEvents(run.id)).some((e) => e.type === 'interrupted' && e.detail?.startsWith('cancelled by'));
        return { runId: run.id, outcome: cancelled ? 'interrupted' : 'finished', status, holder };
      }
      if (Date.now() >= deadline) return { runId: run.id, outcome: 'waiting', status, holder };
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await store.close();
  }
}

export interface CopyReport {
  copied: string[];
  // Runs the target already had, identical.
  present: string[];
  worlds: string[];
}

// A run's content without the row ids a store assigns (commands point at their attempt by position), its
// snapshot whole (however it is split into parts).
function content(data: RunExport): string {
  const snapshotJson = data.run.snapshotJson && assembleSnapshot(data.run.snapshotJson, new Map(data.parts.map((p) => [p.part, p.json])));
  return JSON.stringify({
    run: { ...data.run, snapshotJson },
    attempts: data.attempts.map(({ id: _id, ...a }) => a),
    commands: data.commands.map(({ id: _id, attemptId, ...c }) => ({ ...c, attempt: data.attempts.findIndex((a) => a.id === attemptId) })),
    events: data.events.map(({ id: _id, ...e }) => e),
    observations: data.observations,
  });
}

const everyRun = (store: Store) => store.runs.findRunIds('', Number.MAX_SAFE_INTEGER);

// mesh-run store copy: every run of `from` (with its attempts, commands, events, observations and simulated
// world) into `to`. Idempotent by run id: a run `to` already has, identical, is left alone; one that differs
// stops the copy before anything is written.
export async function copyStore(fromLocation: StoreLocation, toLocation: StoreLocation): Promise<CopyReport> {
  const from = await openStore(fromLocation, 'read-only');
  try {
    const to = await openStore(toLocation, 'create');
    try {
      const ids = await everyRun(from);
      const missing: RunExport[] = [];
      const present: string[] = [];
      const differing: string[] = [];
      for (const id of ids) {
        const source = (await from.runs.exportRun(id)) as RunExport;
        const there = await to.runs.exportRun(id);
        if (!there) missing.push(source);
        else if (content(there) === content(source)) present.push(id);
        else differing.push(id);
      }
      if (differing.length > 0) {
        // The target's state stops the copy, as a store problem does (exit 3); no run is missing (exit 4).
        throw new PreconditionError(
          'copy-conflict',
          `the target already has ${differing.length === 1 ? 'run' : 'runs'} ${differing.slice(0, 5).join(', ')}${differing.length > 5 ? ' …' : ''} with different content; nothing was copied`,
          { hint: 'a run is copied once it is over; copy into another store (or schema), or leave those runs out' },
        );
      }
      // The simulated worlds of the copied dry runs, as the source has them now (the newest state).
      const worlds = new Map<string, WorldExport>();
      for (const data of missing) {
        if (data.run.mode !== 'dry-run') continue;
        const world = data.run.simWorld ?? data.run.id;
        if (worlds.has(world)) continue;
        const exported = await from.worlds.exportWorld(world);
        if (exported) worlds.set(world, exported);
      }
      for (const world of worlds.values()) await to.worlds.importWorld(world);
      // Oldest first: a verify or uninstall arrives after the install it names.
      for (const data of [...missing].sort((a, b) => a.run.createdAt - b.run.createdAt)) await to.runs.importRun(data);
      return { copied: missing.map((d) => d.run.id), present, worlds: [...worlds.keys()] };
    } finally {
      await to.close();
    }
  } finally {
    await from.close();
  }
}

export function sameStore(a: StoreLocation, b: StoreLocation): boolean {
  return a.kind === 'sqlite' && b.kind === 'sqlite' ? a.path === b.path : a.kind === 'postgres' && b.kind === 'postgres' && a.display === b.display;
}
