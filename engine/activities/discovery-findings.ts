// mesh-run mesh discover, part 3: what does not fit across clusters, one finding a line with a hint: the
// primaries' remote secrets, meshIDs and revisions, their roots of trust, the tools that installed them, where
// a remote looks for its control plane, and the API server each cluster's secrets dial. Pure.
import { isLoopbackServer } from '../../shared/api-server.js';
import { API_SERVER_URL } from '../config/schema.js';
import type { DiscoveredCluster, DiscoveryFinding } from './discovery-report.js';
import type { ClusterFacts } from './mesh-discovery.js';

// Findings about the primaries' remote secrets: clusters nobody named, each other primary unseen, loopback servers.
export function secretFindings(primaries: DiscoveredCluster[], names: Set<string>, findings: DiscoveryFinding[]): void {
  for (const p of primaries) {
    for (const s of p.remoteSecrets) {
      for (const c of s.clusters.filter((c) => !names.has(c)))
        findings.push({
          level: 'blocking',
          cluster: p.name,
          message: `primary ${p.name}: remote secret ${s.name} is for cluster ${c}, which is not among the given clusters`,
          hint: `give it (--context ${c}=<context>, or in the config) so the spec includes it, or delete the stale secret`,
        });
      if (isLoopbackServer(s.server))
        findings.push({
          level: 'warning',
          cluster: p.name,
          message: `primary ${p.name}: remote secret ${s.name} dials ${s.server}, the primary pod's own loopback`,
          hint: 'recreate it with istioctl create-remote-secret --server <an address the primary can reach>',
        });
    }
    for (const q of primaries.filter((q) => q !== p && !p.remoteSecrets.some((s) => s.clusters.includes(q.name))))
      findings.push({
        level: 'warning',
        cluster: p.name,
        message: `primary ${p.name}: holds no secret for primary ${q.name}; its istiod does not see ${q.name}'s endpoints`,
        hint: `create it (istioctl create-remote-secret --name=${q.name} on ${q.name}, applied on ${p.name})`,
      });
  }
}

export function meshFindings(clusters: DiscoveredCluster[], findings: DiscoveryFinding[]): void {
  const ids = new Map<string, string[]>();
  for (const c of clusters) if (c.meshID) ids.set(c.meshID, [...(ids.get(c.meshID) ?? []), c.name]);
  if (ids.size > 1)
    findings.push({
      level: 'blocking',
      message: `the primaries differ in meshID: ${[...ids].map(([id, names]) => `${id} on ${names.join(', ')}`).join('; ')}`,
      hint: 'one mesh has one meshID (global.meshID); discover each mesh on its own clusters',
    });
  const revisions = new Set(clusters.filter((c) => c.role === 'primary').map((c) => c.revision));
  if (revisions.size > 1)
    findings.push({
      level: 'warning',
      message: `the primaries run different revisions (${[...revisions].join(', ')}): an upgrade in progress?`,
      hint: 'finish or roll back the upgrade before adopting the mesh',
    });
}

const PLUG_IN = 'plug in a common root (Istio "Plug in CA Certificates": cacerts from one root on every primary), then restart istiod';

// Several primaries trust each other's workloads only under one root. Compared by the fingerprints of the roots
// they publish; a primary whose root is not published yet is judged by whether it has cacerts.
export function rootFindings(primaries: DiscoveredCluster[], findings: DiscoveryFinding[]): void {
  if (primaries.length < 2) return;
  const roots = new Map<string, string[]>();
  for (const p of primaries) if (p.root) roots.set(p.root, [...(roots.get(p.root) ?? []), p.name]);
  if (roots.size > 1) {
    const which = [...roots].map(([root, names]) => `${names.join(', ')} ${root.slice(0, 12)}`).join('; ');
    findings.push({
      level: 'blocking',
      message: `${roots.size === 2 ? 'two' : roots.size} roots: the primaries sign under different roots of trust (SHA-256 ${which}); their workloads' mTLS fails`,
      hint: `${PLUG_IN} and the workloads`,
    });
    return;
  }
  const own = primaries.filter((p) => !p.cacerts);
  if (own.length === 0) return;
  if (primaries.every((p) => p.root))
    findings.push({
      level: 'warning',
      message: `primaries without cacerts (${own.map((p) => p.name).join(', ')}) sign under the mesh's one root ${[...roots.keys()][0]?.slice(0, 12)}, kept in istiod's own CA secret rather than cacerts`,
      hint: 'the config names it as trust.caDir: move the shared CA into cacerts (Istio "Plug in CA Certificates") before adopting the mesh',
    });
  else
    findings.push({
      level: 'blocking',
      message: `primaries without cacerts (${own.map((p) => p.name).join(', ')}) sign with istiod's own root: ${primaries.length} primaries need one`,
      hint: `${PLUG_IN} before adopting the mesh`,
    });
}

// Each cluster's installer, shown by kind: mesh-run, istioctl, helm, manifests.
export function sourceFindings(members: DiscoveredCluster[], findings: DiscoveryFinding[]): void {
  const kinds = new Map<string, string[]>();
  for (const c of members) if (c.source) kinds.set(c.source.kind, [...(kinds.get(c.source.kind) ?? []), c.name]);
  if (kinds.size < 2) return;
  findings.push({
    level: 'warning',
    message: `the clusters were installed by different tools: ${[...kinds].map(([kind, names]) => `${kind} on ${names.join(', ')}`).join('; ')}`,
    hint: 'upgrade each cluster with the tool that installed it (istioctl does not upgrade a Helm release, nor Helm an IstioOperator), or reinstall them with one',
  });
}

// A remote reaches its control plane at the address its remote profile was installed with
// (global.remotePilotAddress): it must still be where its primary is exposed.
export function addressFinding(remote: ClusterFacts, primary: ClusterFacts): DiscoveryFinding | undefined {
  const exposed = primary.exposedAddresses?.map((a) => a.toLowerCase());
  const stale = (remote.controlPlaneAddresses ?? []).filter((a) => !exposed?.includes(a.toLowerCase()));
  if (!exposed || stale.length === 0) return undefined;
  const now = exposed.length > 0 ? exposed.join(' or ') : primary.eastWestGateway ? 'its east-west gateway has no address yet' : 'it has no east-west gateway';
  const plural = stale.length > 1 ? 'addresses' : 'address';
  return {
    level: 'blocking',
    cluster: remote.name,
    message: `remote ${remote.name}: its control plane ${plural} ${stale.join(', ')} ${stale.length > 1 ? 'are' : 'is'} not the east-west gateway address of its primary ${primary.name} (now ${now})`,
    hint:
      exposed.length > 0
        ? `re-point it: install ${remote.name}'s remote profile again with values.global.remotePilotAddress=${exposed[0]} (its istiod endpoints and injector follow)`
        : `give ${primary.name} an east-west gateway with an address (expose istiod through it), then re-point ${remote.name} at it (values.global.remotePilotAddress)`,
  };
}

const sameServer = (a: string, b: string) => a.replace(/\/+$/, '').toLowerCase() === b.replace(/\/+$/, '').toLowerCase();

// The API server the primaries' remote secrets dial each cluster at, by cluster, where it is not the one its
// kube context dials (the config's apiServer, passed to create-remote-secret as --server). Holders that
// disagree are a finding; the config keeps the server most of them dial.
export function apiServers(facts: ClusterFacts[], primaries: ClusterFacts[], findings: DiscoveryFinding[]): Map<string, string> {
  const chosen = new Map<string, string>();
  for (const f of facts.filter((f) => !f.error)) {
    const dialled = primaries.flatMap((p) =>
      p.remoteSecrets.filter((s) => s.clusters.includes(f.name) && s.server && !isLoopbackServer(s.server)).map((s) => ({ holder: p.name, server: s.server })),
    );
    const counts = new Map<string, string[]>();
    for (const d of dialled) counts.set(d.server, [...(counts.get(d.server) ?? []), d.holder]);
    const [server] = [...counts].sort((a, b) => b[1].length - a[1].length)[0] ?? [];
    if (server === undefined) continue;
    if (counts.size > 1)
      findings.push({
        level: 'warning',
        cluster: f.name,
        message: `cluster ${f.name}: the primaries' remote secrets dial it at different API servers (${[...counts].map(([s, holders]) => `${s} from ${holders.join(', ')}`).join('; ')})`,
        hint: `the config keeps ${server}; recreate the others with istioctl create-remote-secret --server ${server}`,
      });
    if (f.contextServer && !sameServer(server, f.contextServer) && new RegExp(API_SERVER_URL).test(server)) chosen.set(f.name, server);
  }
  return chosen;
}
