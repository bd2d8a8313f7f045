// What a run that removes, reverses or keeps what existed before needs besides its config, from the runs it follows.
import type { RunRecord, RunStore } from '../store/contract.js';
import { Inventory, SUBJECTS } from './activities/inventory.js';
import { KINDS, kindOf } from './kinds/registry.js';
import { meshRecords, observersOf } from './views/mesh-records.js';
import { lineageOf } from './views/run-lookup.js';

export const FORCED_UNINSTALL = 'uninstall --force';

// What an uninstall, cluster remove or secrets rotate needs besides its config: what existed before mesh-run
// acted, as the runs that made the mesh (its install and every cluster add since) and their verify runs
// recorded it, and whether it was started with --force.
export async function followUpDeps(store: RunStore, run: RunRecord): Promise<{ inventory?: Inventory; force?: boolean }> {
  const kind = kindOf(run.kind);
  // A rollback puts back what its upgrade recorded before each change.
  if (kind.reverses && run.targetRun) {
    const observations = await store.listObservations([run.targetRun]);
    return { inventory: new Inventory(observations, [run.targetRun]) };
  }
  // A drift check compares the clusters with what the mesh should look like.
  if (kind.drift === 'checks' && run.targetRun) return { inventory: await expectedInventory(store, run.targetRun) };
  if (!kind.keepsWhatExisted) return {};
  const force = (await store.listEvents(run.id)).some((e) => e.type === 'forced' && (e.detail ?? '').startsWith(FORCED_UNINSTALL));
  if (!run.targetRun) return { force };
  return { force, inventory: await inventoryOf(store, run.targetRun) };
}

// What existed before mesh-run acted on the mesh whose membership `targetRun` made: the observations of the runs
// that made it and of their verify runs (a run about to be prepared on that mesh reads it too), and of the runs
// that replaced cacerts on purpose (a trust rotation: what cacerts should carry now). A rehearsal of one of
// those on a simulated copy of a real mesh (another mode than the mesh's) saw the copy, not the mesh.
export async function inventoryOf(store: RunStore, targetRun: string): Promise<Inventory> {
  const target = await store.getRun(targetRun);
  const lineage = target ? (await lineageOf(store, target)).map((r) => r.id) : [targetRun];
  const targeting = (await Promise.all(lineage.map((id) => store.listRunsTargeting(id)))).flat().filter((r) => !target || r.mode === target.mode);
  const verifies = targeting.filter((r) => KINDS[r.kind].observesWhatExisted || KINDS[r.kind].journalsCacerts).map((r) => r.id);
  const observations = await store.listObservations([...lineage, ...verifies]);
  return new Inventory(observations, [...new Set(observations.map((o) => o.runId))]);
}

// What the mesh `member` (one of its runs) belongs to should look like: the observations of the runs
// views/mesh-records.ts observersOf names (its own runs, drift checks aside), oldest first. The one rule both a
// journaled drift check (through its deps) and checkDrift (what a repair decides from) compare the clusters with.
export async function expectedInventory(store: RunStore, member: string): Promise<Inventory> {
  const all = await store.listRuns(100_000);
  const mesh = meshRecords(all).find((m) => m.runs.some((r) => r.id === member));
  const observations = await store.listObservations(mesh ? observersOf(mesh, all).map((r) => r.id) : [member]);
  return new Inventory(observations, [...new Set(observations.map((o) => o.runId))]);
}

// The Istio objects an adoption found on each cluster of the mesh `run` belongs to ([] when mesh-run installed
// the mesh): what uninstall --force of an adopted mesh deletes that mesh-run never made.
export async function adoptedObjects(store: RunStore, run: RunRecord): Promise<{ adoption?: string; clusters: Array<{ cluster: string; objects: string[] }> }> {
  const founder = (await lineageOf(store, run)).at(-1);
  if (!founder || !KINDS[founder.kind].adopts) return { clusters: [] };
  const observations = await store.listObservations([founder.id]);
  const clusters = observations.filter((o) => o.subject === SUBJECTS.adoptedIstio).map((o) => ({ cluster: o.cluster, objects: Object.keys(o.detail ?? {}) }));
  return { adoption: founder.id, clusters };
}
