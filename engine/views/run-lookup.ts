// Finding a run by id or unique prefix, and rejecting text that cannot be an id.

import { NotResumableError, UsageError } from '../../shared/errors.js';
import type { RunRecord, RunStore } from '../../store/contract.js';
import { changesMembership, KINDS } from '../kinds/registry.js';

// Rejects text that cannot be a run id before any file is opened.
export function checkRunIdFormat(idOrPrefix: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9-]{0,63}$/.test(idOrPrefix))
    throw new UsageError(`"${idOrPrefix.slice(0, 40)}" is not a run id (ids look like mr-k3x9p2qa); "mesh-run runs" lists them`);
}

// Finds a run by its id or a unique prefix of it.
export async function findRun(store: RunStore, idOrPrefix: string): Promise<RunRecord> {
  checkRunIdFormat(idOrPrefix);
  const exact = await store.getRun(idOrPrefix);
  if (exact) return exact;
  const ids = await store.findRunIds(idOrPrefix, 3);
  const only = ids.length === 1 ? await store.getRun(ids[0] as string) : undefined;
  if (only) return only;
  if (ids.length > 1) throw new UsageError(`run id "${idOrPrefix}" is ambiguous (${ids.join(', ')}...); type more of it`);
  throw new NotResumableError('run-not-found', `no run "${idOrPrefix}" in this database; "mesh-run runs" lists them`);
}

// The runs that decide a mesh's membership: the install that made it, and each cluster add or remove since.
// An upgrade and its rollback change the revision the mesh runs: its config from then on.
// The membership run a reference stands for: that run, or the one a verify or uninstall run acted on.
export async function installRunOf(store: RunStore, idOrPrefix: string): Promise<RunRecord> {
  const run = await findRun(store, idOrPrefix);
  return !changesMembership(run.kind) && run.targetRun ? ((await store.getRun(run.targetRun)) ?? run) : run;
}

// A membership run and the ones it grew from, back to the install: newest first.
export async function lineageOf(store: RunStore, run: RunRecord): Promise<RunRecord[]> {
  const chain = [run];
  let current = run;
  while (KINDS[current.kind].mesh !== 'founds' && current.targetRun && chain.length < 10_000) {
    const parent = await store.getRun(current.targetRun);
    if (!parent || !changesMembership(parent.kind)) break;
    chain.push(parent);
    current = parent;
  }
  return chain;
}
