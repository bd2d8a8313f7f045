// What a mesh's shape asks of each cluster, from Istio's multicluster pages: which clusters run a control
// plane, which need an east-west gateway, which expose istiod or services, and where each cluster's remote
// secret must go. Pure functions over the cluster list; the workflows, the step table and the views derive
// everything from here, so every topology is one set of rules rather than one flow per page.

import type { ClusterRole, MeshCluster, RepairItem } from '../shared/model.js';

export type { ClusterRole, MeshCluster };

export interface MeshShape {
  members: readonly MeshCluster[];
  // A trust: section: each primary gets the common root's intermediate before istiod starts.
  trust?: boolean;
  // A cluster add or remove run: the cluster joining or leaving (a member of `members` either way).
  subject?: string;
  // An upgrade that keeps the old revision installed (upgrade --keep-old).
  keepOld?: boolean;
  // A repair run: what it puts back, and where.
  repairs?: ReadonlyArray<Pick<RepairItem, 'action' | 'cluster'>>;
}

// The member list indexed once (by name, remotes by primary, networks): every rule below asks it instead of
// scanning the list, so a rule costs the same for 2 clusters as for 1025, and a view asking every rule of
// every cluster stays linear in the fleet. Keyed by the members array, which a shape never changes in place.
interface MeshIndex {
  byName: Map<string, MeshCluster>;
  primaries: MeshCluster[];
  remotes: MeshCluster[];
  remotesByPrimary: Map<string, MeshCluster[]>;
  networks: string[];
  // The helloworld versions the members run (computed on first use).
  versions?: Array<'v1' | 'v2'>;
}

const indexes = new WeakMap<readonly MeshCluster[], MeshIndex>();

function indexOf(shape: MeshShape): MeshIndex {
  const cached = indexes.get(shape.members);
  if (cached) return cached;
  const index: MeshIndex = { byName: new Map(), primaries: [], remotes: [], remotesByPrimary: new Map(), networks: [] };
  const networks = new Set<string>();
  for (const m of shape.members) {
    // The first of a name wins, as a search in list order would find it.
    if (!index.byName.has(m.name)) index.byName.set(m.name, m);
    networks.add(m.network);
    if (m.role === 'primary') index.primaries.push(m);
    if (m.role !== 'remote') continue;
    index.remotes.push(m);
    if (m.controlPlane === undefined) continue;
    const served = index.remotesByPrimary.get(m.controlPlane);
    if (served) served.push(m);
    else index.remotesByPrimary.set(m.controlPlane, [m]);
  }
  index.networks = [...networks];
  indexes.set(shape.members, index);
  return index;
}

export function primariesOf(shape: MeshShape): MeshCluster[] {
  return [...indexOf(shape).primaries];
}

export function remotesOf(shape: MeshShape, primary?: string): MeshCluster[] {
  const index = indexOf(shape);
  return [...(primary === undefined ? index.remotes : (index.remotesByPrimary.get(primary) ?? []))];
}

// How many remotes `primary` serves, without copying them.
function servedCount(shape: MeshShape, primary: string): number {
  return indexOf(shape).remotesByPrimary.get(primary)?.length ?? 0;
}

export function memberNamed(shape: MeshShape, name: string): MeshCluster | undefined {
  return indexOf(shape).byName.get(name);
}

// The primary whose istiod serves `name` (a primary serves itself).
export function controlPlaneOf(shape: MeshShape, name: string): MeshCluster | undefined {
  const member = memberNamed(shape, name);
  if (!member) return undefined;
  return member.role === 'primary' ? member : memberNamed(shape, member.controlPlane ?? '');
}

export function networksOf(shape: MeshShape): string[] {
  return [...indexOf(shape).networks];
}

// More than one network: clusters reach each other's workloads through east-west gateways.
export function isMultiNetwork(shape: MeshShape): boolean {
  return indexOf(shape).networks.length > 1;
}

// A primary with remotes exposes istiod through its gateway; on several networks every primary's network
// needs one for workload traffic; a remote on another network than its primary carries its own.
export function needsGateway(shape: MeshShape, name: string): boolean {
  const member = memberNamed(shape, name);
  if (!member) return false;
  if (member.role === 'primary') return servedCount(shape, name) > 0 || isMultiNetwork(shape);
  return member.network !== controlPlaneOf(shape, name)?.network;
}

export function exposesIstiod(shape: MeshShape, name: string): boolean {
  return memberNamed(shape, name)?.role === 'primary' && servedCount(shape, name) > 0;
}

// The expose-services Gateway (port 15443, AUTO_PASSTHROUGH) goes to every primary of a multi-network mesh.
export function exposesServices(shape: MeshShape, name: string): boolean {
  return memberNamed(shape, name)?.role === 'primary' && isMultiNetwork(shape);
}

// istio-system is labelled with its network before Istio is installed, on every cluster of a multi-network mesh.
export function labelsNetwork(shape: MeshShape, name: string): boolean {
  return memberNamed(shape, name) !== undefined && isMultiNetwork(shape);
}

// Every primary but the cluster itself holds the cluster's remote secret: each control plane sees the whole mesh.
export function secretHoldersOf(shape: MeshShape, name: string): MeshCluster[] {
  return indexOf(shape).primaries.filter((p) => p.name !== name);
}

// The holders attach-remote does not cover (a remote's own primary): the clusters exchange-secret serves.
export function exchangeTargetsOf(shape: MeshShape, name: string): MeshCluster[] {
  const own = memberNamed(shape, name)?.role === 'remote' ? memberNamed(shape, name)?.controlPlane : undefined;
  return secretHoldersOf(shape, name).filter((p) => p.name !== own);
}

// The clusters a primary's istiod must report synced: every other cluster of the mesh.
export function watchedBy(shape: MeshShape, primary: string): MeshCluster[] {
  return memberNamed(shape, primary)?.role === 'primary' ? shape.members.filter((m) => m.name !== primary) : [];
}

export type TopologyName = 'primary-remote' | 'multi-primary' | 'primary-remote multi-network' | 'multi-primary multi-network' | 'mixed';

// Which of Istio's pages the mesh is, or a mixed fleet (several primaries with remotes).
export function topologyName(shape: MeshShape): TopologyName {
  const primaries = primariesOf(shape).length;
  const remotes = remotesOf(shape).length;
  const network = isMultiNetwork(shape) ? ' multi-network' : '';
  if (primaries > 1 && remotes > 0) return 'mixed';
  if (primaries > 1) return `multi-primary${network}` as TopologyName;
  return `primary-remote${network}` as TopologyName;
}

const counted = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

// "2 primaries, 3 remotes, 2 networks".
export function describeShape(shape: MeshShape): string {
  const primaries = primariesOf(shape).length;
  return [
    `${primaries} ${primaries === 1 ? 'primary' : 'primaries'}`,
    counted(remotesOf(shape).length, 'remote'),
    counted(networksOf(shape).length, 'network'),
  ].join(', ');
}

// What one member does in this mesh (the install parent hands it to the member's child machine).
export function memberPlan(shape: MeshShape, name: string) {
  const member = memberNamed(shape, name);
  return {
    labelsNetwork: labelsNetwork(shape, name),
    establishesTrust: member?.role === 'primary' && Boolean(shape.trust),
    needsGateway: needsGateway(shape, name),
    exposesIstiod: exposesIstiod(shape, name),
    exposesServices: exposesServices(shape, name),
    exchangeTargets: exchangeTargetsOf(shape, name).map((p) => ({ name: p.name, context: p.context })),
    otherPrimaries: primariesOf(shape)
      .filter((p) => p.name !== name)
      .map((p) => p.name),
    remotes: remotesOf(shape, name).map((r) => r.name),
  };
}

// Which helloworld version a cluster runs in verify: on one network, v1 on the first primary and v2
// everywhere else; on several, v1 on the first primary's network and v2 on the others, so that every cluster
// must reach a version that runs only somewhere else (across a network, where there is one).
export function sampleVersionOf(shape: MeshShape, name: string): 'v1' | 'v2' {
  const first = indexOf(shape).primaries[0];
  const member = memberNamed(shape, name);
  if (!first || !member) return 'v1';
  if (isMultiNetwork(shape)) return member.network === first.network ? 'v1' : 'v2';
  return member.name === first.name ? 'v1' : 'v2';
}

// Every version the mesh's clusters run, sorted (once per member list: each member's plan lists them).
function sampleVersionsOf(shape: MeshShape): ReadonlyArray<'v1' | 'v2'> {
  const index = indexOf(shape);
  index.versions ??= [...new Set(shape.members.map((m) => sampleVersionOf(shape, m.name)))].sort();
  return index.versions;
}

// What one member does in a verify or uninstall run.
export function followUpPlan(shape: MeshShape, name: string) {
  const ref = (m: MeshCluster) => ({ name: m.name, context: m.context });
  const plane = controlPlaneOf(shape, name);
  const versions = [...sampleVersionsOf(shape)];
  return {
    ...(memberNamed(shape, name)?.role === 'remote' && plane ? { primary: ref(plane) } : {}),
    watches: watchedBy(shape, name).map(ref),
    holders: secretHoldersOf(shape, name).map(ref),
    sampleVersion: sampleVersionOf(shape, name),
    versions,
  };
}

// ---- Day 2: a cluster joins or leaves a mesh that is already installed. ----

// What a member does in the mesh, as far as its own installed objects go (its secrets' holders aside):
// a cluster add must not change any of it on the clusters already there, or it would be a reinstall.
function installedRole(shape: MeshShape, name: string): string {
  const plan = memberPlan(shape, name);
  return JSON.stringify([plan.labelsNetwork, plan.establishesTrust, plan.needsGateway, plan.exposesIstiod, plan.exposesServices]);
}

// Why `joining` cannot join `before` without changing what the clusters already there run (empty: it can).
export function joinProblems(before: MeshShape, joining: MeshCluster): string[] {
  const after: MeshShape = { ...before, members: [...before.members, joining] };
  const problems: string[] = [];
  if (joining.role === 'remote') {
    const plane = memberNamed(before, joining.controlPlane ?? '');
    if (plane && !exposesIstiod(before, plane.name))
      problems.push(
        `${plane.name} runs its control plane for itself only (installed without remotes, so istiod is neither external nor exposed through a gateway); a remote needs a primary that already serves remotes`,
      );
  }
  if (isMultiNetwork(after) && !isMultiNetwork(before))
    problems.push(
      `network ${joining.network} would make this one-network mesh multi-network, which changes every cluster already in it (network labels, gateways, exposed services); join it on network ${networksOf(before)[0] ?? ''}`,
    );
  if (problems.length > 0) return problems;
  for (const m of before.members) {
    if (installedRole(before, m.name) !== installedRole(after, m.name))
      problems.push(`${m.name} would need a different installation in the grown mesh (a gateway or an exposed service it does not have)`);
  }
  return problems;
}

// The clusters whose secrets a joining primary must hold: every member already there.
export function secretsHeldBy(shape: MeshShape, primary: string): MeshCluster[] {
  return memberNamed(shape, primary)?.role === 'primary' ? shape.members.filter((m) => m.name !== primary) : [];
}

// Why `leaving` cannot leave (empty: it can): the last primary, or a primary that still serves remotes.
export function leaveProblems(shape: MeshShape, leaving: string): string[] {
  const member = memberNamed(shape, leaving);
  if (!member) return [];
  if (member.role !== 'primary') return [];
  if (primariesOf(shape).length === 1) return [`${leaving} is the mesh's last primary; removing it would leave no control plane: uninstall the mesh instead`];
  const served = remotesOf(shape, leaving).map((r) => r.name);
  if (served.length > 0)
    return [
      `${leaving} still serves ${served.join(', ')}; remove ${served.length === 1 ? 'that remote' : 'those remotes'} first (mesh-run cluster remove --name ${served[0]})`,
    ];
  return [];
}
