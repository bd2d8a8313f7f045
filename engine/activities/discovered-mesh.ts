// mesh-run mesh discover, part 2: from what each cluster shows (mesh-discovery.ts) to each cluster's role,
// the mesh's topology, the config that describes it, and what does not fit, one finding a line with a hint
// (those about one remote here, those across clusters in discovery-findings.ts). Pure: no cluster is read here.
import { meshTopology } from '../config/mesh-shape.js';
import { addressFinding, apiServers, meshFindings, rootFindings, secretFindings, sourceFindings } from './discovery-findings.js';
import type { DiscoveredCluster, DiscoveredConfig, DiscoveryFinding, DiscoveryReport } from './discovery-report.js';
import type { ClusterFacts } from './mesh-discovery.js';

export type { DiscoveredCluster, DiscoveredConfig, DiscoveryFinding, DiscoveryReport } from './discovery-report.js';

const DEFAULT_NETWORK = 'network1';

function baseOf(f: ClusterFacts): DiscoveredCluster {
  return {
    name: f.name,
    context: f.context,
    role: 'none',
    remoteSecrets: f.remoteSecrets,
    cacerts: f.cacerts,
    revisionTags: f.revisionTags,
    ...(f.eastWestGateway ? { eastWestGateway: f.eastWestGateway } : {}),
    ...(f.source ? { source: f.source } : {}),
  };
}

function isRemote(f: ClusterFacts): boolean {
  return f.istiods.length === 0 && (f.controlPlaneClusters !== undefined || f.injectors.length > 0);
}

// The primaries a remote's control plane could be: the annotation's, else those holding its secret.
function claimsOn(f: ClusterFacts, primaries: ClusterFacts[]): { by: 'annotation' | 'secrets'; names: string[] } {
  if (f.controlPlaneClusters) return { by: 'annotation', names: f.controlPlaneClusters };
  return { by: 'secrets', names: primaries.filter((p) => p.remoteSecrets.some((s) => s.clusters.includes(f.name))).map((p) => p.name) };
}

function primaryOf(f: ClusterFacts): DiscoveredCluster {
  const istiod = f.istiods[0];
  const network = f.network ?? istiod?.network ?? f.injectors[0]?.network;
  return {
    ...baseOf(f),
    role: 'primary',
    ...(network ? { network } : {}),
    ...(istiod?.meshID ? { meshID: istiod.meshID } : {}),
    ...(istiod ? { revision: istiod.revision } : {}),
    ...(f.root ? { root: f.root } : {}),
  };
}

function remoteOf(f: ClusterFacts, primaries: ClusterFacts[], findings: DiscoveryFinding[]): DiscoveredCluster {
  const claims = claimsOn(f, primaries);
  const known = claims.names.filter((n) => primaries.some((p) => p.name === n));
  for (const stranger of claims.names.filter((n) => !known.includes(n)))
    findings.push({
      level: 'blocking',
      cluster: f.name,
      message: `remote ${f.name}: names ${stranger} as its control plane, which is not among the given primaries`,
      hint: `give ${stranger} too (--context ${stranger}=<context>), or fix the topology.istio.io/controlPlaneClusters annotation on ${f.name}'s istio-system`,
    });
  if (known.length > 1)
    findings.push({
      level: 'blocking',
      cluster: f.name,
      message: `remote ${f.name}: claimed by ${known.length} primaries (${known.join(', ')}, by ${claims.by === 'annotation' ? 'its controlPlaneClusters annotation' : 'their remote secrets'})`,
      hint: `a remote has one control plane: annotate ${f.name}'s istio-system with topology.istio.io/controlPlaneClusters=<its primary>`,
    });
  const controlPlane = known.length === 1 ? known[0] : undefined;
  const holder = primaries.find((p) => p.name === controlPlane);
  if (controlPlane && !holder?.remoteSecrets.some((s) => s.clusters.includes(f.name)))
    findings.push({
      level: 'blocking',
      cluster: f.name,
      message: `remote ${f.name}: its primary ${controlPlane} holds no secret for it`,
      hint: `istiod on ${controlPlane} cannot see ${f.name}: create it (istioctl create-remote-secret --context=<${f.name}'s context> --name=${f.name} | kubectl apply --context=<${controlPlane}'s context> -f -)`,
    });
  if (claims.names.length === 0)
    findings.push({
      level: 'blocking',
      cluster: f.name,
      message: `remote ${f.name}: no primary among the given clusters serves it (no controlPlaneClusters annotation, no primary holds its secret)`,
      hint: `give its primary too (--context <primary>=<context>)`,
    });
  const stale = holder ? addressFinding(f, holder) : undefined;
  if (stale) findings.push(stale);
  const network = f.network ?? f.injectors.find((i) => i.network)?.network ?? (holder ? primaryOf(holder).network : undefined);
  const revision = f.injectors[0]?.revision;
  return {
    ...baseOf(f),
    role: 'remote',
    ...(network ? { network } : {}),
    ...(controlPlane ? { controlPlane } : {}),
    ...(revision ? { revision } : {}),
    ...(f.controlPlaneAddresses ? { controlPlaneAddresses: f.controlPlaneAddresses } : {}),
  };
}

// Roles, findings and the describing config from every cluster's facts.
export function deriveMesh(facts: ClusterFacts[]): DiscoveryReport {
  const findings: DiscoveryFinding[] = [];
  const primaryFacts = facts.filter((f) => !f.error && f.istiods.length > 0);
  const clusters = facts.map((f): DiscoveredCluster => {
    if (f.error) {
      findings.push({
        level: 'blocking',
        cluster: f.name,
        message: `cluster ${f.name}: cannot be read: ${f.error}`,
        hint: `check context ${f.context} answers`,
      });
      return { ...baseOf(f), role: 'unreadable' };
    }
    if (f.istiods.length > 0) return primaryOf(f);
    if (isRemote(f)) return remoteOf(f, primaryFacts, findings);
    findings.push({
      level: 'blocking',
      cluster: f.name,
      message: `cluster ${f.name}: no Istio (no istiod, no remote profile${f.istioSystem ? '' : ', no istio-system'})`,
      hint: `leave it out, or join it later with "mesh-run cluster add"`,
    });
    return baseOf(f);
  });
  const primaries = clusters.filter((c) => c.role === 'primary');
  secretFindings(primaries, new Set(facts.map((f) => f.name)), findings);
  meshFindings(clusters, findings);
  rootFindings(primaries, findings);
  const members = clusters.filter((c) => c.role === 'primary' || c.role === 'remote');
  sourceFindings(members, findings);
  const servers = apiServers(facts, primaryFacts, findings);
  for (const c of clusters) {
    const server = servers.get(c.name);
    if (server) c.apiServer = server;
  }
  const meshID = primaries.find((p) => p.meshID)?.meshID;
  const revisions = new Set(members.map((c) => c.revision ?? 'default'));
  const revision = revisions.size === 1 ? [...revisions][0] : undefined;
  const oneRoot = primaries.length > 1 && primaries.every((p) => p.root) && new Set(primaries.map((p) => p.root)).size === 1;
  const config: DiscoveredConfig = {
    ...(meshID ? { meshID } : {}),
    ...(revision && revision !== 'default' ? { revision } : {}),
    ...(primaries.length > 0 && (primaries.every((p) => p.cacerts) || oneRoot) ? { trust: { caDir: './certs' } } : {}),
    clusters: members.map((c) => ({
      name: c.name,
      context: c.context,
      role: c.role as 'primary' | 'remote',
      network: c.network ?? DEFAULT_NETWORK,
      ...(c.controlPlane ? { controlPlane: c.controlPlane } : {}),
      ...(c.apiServer ? { apiServer: c.apiServer } : {}),
    })),
  };
  const topology = primaries.length > 0 ? meshTopology({ clusters: config.clusters }) : undefined;
  return { ...(topology ? { topology } : {}), clusters, findings, config };
}
