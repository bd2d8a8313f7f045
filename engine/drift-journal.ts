// What the journal says about a mesh's drift: its drift checks' records and its repairs' lists, read as one
// history (views/drift-history.ts). mesh show and mesh-run drift read it.
import type { RunRecord, RunStore } from '../store/contract.js';
import { KINDS } from './kinds/registry.js';
import { type DriftHistory, driftHistory } from './views/drift-history.js';
import { type MeshRecord, ownRunsOf } from './views/mesh-records.js';

// `all`: the journal's runs as listed (the listing the mesh records were made from).
export async function meshDriftHistory(runs: RunStore, mesh: MeshRecord, all: readonly RunRecord[]): Promise<DriftHistory> {
  // A rehearsal (repair --dry-run on a real mesh) repaired its simulated copy, not the mesh.
  const relevant = ownRunsOf(mesh, all).filter((r) => KINDS[r.kind]?.drift !== undefined);
  const checks = relevant.filter((r) => KINDS[r.kind].drift === 'checks').map((r) => r.id);
  return driftHistory(relevant, checks.length > 0 ? await runs.listObservations(checks) : []);
}
