// What shell completion offers where a value is typed, read from the journal and the config: mesh names, a
// mesh's clusters, run ids (of a kind), a run's slots for resume --from and its names for logs filters, and
// the fault specs a run would accept. Each answers what the verb itself would accept there.

import { type RunKind, STEP_IDS, stepIdsOf } from '../machines/steps.js';
import type { MeshConfig } from '../shared/model.js';
import type { RunStore } from '../store/contract.js';
import { openStore, type StoreLocation } from './composition.js';
import { faultSpecForms } from './config/fault-specs.js';
import { loadConfig, withClusterAdded } from './config/mesh-config.js';
import { KINDS } from './kinds/registry.js';
import { journalClusters, listMeshes } from './run-queries.js';

import { findMesh } from './views/mesh-records.js';
import { membershipConfig } from './views/run-config.js';
import { findRun, installRunOf } from './views/run-lookup.js';
import { rerunForms, runNames } from './views/run-slots.js';

export { journalClusters };

// What --mesh takes, newest activity first.
export async function meshNames(runs: RunStore): Promise<string[]> {
  return (await listMeshes(runs)).map((m) => m.name);
}

// A mesh's clusters (of one role), as cluster remove --name, secrets rotate --cluster and cluster add
// --control-plane take them.
export async function meshClusterNames(runs: RunStore, meshRef: string, role?: 'primary' | 'remote'): Promise<string[]> {
  const mesh = findMesh(await listMeshes(runs), meshRef);
  return mesh.clusters.filter((c) => role === undefined || c.role === role).map((c) => c.name);
}

// The newest run ids, of one kind if asked (upgrade rollback takes an upgrade's).
export async function recentRunIds(runs: RunStore, limit: number, kind?: RunKind): Promise<string[]> {
  return (await runs.listRuns(limit)).filter((r) => kind === undefined || r.kind === kind).map((r) => r.id);
}

// resume <id> --from: the steps and slots of that run.
export async function rerunTargets(runs: RunStore, ref: string): Promise<string[]> {
  const run = await findRun(runs, ref);
  return rerunForms(run, await runs.listAttempts(run.id));
}

// logs <id> --step / --cluster (and history --run): what that run has.
export async function runFilterNames(runs: RunStore, ref: string): Promise<{ steps: string[]; clusters: string[] }> {
  const run = await findRun(runs, ref);
  return runNames(run, await runs.listAttempts(run.id));
}

// history --step with --kind: that kind's steps; without: every step.
export function stepNames(kind?: RunKind): string[] {
  return kind ? stepIdsOf(kind) : [...STEP_IDS];
}

// Where a run that takes --inject-failure would act: the config file (install, verify/uninstall -c), the
// run it targets (verify/uninstall --run, upgrade rollback <run>), or a mesh of the journal (--mesh).
export interface FaultTarget {
  kind: RunKind;
  configPath?: string;
  runRef?: string;
  meshRef?: string;
  // cluster add and remove: the cluster joining or leaving (--name), as typed so far.
  subject?: { name: string; role?: 'primary' | 'remote'; network?: string; controlPlane?: string };
  store: StoreLocation;
}

// The fault specs that run would accept; only the step ids when where it acts cannot be read.
export async function faultSpecCandidates(target: FaultTarget): Promise<string[]> {
  try {
    const config = await faultConfig(target);
    return faultSpecForms(config, target.kind);
  } catch {
    return stepIdsOf(target.kind);
  }
}

async function faultConfig(target: FaultTarget): Promise<MeshConfig> {
  if (target.runRef === undefined && target.meshRef === undefined) {
    return loadConfig(target.configPath).config;
  }
  const store = await openStore(target.store, 'read-only');
  try {
    const runs = store.runs;
    if (target.runRef !== undefined) {
      // upgrade rollback <run> acts on the upgrade's clusters; verify and uninstall on the mesh of the run.
      const run = KINDS[target.kind].reverses ? await findRun(runs, target.runRef) : await installRunOf(runs, target.runRef);
      return membershipConfig(run);
    }
    const mesh = findMesh(await listMeshes(runs), target.meshRef as string);
    const run = await runs.getRun(mesh.install);
    if (!run) throw new Error(`run ${mesh.install} is missing`);
    const config = membershipConfig(run);
    const subject = target.subject;
    // As the day-2 runs record it: the mesh grown by the joining cluster, or as it stands, naming the one leaving.
    const role = KINDS[target.kind].mesh;
    if (role === 'leaves' && subject) return { ...config, subject: subject.name };
    if (role !== 'joins' || !subject) return config;
    return {
      ...withClusterAdded(config, { name: subject.name, context: subject.name, role: subject.role ?? 'remote', ...optional(subject) }),
      subject: subject.name,
    };
  } finally {
    await store.close();
  }
}

function optional(joining: NonNullable<FaultTarget['subject']>): { network?: string; controlPlane?: string } {
  return {
    ...(joining.network !== undefined ? { network: joining.network } : {}),
    ...(joining.controlPlane !== undefined ? { controlPlane: joining.controlPlane } : {}),
  };
}
