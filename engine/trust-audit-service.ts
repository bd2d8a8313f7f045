// mesh-run trust audit: which mesh (one of the journal, installed or adopted; its real clusters or a dry run's
// simulated ones), then the audit (activities/trust-audit.ts). Reads only and records nothing: the journal is
// for runs, and an audit is a look, repeated whenever asked; its answer is printed, not kept.
import type { RunMode } from '../shared/model.js';
import { auditTrust, type TrustAssessment } from './activities/trust-audit.js';
import { openStore, openStoreToRead, type StoreLocation, toolsFor } from './composition.js';
import { installedMesh } from './day2-service.js';

export type { PrimaryTrust, TrustAssessment, TrustFinding, TrustSeverity } from './activities/trust-audit.js';

export interface TrustAuditRequest {
  meshRef: string;
  store: StoreLocation;
}

export interface TrustAuditReport extends TrustAssessment {
  mesh: string;
  mode: RunMode;
  // What was read, in words: "the simulated clusters of mesh mesh1".
  target: string;
}

export async function auditMeshTrust(request: TrustAuditRequest): Promise<TrustAuditReport> {
  const found = await openStore(request.store, 'read-only');
  let mode: RunMode;
  try {
    mode = (await installedMesh(found, request.meshRef, 'audit')).run.mode;
  } finally {
    await found.close();
  }
  const store = await openStoreToRead(request.store, mode);
  try {
    const { mesh, run, config } = await installedMesh(store, request.meshRef, 'audit');
    const tools = await toolsFor(run.mode, config, store, run.simWorld);
    const assessment = await auditTrust(config, tools, Date.now());
    return { mesh: mesh.name, mode: run.mode, target: `the ${run.mode === 'dry-run' ? 'simulated ' : ''}clusters of mesh ${mesh.name}`, ...assessment };
  } finally {
    await store.close();
  }
}
