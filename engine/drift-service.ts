// mesh-run drift: a journal mesh (installed or adopted) against its clusters now. The expected state is the
// journal's: the mesh's membership config and what its runs observed; the reads (activities/drift-reads.ts)
// and the comparison (activities/drift.ts, pure) say what differs. recordDriftCheck journals the check as a run
// of kind drift (activities/drift-check.ts records each item), and says since when each drift is there;
// checkDrift only reads (a repair decides from it what to put back).
import { ExitCode, MeshRunError, NotResumableError, PreconditionError } from '../shared/errors.js';
import type { RunMode } from '../shared/model.js';
import { expectedCacerts } from './activities/cacerts-journal.js';
import { compareMesh, DRIFT_KINDS, type DriftItem, type UnreadCluster } from './activities/drift.js';
import { readDrift } from './activities/drift-reads.js';
import { recordedCheck } from './activities/drift-record.js';
import { openStore, openStoreToRead, type StoreLocation, toolsFor } from './composition.js';
import { membersOf, meshTopology } from './config/mesh-shape.js';
import { meshDriftHistory } from './drift-journal.js';
import { expectedInventory } from './follow-up-deps.js';
import { workflowOf } from './kinds/workflows.js';
import { claimNewRun, preparedNewRun } from './new-run.js';
import type { FinishedRun } from './prepared-run.js';
import { listMeshes } from './run-queries.js';
import type { ProgressListener } from './runtime/progress-events.js';
import { newRunId } from './runtime/run-ids.js';
import { type DriftHistory, driftKey } from './views/drift-history.js';
import { findMesh, type MeshRecord, meshRecords } from './views/mesh-records.js';
import { membershipConfig } from './views/run-config.js';
import { installRunOf } from './views/run-lookup.js';

export type { DriftItem, DriftKind, UnreadCluster } from './activities/drift.js';
export { DRIFT_KINDS } from './activities/drift.js';

export interface DriftRequest {
  meshRef: string;
  store: StoreLocation;
}

export interface DriftReport {
  mesh: string;
  mode: RunMode;
  topology: string;
  // The run the expected membership comes from.
  membershipRun: string;
  clusters: Array<{ name: string; context: string; role: string; network: string; controlPlane?: string }>;
  checkedAt: string;
  // A journaled check: its run, and for each item the check that first saw it in the current streak.
  runId?: string;
  drift: Array<DriftItem & { firstSeen?: DriftSeen }>;
  unreadable: UnreadCluster[];
}

// The drift check (a run) that first saw a drift, of the checks since which it has been there without a break.
export interface DriftSeen {
  runId: string;
  at: string;
}

export interface DriftCheckRequest extends DriftRequest {
  listener?: ProgressListener;
  // Aborting it interrupts the check: its run ends interrupted.
  signal?: AbortSignal;
}

// The mesh --mesh names, refused when there is nothing installed to compare with.
async function installedMesh(location: StoreLocation, ref: string): Promise<MeshRecord> {
  const store = await openStore(location, 'read-only');
  try {
    const mesh = findMesh(await listMeshes(store.runs), ref);
    if (mesh.state === 'removed')
      throw new NotResumableError('mesh-removed', `mesh ${mesh.name} was uninstalled: there is nothing to compare its clusters with`, {
        hint: '"mesh-run meshes" lists the installed ones',
      });
    if (mesh.state === 'incomplete')
      throw new NotResumableError('mesh-incomplete', `mesh ${mesh.name} has no successful install yet: the journal does not know what it should look like`, {
        hint: `finish it first: mesh-run resume ${mesh.createdBy}`,
      });
    return mesh;
  } finally {
    await store.close();
  }
}

// Reads and compares only: nothing is recorded.
export async function checkDrift(request: DriftRequest): Promise<DriftReport> {
  const mesh = await installedMesh(request.store, request.meshRef);
  const store = await openStoreToRead(request.store, mesh.mode);
  try {
    const run = await installRunOf(store.runs, mesh.install);
    const config = membershipConfig(run);
    // What the mesh should look like, by the rule its journaled check uses too (follow-up-deps.ts).
    const { cacerts, certs } = expectedCacerts(await expectedInventory(store.runs, run.id), config);
    const tools = await toolsFor(run.mode, config, store, run.simWorld);
    const checkedAt = new Date().toISOString();
    const { items, unreadable } = compareMesh({ config, cacerts, certs }, await readDrift(config, tools));
    return {
      mesh: mesh.name,
      mode: run.mode,
      topology: meshTopology(config),
      membershipRun: run.id,
      clusters: membersOf(config),
      checkedAt,
      drift: items,
      unreadable,
    };
  } finally {
    await store.close();
  }
}

// A drift check journaled as a run of kind drift: recorded with a lease on itself and no claim on the clusters
// (it reads them only, so it neither waits for a run that changes them nor holds one up), driven to its end,
// then reported from what it recorded. A dry-run mesh's check is journaled too.
export async function recordDriftCheck(request: DriftCheckRequest): Promise<{ runId: string; report: DriftReport }> {
  const mesh = await installedMesh(request.store, request.meshRef);
  const store = await openStore(request.store, 'existing');
  try {
    const base = await installRunOf(store.runs, mesh.install);
    const config = membershipConfig(base);
    if (request.signal?.aborted) throw new MeshRunError('interrupted', 'drift check interrupted before it started: nothing was recorded', ExitCode.sigint);
    const runId = newRunId();
    const world = base.mode === 'dry-run' ? base.simWorld : runId;
    const aborted = () => request.signal?.aborted === true;
    const claimed = await claimNewRun(
      store,
      {
        id: runId,
        kind: 'drift',
        topology: meshTopology(config),
        mode: base.mode,
        config,
        configHash: base.configHash,
        configPath: null,
        createdAt: Date.now(),
        machineVersion: workflowOf('drift').version,
        targetRun: base.id,
        simWorld: base.mode === 'dry-run' ? world : null,
      },
      world,
      undefined,
      aborted,
    ).catch((error: unknown) => {
      // A signal while the store was busy: the run was never recorded.
      if (aborted()) throw new MeshRunError('interrupted', 'drift check interrupted before it started: nothing was recorded', ExitCode.sigint);
      throw error;
    });
    const prepared = await preparedNewRun(store, claimed, config, world, request.listener ? { listener: request.listener } : {});
    const stop = () => void prepared.driver.interrupt('SIGINT');
    request.signal?.addEventListener('abort', stop, { once: true });
    const running = prepared.begin().finally(() => request.signal?.removeEventListener('abort', stop));
    // A signal that came while the run was being recorded interrupts it as soon as it has begun.
    if (aborted()) stop();
    const finished = await running;
    ended(runId, finished);
    return { runId, report: await journaledReport(store.runs, mesh, runId) };
  } finally {
    await store.close();
  }
}

// A check that did not finish has no report: refused with where to look.
function ended(runId: string, finished: FinishedRun): void {
  const { outcome } = finished;
  if (outcome.storeError) throw outcome.storeError;
  if (outcome.status === 'interrupted') throw new MeshRunError('interrupted', `drift check run ${runId} was interrupted before it finished`, ExitCode.sigint);
  if (outcome.status !== 'succeeded')
    throw new PreconditionError('drift-check-failed', `drift check run ${runId} failed: ${outcome.error?.message ?? 'no reason recorded'}`, {
      hint: `"mesh-run status ${runId}" shows where; run "mesh-run drift" again to check again`,
    });
}

// The report of a journaled check, read back from the journal: what the run recorded, and since when each
// item has been there (the mesh's drift history, this check included).
async function journaledReport(runs: Parameters<typeof meshDriftHistory>[0], before: MeshRecord, runId: string): Promise<DriftReport> {
  const all = await runs.listRuns(100_000);
  const mesh = meshRecords(all).find((m) => m.createdBy === before.createdBy) ?? before;
  const run = all.find((r) => r.id === runId);
  if (!run) throw new NotResumableError('run-not-found', `drift check run ${runId} is missing from the journal`);
  const config = membershipConfig(run);
  const [observations, history] = await Promise.all([runs.listObservations([runId]), meshDriftHistory(runs, mesh, all)]);
  const check = recordedCheck(runId, observations);
  const order = new Map<string, number>(DRIFT_KINDS.map((k, i) => [k, i]));
  const clusterOrder = new Map(config.clusters.map((c, i) => [c.name, i]));
  const items = check.items.sort(
    (a, b) => (order.get(a.kind) ?? 0) - (order.get(b.kind) ?? 0) || (clusterOrder.get(a.cluster) ?? 0) - (clusterOrder.get(b.cluster) ?? 0),
  );
  const at = check.clusters.length > 0 ? Math.max(...check.clusters.map((c) => c.at)) : run.createdAt;
  return {
    mesh: mesh.name,
    mode: run.mode,
    topology: meshTopology(config),
    membershipRun: run.targetRun ?? mesh.install,
    clusters: membersOf(config),
    checkedAt: new Date(at).toISOString(),
    runId,
    drift: items.map((item) => withFirstSeen(item, history)),
    unreadable: check.unreadable,
  };
}

function withFirstSeen(item: DriftItem, history: DriftHistory): DriftItem & { firstSeen?: DriftSeen } {
  const open = history.open.find((e) => driftKey(e) === driftKey(item));
  return open ? { ...item, firstSeen: { runId: open.firstSeen.runId, at: new Date(open.firstSeen.at).toISOString() } } : item;
}
