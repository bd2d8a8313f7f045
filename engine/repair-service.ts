// mesh-run repair: a drift check first (drift-service.ts), then a resumable run of kind repair that puts back
// what it found, only that, through install's own steps, and checks the links after; then the drift check again.
// The run's config is the mesh's membership with the repair list decided here (activities/repair-choice.ts);
// what this version does not repair is handed back with why and its repair text, for the operator.
import { PreconditionError, UsageError } from '../shared/errors.js';
import type { MeshConfig, RepairItem, RunMode } from '../shared/model.js';
import { checkEnvironment } from './activities/environment-check.js';
import { chooseRepairs, type NotRepaired } from './activities/repair-choice.js';
import { caMaterialProblem } from './activities/repair-trust.js';
import { tagsMeshRunMade } from './activities/tag-ownership.js';
import { openStore, realTools, type StoreLocation, toolsFor } from './composition.js';
import { faultsFor, installedMesh, refuseUnfinished, rehearsalOf, startChange, targetOf, wantsRehearsal } from './day2-service.js';
import { checkDrift, DRIFT_KINDS, type DriftItem } from './drift-service.js';
import { adoptedObjects } from './follow-up-deps.js';
import { driftCopy } from './plan-drift.js';
import { removeRehearsalTrust, withRehearsalTrust } from './rehearsal-trust.js';
import type { PreparedRun } from './run-service.js';
import type { ProgressListener } from './runtime/progress-events.js';
import { lineageOf } from './views/run-lookup.js';

export { REPAIRED_KINDS } from './activities/repair-choice.js';

export interface RepairRequest {
  meshRef: string;
  // Only these drift kinds (absent or empty: every kind found).
  only?: string[];
  // A real mesh: rehearse on a simulated copy of it instead.
  dryRun?: boolean;
  // Replace a cacerts that holds another CA with the mesh's (cacerts-changed); journaled.
  force?: boolean;
  injections: string[];
  store: StoreLocation;
}

// What the drift check found and what a repair run does about it.
export interface RepairDecision {
  mesh: string;
  mode: RunMode;
  repairs: RepairItem[];
  // Found, but not repaired by this version (or not on that cluster), each with why and its repair text.
  unrepairable: NotRepaired[];
  // Found, but left out by --only.
  skipped: DriftItem[];
}

function onlyKinds(only: readonly string[] | undefined): Set<string> | undefined {
  if (!only || only.length === 0) return undefined;
  const kinds = only.flatMap((o) => o.split(',')).map((o) => o.trim());
  const unknown = kinds.find((k) => !(DRIFT_KINDS as readonly string[]).includes(k));
  if (unknown !== undefined) throw new UsageError(`--only ${unknown}: not a drift kind; the kinds are ${DRIFT_KINDS.join(', ')}`);
  return new Set(kinds);
}

// The mesh as the journal has it, which of its clusters mesh-run adopted rather than installed, and where a
// mesh-run upgrade made the default revision tag.
async function meshFacts(request: RepairRequest): Promise<{ config: MeshConfig; adopted: Set<string>; tagsMade: Set<string> }> {
  const store = await openStore(request.store, 'read-only');
  try {
    const { run, config } = await installedMesh(store, request.meshRef, 'repair');
    const adopted = await adoptedObjects(store.runs, run);
    const lineage = await lineageOf(store.runs, run);
    const upgrades = lineage.filter((r) => r.kind === 'upgrade').map((r) => r.id);
    const observations = upgrades.length > 0 ? await store.runs.listObservations(upgrades) : [];
    return { config, adopted: new Set(adopted.clusters.map((c) => c.cluster)), tagsMade: tagsMeshRunMade(lineage, observations) };
  } finally {
    await store.close();
  }
}

// The drift check, and what of it a repair run would put back. Reads only.
export async function checkRepair(request: RepairRequest): Promise<RepairDecision> {
  const only = onlyKinds(request.only);
  const report = await checkDrift({ meshRef: request.meshRef, store: request.store });
  if (report.unreadable.length > 0) {
    const names = report.unreadable.map((u) => `${u.cluster} (${u.error})`).join('; ');
    throw new PreconditionError('cluster-unreadable', `mesh ${report.mesh}: could not read ${names}; the drift check is incomplete, so nothing is repaired`, {
      hint: 'make the cluster reachable, then run repair again ("mesh-run drift" shows what it could read)',
    });
  }
  const taken = report.drift.filter((item) => !only || only.has(item.kind));
  const skipped = report.drift.filter((item) => only && !only.has(item.kind));
  if (taken.length === 0) return { mesh: report.mesh, mode: report.mode, repairs: [], unrepairable: [], skipped };
  const { config, adopted, tagsMade } = await meshFacts(request);
  const choice = chooseRepairs(taken, {
    config,
    adopted,
    tagsMade,
    force: Boolean(request.force),
    caProblem: (cluster) => caMaterialProblem(config.trust, cluster),
  });
  return { mesh: report.mesh, mode: report.mode, ...choice, skipped };
}

// After a repair run succeeded: the drift check again, since a repair heals on the way what followed from what it
// put back (a remote's injector CA once its secret is back, istiod's sync); undefined after a rehearsal (no real
// cluster changed, nothing to check again).
export async function recheckRepair(request: RepairRequest, decision: RepairDecision): Promise<RepairDecision | undefined> {
  if (decision.mode === 'real' && request.dryRun) return undefined;
  return checkRepair(request);
}

// The repair run, recorded with its claim on the mesh's clusters (or a rehearsal copy), ready to begin.
export async function prepareRepair(request: RepairRequest, decision: RepairDecision, listener?: ProgressListener): Promise<PreparedRun> {
  if (decision.repairs.length === 0) throw new UsageError(`mesh ${decision.mesh}: nothing to repair`);
  const store = await openStore(request.store, 'existing');
  try {
    const { mesh, run: base, config } = await installedMesh(store, request.meshRef, 'repair');
    const repaired: MeshConfig = { ...config, repair: decision.repairs };
    const rehearse = wantsRehearsal(base, request.dryRun);
    if (!rehearse) await refuseUnfinished(store, mesh, 'revisions');
    const faults = faultsFor(request.injections, repaired, 'repair', rehearse ? 'dry-run' : base.mode);
    const target = rehearse ? await rehearsalOf(store, config, config.clusters) : targetOf(base);
    // A rehearsal copy is installed as the journal has the mesh: the drift found is made again there, so each
    // step meets what it would meet on the real clusters and the rehearsal acts (not only reads).
    if (rehearse && target.world) {
      const onCopy = withRehearsalTrust(config, target.trust);
      await driftCopy(await toolsFor('dry-run', onCopy, store, target.world), onCopy, decision.repairs, [...decision.unrepairable, ...decision.skipped]).catch(
        (error) => {
          removeRehearsalTrust(target.trust);
          throw error;
        },
      );
    }
    if (target.mode === 'real') await checkEnvironment(repaired, await realTools(repaired), false);
    const found = decision.repairs.map(describeRepair).join(', ');
    return await startChange(store, base, target, 'repair', repaired, faults, listener, [
      { type: 'drift', detail: `found and repaired by this run: ${found}` },
    ]);
  } catch (error) {
    await store.close();
    throw error;
  }
}

// One repair as a person reads it: kind@cluster, with whose secret, or the gateway it follows.
export function describeRepair(r: RepairItem): string {
  return `${r.kind}@${r.cluster}${r.source ? ` (${r.source}'s secret)` : ''}${r.follows ? ` (follows ${r.follows}'s gateway)` : ''}`;
}
