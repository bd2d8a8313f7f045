// mesh-run repair: a drift check first (drift-service.ts), then a resumable run of kind repair that puts back
// what it found, only that, through install's own steps, and checks the links after. The run's config is the
// mesh's membership with the repair list decided here; kinds this version does not repair are handed back
// with their repair text, for the operator.
import { PreconditionError, UsageError } from '../shared/errors.js';
import type { MeshConfig, RepairAction, RepairItem, RunMode } from '../shared/model.js';
import { checkEnvironment } from './activities/environment-check.js';
import { openStore, realTools, type StoreLocation } from './composition.js';
import { faultsFor, installedMesh, refuseUnfinished, rehearsalOf, startChange, targetOf, wantsRehearsal } from './day2-service.js';
import { checkDrift, DRIFT_KINDS, type DriftItem, type DriftKind } from './drift-service.js';
import type { PreparedRun } from './run-service.js';
import type { ProgressListener } from './runtime/progress-events.js';

export interface RepairRequest {
  meshRef: string;
  // Only these drift kinds (absent or empty: every kind found).
  only?: string[];
  // A real mesh: rehearse on a simulated copy of it instead.
  dryRun?: boolean;
  injections: string[];
  store: StoreLocation;
}

// What the drift check found and what a repair run does about it.
export interface RepairDecision {
  mesh: string;
  mode: RunMode;
  repairs: RepairItem[];
  // Found, but this version does not repair its kind (each with its repair text).
  unrepairable: DriftItem[];
  // Found, but left out by --only.
  skipped: DriftItem[];
}

// The kinds this version repairs, and the action each takes.
const ACTIONS: Partial<Record<DriftKind, RepairAction>> = {
  'remote-secret-missing': 'secret',
  'remote-secret-server': 'secret',
  'remote-secret-token': 'secret',
  'remote-secret-stale': 'stale-secret',
  'network-label': 'label',
  'control-plane-annotation': 'annotation',
  'expose-istiod': 'expose-istiod',
  'expose-services': 'expose-services',
};

export const REPAIRED_KINDS = Object.keys(ACTIONS) as DriftKind[];

function onlyKinds(only: readonly string[] | undefined): Set<string> | undefined {
  if (!only || only.length === 0) return undefined;
  const kinds = only.flatMap((o) => o.split(',')).map((o) => o.trim());
  const unknown = kinds.find((k) => !(DRIFT_KINDS as readonly string[]).includes(k));
  if (unknown !== undefined) throw new UsageError(`--only ${unknown}: not a drift kind; the kinds are ${DRIFT_KINDS.join(', ')}`);
  return new Set(kinds);
}

// A drift item as a repair: its action, where, and for a secret whose or which.
function repairOf(item: DriftItem, action: RepairAction): RepairItem {
  return {
    kind: item.kind,
    action,
    cluster: item.cluster,
    ...(action === 'secret' && item.source ? { source: item.source } : {}),
    ...(action === 'stale-secret' && item.secret ? { secret: item.secret } : {}),
  };
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
  const decision: RepairDecision = { mesh: report.mesh, mode: report.mode, repairs: [], unrepairable: [], skipped: [] };
  for (const item of report.drift) {
    if (only && !only.has(item.kind)) decision.skipped.push(item);
    else {
      const action = ACTIONS[item.kind];
      if (action) decision.repairs.push(repairOf(item, action));
      else decision.unrepairable.push(item);
    }
  }
  return decision;
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
    if (target.mode === 'real') await checkEnvironment(repaired, await realTools(repaired), false);
    const found = decision.repairs.map((r) => `${r.kind}@${r.cluster}${r.source ? ` (${r.source}'s secret)` : ''}`).join(', ');
    return await startChange(store, base, target, 'repair', repaired, faults, listener, [
      { type: 'drift', detail: `found and repaired by this run: ${found}` },
    ]);
  } catch (error) {
    await store.close();
    throw error;
  }
}
