// The mesh's clusters, in either form a config writes them (primary/remotes, or clusters:), and the rules
// they must keep together: unique names and contexts, a remote served by a primary, one root for several primaries.
import type { ClusterRef, MeshCluster, TrustConfig } from '../../shared/model.js';
import { checkKeys, describe, isRecord, type Problems } from './field-problems.js';
import { checkContext, checkLabel, checkLabelValue, readApiServer, readString } from './field-readers.js';
import { fieldNode, fieldsOf, MAX_CLUSTERS, MESH_CLUSTER } from './schema.js';

// The environment a config reads: CTX_CLUSTER1 and CTX_CLUSTER2 give the primary-remote form its contexts.
export type Env = Record<string, string | undefined>;

// The fields a cluster allows, from the schema editors get (engine/config/schema.ts).
const CLUSTER_KEYS = fieldsOf(fieldNode('primary'));
const REMOTE_KEYS = fieldsOf(fieldNode('remotes', 'items'));
const MESH_CLUSTER_KEYS = fieldsOf(MESH_CLUSTER);

function readCluster(
  raw: unknown,
  field: string,
  problems: Problems,
  defaults: { name: string; context: string | undefined },
  allowed: readonly string[],
): Record<string, unknown> & ClusterRef {
  if (raw !== undefined && !isRecord(raw)) {
    problems.add(field, `expected a mapping with name and context, got ${describe(raw)}`);
    return { name: defaults.name, context: defaults.context ?? defaults.name };
  }
  const obj = raw ?? {};
  checkKeys(obj, allowed, field, problems);
  const name = readString(obj.name, `${field}.name`, problems, defaults.name);
  checkLabel(name, `${field}.name`, problems);
  if (name === 'all')
    problems.add(
      `${field}.name`,
      '"all" is reserved: history --cluster all and the CLUSTER columns use it for steps that span every cluster; pick another name',
    );
  const context = readString(obj.context, `${field}.context`, problems, obj.name === undefined ? (defaults.context ?? name) : name);
  checkContext(context, `${field}.context`, problems);
  return { ...obj, name, context };
}

// The primary-remote form (primary:, remotes:, one network), as the Istio page writes it; CTX_CLUSTER1 and
// CTX_CLUSTER2 give the contexts, as in the page's commands.
export function readPrimaryRemote(raw: Record<string, unknown>, network: string, env: Env, problems: Problems): MeshCluster[] {
  const primary = readCluster(raw.primary, 'primary', problems, { name: 'cluster1', context: env.CTX_CLUSTER1 || undefined }, CLUSTER_KEYS);
  const remotes: MeshCluster[] = [];
  const asRemote = (cluster: ClusterRef, apiServer: unknown, field: string): MeshCluster => {
    const remote: MeshCluster = { name: cluster.name, context: cluster.context, role: 'remote', network, controlPlane: primary.name };
    const server = readApiServer(apiServer, field, problems);
    if (server) remote.apiServer = server;
    return remote;
  };
  if (raw.remotes === undefined) {
    remotes.push(
      asRemote(
        readCluster(undefined, 'remotes[0]', problems, { name: 'cluster2', context: env.CTX_CLUSTER2 || undefined }, REMOTE_KEYS),
        undefined,
        'remotes[0]',
      ),
    );
  } else if (!Array.isArray(raw.remotes) || raw.remotes.length === 0) {
    problems.add('remotes', `expected a non-empty list of {name, context}, got ${Array.isArray(raw.remotes) ? 'an empty list' : describe(raw.remotes)}`);
  } else if (raw.remotes.length > MAX_CLUSTERS - 1) {
    problems.add('remotes', `${raw.remotes.length} remotes is more than the ${MAX_CLUSTERS - 1} mesh-run supports; split the mesh into several runs`);
  } else {
    raw.remotes.forEach((entry: unknown, i: number) => {
      const field = `remotes[${i}]`;
      const fallbackName = i === 0 ? 'cluster2' : `cluster${i + 2}`;
      const ctxDefault = i === 0 ? env.CTX_CLUSTER2 || undefined : undefined;
      const remote = readCluster(entry, field, problems, { name: fallbackName, context: ctxDefault }, REMOTE_KEYS);
      remotes.push(asRemote(remote, remote.apiServer, field));
    });
  }
  const clusters: MeshCluster[] = [{ name: primary.name, context: primary.context, role: 'primary', network }, ...remotes];
  checkUnique(clusters, (i) => (i === 0 ? 'primary' : `remotes[${i - 1}]`), problems);
  return clusters;
}

// The clusters: form: every cluster with its role and network, remotes naming their primary.
export function readMeshClusters(raw: Record<string, unknown>, network: string, problems: Problems): MeshCluster[] {
  if (raw.primary !== undefined || raw.remotes !== undefined) {
    problems.add('clusters', 'give either clusters or primary/remotes, not both; clusters can say everything primary/remotes can');
  }
  const list = raw.clusters;
  if (!Array.isArray(list) || list.length === 0) {
    problems.add('clusters', `expected a non-empty list of clusters ({name, role, ...}), got ${Array.isArray(list) ? 'an empty list' : describe(list)}`);
    return [];
  }
  if (list.length > MAX_CLUSTERS) {
    problems.add('clusters', `${list.length} clusters is more than the ${MAX_CLUSTERS} mesh-run supports; split the mesh`);
    return [];
  }
  const clusters: MeshCluster[] = list.map((entry: unknown, i: number) => {
    const field = `clusters[${i}]`;
    if (!isRecord(entry)) {
      problems.add(field, `expected a mapping with name and role, got ${describe(entry)}`);
      return { name: `cluster${i + 1}`, context: `cluster${i + 1}`, role: 'primary', network };
    }
    const cluster = readCluster(entry, field, problems, { name: `cluster${i + 1}`, context: undefined }, MESH_CLUSTER_KEYS);
    if (entry.name === undefined) problems.add(`${field}.name`, 'missing; every cluster needs a name (the clusterName Istio uses)');
    let role: 'primary' | 'remote' = 'primary';
    if (entry.role !== 'primary' && entry.role !== 'remote') {
      problems.add(`${field}.role`, `${entry.role === undefined ? 'missing' : describe(entry.role)}; write "primary" (it runs a control plane) or "remote"`);
    } else role = entry.role;
    const own = readString(entry.network, `${field}.network`, problems, network);
    if (entry.network !== undefined) checkLabelValue(own, `${field}.network`, problems);
    const result: MeshCluster = { name: cluster.name, context: cluster.context, role, network: own };
    if (entry.controlPlane !== undefined) {
      const plane = readString(entry.controlPlane, `${field}.controlPlane`, problems, '');
      if (role === 'primary')
        problems.add(`${field}.controlPlane`, 'only a remote names a control plane; a primary runs its own: remove it, or make the cluster a remote');
      else if (plane) result.controlPlane = plane;
    }
    const server = readApiServer(entry.apiServer, field, problems);
    if (server) result.apiServer = server;
    return result;
  });
  checkUnique(clusters, (i) => `clusters[${i}]`, problems);
  const primaries = clusters.filter((c) => c.role === 'primary').map((c) => c.name);
  if (primaries.length === 0 && clusters.length > 0)
    problems.add('clusters', 'no primary: at least one cluster must have role: primary (it runs the control plane)');
  clusters.forEach((c, i) => {
    if (c.role !== 'remote' || primaries.length === 0) return;
    const field = `clusters[${i}].controlPlane`;
    if (c.controlPlane === undefined) {
      if (primaries.length === 1) c.controlPlane = primaries[0] as string;
      else problems.add(field, `missing; with several primaries each remote names the one that serves it (${primaries.join(', ')})`);
      return;
    }
    const target = clusters.find((x) => x.name === c.controlPlane);
    if (!target) problems.add(field, `"${c.controlPlane}" is not a cluster of this mesh; name one of its primaries (${primaries.join(', ')})`);
    else if (target.role !== 'primary') problems.add(field, `"${c.controlPlane}" is a remote; a remote is served by a primary (${primaries.join(', ')})`);
  });
  return clusters;
}

// Several control planes trust each other's workloads only under one root (Istio's "plug in CA certificates").
// A generated root must outlive the process that made it: a resumed run gives the next primary an
// intermediate of the same root, which it reads back from outputDir.
export function checkSharedTrust(clusters: readonly MeshCluster[], trust: TrustConfig | undefined, problems: Problems): void {
  const primaries = clusters.filter((c) => c.role === 'primary').length;
  if (primaries < 2) return;
  if (!trust)
    problems.add(
      'trust',
      `${primaries} primaries need one root of trust; add trust: {outputDir: ./certs} to generate it, or trust: {caDir: <dir>} for your own CA`,
    );
  else if (trust.source === 'generate' && !trust.outputDir)
    problems.add(
      'trust.outputDir',
      'missing; with several primaries the generated root must be kept so every primary (and a resumed run) signs under it: add outputDir: ./certs',
    );
}

// Names and contexts are each the mesh's own: one cluster, one name, one kube context.
function checkUnique(clusters: readonly MeshCluster[], fieldOf: (i: number) => string, problems: Problems): void {
  const names = new Map<string, string>();
  const contexts = new Map<string, string>();
  clusters.forEach((c, i) => {
    const nameOwner = names.get(c.name);
    if (nameOwner) problems.add(`${fieldOf(i)}.name`, `"${c.name}" is already used by ${nameOwner}; every cluster needs a unique name`);
    else names.set(c.name, `${fieldOf(i)}.name`);
    const ctxOwner = contexts.get(c.context);
    if (ctxOwner) problems.add(`${fieldOf(i)}.context`, `"${c.context}" is already the context of ${ctxOwner}; each cluster needs its own kube context`);
    else contexts.set(c.context, `${fieldOf(i)}.context`);
  });
}
