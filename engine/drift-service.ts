// mesh-run drift: a journal mesh (installed or adopted) against its clusters now. The expected state is the
// journal's: the mesh's membership config and what its runs observed; the reads (activities/drift-reads.ts)
// and the comparison (activities/drift.ts, pure) say what differs. Reads only; records nothing yet.
import { NotResumableError } from '../shared/errors.js';
import type { RunMode } from '../shared/model.js';
import { journaledCacerts } from './activities/cacerts-journal.js';
import { compareMesh, type DriftItem, type UnreadCluster } from './activities/drift.js';
import { readDrift } from './activities/drift-reads.js';
import { SUBJECTS } from './activities/inventory.js';
import { openStore, openStoreToRead, type StoreLocation, toolsFor } from './composition.js';
import { meshTopology } from './config/mesh-shape.js';
import { listMeshes } from './run-queries.js';
import { findMesh, type MeshRecord } from './views/mesh-records.js';
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
  drift: DriftItem[];
  unreadable: UnreadCluster[];
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

export async function checkDrift(request: DriftRequest): Promise<DriftReport> {
  const mesh = await installedMesh(request.store, request.meshRef);
  const store = await openStoreToRead(request.store, mesh.mode);
  try {
    const run = await installRunOf(store.runs, mesh.install);
    const config = membershipConfig(run);
    const observations = await store.runs.listObservations(mesh.runs.map((r) => r.id));
    const cacerts = new Set(observations.filter((o) => o.subject === SUBJECTS.cacerts && o.present).map((o) => o.cluster));
    const tools = await toolsFor(run.mode, config, store, run.simWorld);
    const checkedAt = new Date().toISOString();
    // What each primary's cacerts should carry: the newest fingerprints the mesh's runs journaled.
    const certs = journaledCacerts(observations, config);
    const { items, unreadable } = compareMesh({ config, cacerts, certs }, await readDrift(config, tools));
    return {
      mesh: mesh.name,
      mode: run.mode,
      topology: meshTopology(config),
      membershipRun: run.id,
      clusters: config.clusters.map((c) => ({
        name: c.name,
        context: c.context,
        role: c.role,
        network: c.network,
        ...(c.controlPlane ? { controlPlane: c.controlPlane } : {}),
      })),
      checkedAt,
      drift: items,
      unreadable,
    };
  } finally {
    await store.close();
  }
}
