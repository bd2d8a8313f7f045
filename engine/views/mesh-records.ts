// Meshes as records, read from the journal: a mesh is what an install made (the same meshID on the same
// clusters: the same kube contexts, or for a dry run the same simulated world), with every run since that acted
// on it. Derived, not stored: the journal is the one source, so a mesh can never disagree with its runs.

import { NotResumableError, UsageError } from '../../shared/errors.js';
import type { MeshConfig } from '../../shared/model.js';
import type { RunRecord } from '../../store/contract.js';
import { meshTopology } from '../config/mesh-shape.js';
import { changesMembership, KINDS } from '../kinds/registry.js';
import { maybeRunConfig, membershipConfig } from './run-config.js';

export interface MeshRecord {
  // What --mesh takes: the meshID, or meshID@<install run id> when two meshes share a meshID.
  name: string;
  meshID: string;
  mode: 'dry-run' | 'real';
  topology: string;
  clusters: Array<{ name: string; context: string; role: string; network: string }>;
  // installed: an install succeeded and no uninstall since; removed: an uninstall succeeded after it;
  // incomplete: no install of it has succeeded yet.
  state: 'installed' | 'removed' | 'incomplete';
  // The install that made it, the run its membership comes from (the latest install, cluster add or remove
  // that succeeded), and every run of it, oldest first.
  createdBy: string;
  // How the mesh came into the journal: installed by mesh-run, or adopted (built by someone else).
  origin: 'installed' | 'adopted';
  install: string;
  runs: Array<{ id: string; kind: string; status: string; createdAt: number }>;
}

// The run that made a mesh of its own clusters (an install): the others change or act on a mesh.
const founds = (run: RunRecord) => KINDS[run.kind].mesh === 'founds';

function identity(run: RunRecord, config: MeshConfig): string {
  const where =
    run.mode === 'dry-run'
      ? `world:${run.simWorld}`
      : config.clusters
          .map((c) => c.context)
          .sort()
          .join(',');
  return `${run.mode}|${config.meshID}|${where}`;
}

export function meshRecords(all: readonly RunRecord[]): MeshRecord[] {
  const runs = [...all].sort((a, b) => a.createdAt - b.createdAt);
  const groups = new Map<string, { members: RunRecord[]; others: RunRecord[]; config: MeshConfig }>();
  // Which mesh each membership run (an install, a cluster add or remove) belongs to.
  const groupOf = new Map<string, string>();
  const modeOf = new Map(runs.map((r) => [r.id, r.mode]));
  // A day-2 run changes the mesh of the run it targets, unless it rehearsed on a simulated copy of a real one.
  const changes = (run: RunRecord) => changesMembership(run.kind) && (founds(run) || (run.targetRun !== null && modeOf.get(run.targetRun) === run.mode));
  for (const run of runs) {
    if (!changes(run)) continue;
    const config = maybeRunConfig(run);
    if (!config) continue;
    // An install is a mesh of its own clusters; a day-2 run belongs to the mesh of the run it changed.
    const key = founds(run) ? identity(run, config) : run.targetRun ? groupOf.get(run.targetRun) : undefined;
    if (key === undefined) continue;
    const group = groups.get(key) ?? { members: [], others: [], config };
    group.members.push(run);
    groups.set(key, group);
    groupOf.set(run.id, key);
  }
  for (const run of runs) {
    if (groupOf.has(run.id) || !run.targetRun) continue;
    const key = groupOf.get(run.targetRun);
    if (key) groups.get(key)?.others.push(run);
  }
  const records = [...groups.values()].map((g) => {
    const installs = g.members.filter(founds);
    const succeeded = g.members.filter((r) => r.status === 'succeeded');
    const membership = succeeded.at(-1) ?? (g.members.at(-1) as RunRecord);
    const config = maybeRunConfig(membership) ? membershipConfig(membership) : g.config;
    const lastChange = succeeded.at(-1)?.createdAt ?? Number.NEGATIVE_INFINITY;
    const removed = g.others.some((r) => KINDS[r.kind].removesMesh && r.status === 'succeeded' && r.createdAt > lastChange);
    const every = [...g.members, ...g.others].sort((a, b) => a.createdAt - b.createdAt);
    return {
      name: config.meshID,
      meshID: config.meshID,
      mode: membership.mode,
      topology: meshTopology(config),
      clusters: config.clusters.map((c) => ({ name: c.name, context: c.context, role: c.role, network: c.network })),
      state: !installs.some((r) => r.status === 'succeeded') ? 'incomplete' : removed ? 'removed' : 'installed',
      createdBy: (installs[0] ?? membership).id,
      origin: KINDS[(installs[0] ?? membership).kind].adopts ? 'adopted' : 'installed',
      install: membership.id,
      runs: every.map((r) => ({ id: r.id, kind: r.kind, status: r.status, createdAt: r.createdAt })),
    } satisfies MeshRecord;
  });
  // A meshID two meshes share is told apart by the install that made each.
  const count = new Map<string, number>();
  for (const r of records) count.set(r.meshID, (count.get(r.meshID) ?? 0) + 1);
  for (const r of records) if ((count.get(r.meshID) ?? 0) > 1) r.name = `${r.meshID}@${r.createdBy}`;
  // Newest activity first.
  return records.sort((a, b) => (b.runs.at(-1)?.createdAt ?? 0) - (a.runs.at(-1)?.createdAt ?? 0));
}

// The runs that acted on the mesh itself. A rehearsal (a day-2 run with --dry-run on a real mesh) is recorded
// against the real install but acted on a simulated copy: it says nothing about the mesh, as changes() reads it.
export function ownRunsOf(mesh: MeshRecord, all: readonly RunRecord[]): RunRecord[] {
  const ids = new Set(mesh.runs.map((r) => r.id));
  return all.filter((r) => ids.has(r.id) && r.mode === mesh.mode);
}

// The runs whose observations say what the mesh should look like: its own runs, drift checks aside (they
// record what differed from it, not what it should be).
export function observersOf(mesh: MeshRecord, all: readonly RunRecord[]): RunRecord[] {
  return ownRunsOf(mesh, all).filter((r) => KINDS[r.kind]?.drift !== 'checks');
}

// The mesh --mesh names: its name, or a meshID that only one mesh has, or meshID@<a prefix of its install>.
export function findMesh(records: readonly MeshRecord[], ref: string): MeshRecord {
  const exact = records.find((r) => r.name === ref);
  if (exact) return exact;
  const [meshID, prefix] = ref.split('@');
  const candidates = records.filter((r) => r.meshID === meshID && (prefix === undefined || r.createdBy.startsWith(prefix)));
  if (candidates.length === 1) return candidates[0] as MeshRecord;
  if (candidates.length > 1) {
    throw new UsageError(`--mesh ${ref}: ${candidates.length} meshes are called ${meshID}: ${candidates.map((c) => c.name).join(', ')}; name one of them`);
  }
  const known = records.map((r) => r.name);
  throw new NotResumableError(
    'mesh-not-found',
    `no mesh "${ref}" in this journal; ${known.length > 0 ? `it has ${known.slice(0, 10).join(', ')}` : 'install one first'} ("mesh-run meshes" lists them)`,
  );
}
