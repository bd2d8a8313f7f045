// The canonical step ids of each run kind, in the order the Istio pages run them, and on which clusters of a
// mesh each runs (machines/topology.ts says what each shape asks).

// The run kinds are listed once, in shared/model.ts.
import { isRunKind, type RepairAction, RUN_KINDS, type RunKind } from '../shared/model.js';
import {
  exchangeTargetsOf,
  exposesIstiod,
  exposesServices,
  labelsNetwork,
  type MeshCluster,
  type MeshShape,
  needsGateway,
  secretHoldersOf,
  secretsHeldBy,
  watchedBy,
} from './topology.js';

export {
  ADOPT_STEP_IDS,
  DRIFT_STEP_IDS,
  INSTALL_STEP_IDS,
  MEMBERSHIP_STEP_IDS,
  REPAIR_STEP_IDS,
  ROLLBACK_STEP_IDS,
  ROTATION_STEP_IDS,
  STEP_IDS,
  type StepId,
  TRUST_ROTATE_STEP_IDS,
  UNINSTALL_STEP_IDS,
  UPGRADE_STEP_IDS,
  VERIFY_STEP_IDS,
} from './step-ids.js';
export { isRunKind, RUN_KINDS, type RunKind };

import { STEP_IDS, type StepId } from './step-ids.js';

export { STEP_WAITS, type WaitBudget } from './step-waits.js';

// Where a step runs: on every cluster at once, on primaries, on remotes, or on any cluster the mesh's shape
// asks it of ('each'); `runsOn` narrows it per cluster. A 'wave' step runs once per data-plane wave of an
// upgrade ('wave-1', 'wave-2'...): how many there are is decided while the run runs (select-namespaces).
export type StepScope = 'all' | 'primary' | 'remote' | 'each' | 'wave';

export interface StepInfo {
  id: StepId;
  scope: StepScope;
  title: string;
  // Whether the step runs on this member of this mesh (absent: on every member its scope names).
  runsOn?: (shape: MeshShape, member: MeshCluster) => boolean;
  // The topologies it appears in, for people (the README's step table).
  appearsIn?: string;
  remotesFirst?: boolean; // its remotes go before the primaries they point at (the mesh's order otherwise)
}

const PREFLIGHT: StepInfo = { id: 'preflight', scope: 'all', title: 'Check tools and kube contexts' };

// An install or uninstall step narrowed to the cluster a cluster add or remove is about.
function onSubject(info: StepInfo): StepInfo {
  return { ...info, runsOn: (shape, m) => m.name === shape.subject && (info.runsOn?.(shape, m) ?? true) };
}

const INSTALL_STEPS: readonly StepInfo[] = [
  PREFLIGHT,
  {
    id: 'label-network',
    scope: 'each',
    title: 'Label istio-system with its network',
    runsOn: (shape, m) => labelsNetwork(shape, m.name),
    appearsIn: 'multi-network',
  },
  {
    id: 'establish-trust',
    scope: 'primary',
    title: 'Create the cacerts secret (common root of trust)',
    runsOn: (shape) => Boolean(shape.trust),
    appearsIn: 'with trust:',
  },
  { id: 'install-primary', scope: 'primary', title: 'Install the control plane (istioctl install)' },
  {
    id: 'install-eastwest-gateway',
    scope: 'each',
    title: 'Install the east-west gateway',
    runsOn: (shape, m) => needsGateway(shape, m.name),
    appearsIn: 'primaries with remotes; every network of a multi-network mesh',
  },
  {
    id: 'await-gateway-address',
    scope: 'each',
    title: 'Wait for the gateway load-balancer IP',
    runsOn: (shape, m) => needsGateway(shape, m.name),
    appearsIn: 'where a gateway is installed',
  },
  {
    id: 'expose-istiod',
    scope: 'primary',
    title: 'Expose istiod through the gateway',
    runsOn: (shape, m) => exposesIstiod(shape, m.name),
    appearsIn: 'primaries with remotes',
  },
  {
    id: 'expose-services',
    scope: 'primary',
    title: 'Expose services through the gateway (port 15443)',
    runsOn: (shape, m) => exposesServices(shape, m.name),
    appearsIn: 'multi-network',
  },
  { id: 'create-remote-namespace', scope: 'remote', title: 'Create istio-system on the remote' },
  { id: 'annotate-remote-namespace', scope: 'remote', title: 'Annotate the remote control-plane cluster' },
  { id: 'install-remote', scope: 'remote', title: 'Install the remote profile' },
  { id: 'attach-remote', scope: 'remote', title: 'Attach the remote (its secret on its primary)' },
  {
    id: 'exchange-secret',
    scope: 'each',
    title: "This cluster's secret on every other primary",
    runsOn: (shape, m) => exchangeTargetsOf(shape, m.name).length > 0,
    appearsIn: 'several primaries',
  },
];

const UNINSTALL_STEPS: readonly StepInfo[] = [
  PREFLIGHT,
  { id: 'remove-sample', scope: 'each', title: 'Delete the sample namespace verify created' },
  {
    id: 'detach-remote',
    scope: 'each',
    title: "Remove this cluster's secret from every primary",
    runsOn: (shape, m) => secretHoldersOf(shape, m.name).length > 0,
  },
  { id: 'uninstall-remote', scope: 'remote', title: 'istioctl uninstall --purge and delete istio-system on the remote' },
  { id: 'uninstall-primary', scope: 'primary', title: 'istioctl uninstall --purge and delete istio-system on the primary' },
];

const isSubject = (shape: MeshShape, m: MeshCluster) => m.name === shape.subject;
// secrets rotate: every cluster some primary holds the secret of (or the one asked for).
const isRotated = (shape: MeshShape, m: MeshCluster) => secretHoldersOf(shape, m.name).length > 0 && (shape.subject === undefined || isSubject(shape, m));
const subjectOf = (shape: MeshShape) => shape.members.find((m) => m.name === shape.subject);

// A primary whose istiod watches other clusters: it must report each of them synced.
const watchesOthers = (shape: MeshShape, m: MeshCluster) => watchedBy(shape, m.name).length > 0;
// A primary's ingress gateway comes with its control plane; an east-west gateway where the topology needs one.
const hasGateways = (shape: MeshShape, m: MeshCluster) => m.role === 'primary' || needsGateway(shape, m.name);

const UPGRADE_STEPS: readonly StepInfo[] = [
  PREFLIGHT,
  { id: 'precheck-upgrade', scope: 'all', title: 'istioctl x precheck, version skew, every remote synced' },
  { id: 'install-revision', scope: 'primary', title: 'Install the new revision beside the old one (istioctl install)' },
  {
    id: 'expose-istiod-revision',
    scope: 'primary',
    title: "Expose the new revision's istiod through the gateway (expose-istiod-rev)",
    runsOn: (shape, m) => exposesIstiod(shape, m.name),
  },
  { id: 'install-remote-revision', scope: 'remote', title: 'Install the remote profile of the new revision' },
  { id: 'await-revision-synced', scope: 'primary', title: "The new revision's istiod reports every other cluster synced", runsOn: watchesOthers },
  { id: 'select-namespaces', scope: 'all', title: 'Choose the namespaces to move, record their labels, cut them into waves' },
  { id: 'move-wave', scope: 'wave', title: "Relabel a wave's namespaces to the new revision, restart their deployments" },
  { id: 'await-wave', scope: 'wave', title: "Every restarted proxy of the wave is connected to the new revision's istiod" },
  {
    id: 'upgrade-gateway',
    scope: 'each',
    title: "Upgrade the gateways in place: a primary's ingress gateway, and the east-west gateway where there is one",
    runsOn: hasGateways,
  },
  { id: 'flip-tag', scope: 'each', title: 'Point the default tag at the new revision (istioctl tag set default)' },
  {
    id: 'remove-old-revision',
    scope: 'each',
    title: 'Remove the old revision (istioctl uninstall --revision)',
    runsOn: (shape) => !shape.keepOld,
    remotesFirst: true,
  },
];

const ROLLBACK_STEPS: readonly StepInfo[] = [
  PREFLIGHT,
  { id: 'restore-tag', scope: 'each', title: 'Point the default tag back where it pointed before the upgrade' },
  {
    id: 'restore-gateway',
    scope: 'each',
    title: 'Put the gateways back on the old revision',
    runsOn: hasGateways,
  },
  { id: 'restore-namespaces', scope: 'all', title: 'Put back the labels the upgrade moved, restart those deployments' },
  { id: 'remove-remote-revision', scope: 'remote', title: "Remove the new revision's remote profile" },
  { id: 'remove-new-revision', scope: 'primary', title: "Remove the new revision's control plane and its istiod route" },
];

// Verify's first checks, and all a verify-links run does: the links between the clusters, nothing deployed.
const LINK_CHECKS: readonly StepInfo[] = [
  { id: 'check-remote-clusters', scope: 'primary', title: 'istioctl remote-clusters shows every other cluster synced', runsOn: watchesOthers },
  { id: 'check-injector-ca', scope: 'remote', title: "The remote's injector webhook has a caBundle" },
];

// A repair: on each cluster only the repairs its drift asks for, then the links checked as verify-links does.
const repairs = (action: RepairAction) => (shape: MeshShape, m: MeshCluster) =>
  shape.repairs?.some((r) => r.cluster === m.name && r.action === action) ?? false;
const REPAIR_STEPS: readonly StepInfo[] = [
  PREFLIGHT,
  { id: 'repair-label', scope: 'each', title: 'Label istio-system with its network again (label-network)', runsOn: repairs('label') },
  { id: 'remove-stale-secret', scope: 'primary', title: 'Delete remote secrets of clusters that are not members', runsOn: repairs('stale-secret') },
  {
    id: 'repair-trust',
    scope: 'primary',
    title: "Plug the mesh's CA in again (establish-trust); restart istiod if it signs under another root",
    runsOn: repairs('cacerts'),
  },
  {
    id: 'repair-control-plane',
    scope: 'primary',
    title: 'Install the control plane again as the journal has it (install-primary)',
    runsOn: repairs('control-plane'),
  },
  {
    id: 'repair-gateway',
    scope: 'each',
    title: 'Install the east-west gateway again and wait for its address (install-eastwest-gateway)',
    runsOn: repairs('gateway'),
  },
  {
    id: 'repair-expose',
    scope: 'primary',
    title: 'Apply the istiod or cross-network expose objects again (expose-istiod, expose-services)',
    runsOn: (shape, m) => repairs('expose-istiod')(shape, m) || repairs('expose-services')(shape, m),
  },
  {
    id: 'repair-annotation',
    scope: 'remote',
    title: 'Annotate the remote with its control-plane cluster again (annotate-remote-namespace)',
    runsOn: repairs('annotation'),
  },
  {
    id: 'repair-remote',
    scope: 'remote',
    title: "Install the remote profile again, pointed at its primary's gateway address as it is now (install-remote)",
    runsOn: repairs('remote'),
  },
  { id: 'repair-secret', scope: 'primary', title: "Write the members' remote secrets again (create-remote-secret | apply)", runsOn: repairs('secret') },
  { id: 'repair-tag', scope: 'each', title: "Point the default revision tag at the mesh's revision again", runsOn: repairs('default-tag') },
  ...LINK_CHECKS,
];

export const WORKFLOW_STEPS: Readonly<Record<RunKind, readonly StepInfo[]>> = {
  install: INSTALL_STEPS,
  adopt: [{ id: 'record-existing', scope: 'each', title: 'Read what the cluster runs and record it as there before mesh-run (nothing changed)' }],
  verify: [
    PREFLIGHT,
    ...LINK_CHECKS,
    { id: 'deploy-sample', scope: 'each', title: 'Deploy helloworld and curl in namespace sample' },
    { id: 'await-sample', scope: 'each', title: 'Wait for the sample rollouts' },
    { id: 'check-traffic', scope: 'each', title: 'Requests reach both versions from this cluster' },
  ],
  uninstall: UNINSTALL_STEPS,
  'cluster-add': [
    PREFLIGHT,
    {
      id: 'read-discovery-address',
      scope: 'primary',
      title: "Read the joining remote's primary gateway address",
      runsOn: (shape, m) => subjectOf(shape)?.controlPlane === m.name,
    },
    ...INSTALL_STEPS.filter((info) => info.id !== 'preflight').map(onSubject),
    {
      id: 'receive-secrets',
      scope: 'primary',
      title: "Every other cluster's secret on the joining primary",
      runsOn: (shape, m) => isSubject(shape, m) && secretsHeldBy(shape, m.name).length > 0,
    },
  ],
  'cluster-remove': [
    PREFLIGHT,
    ...UNINSTALL_STEPS.filter((info) => info.id === 'remove-sample' || info.id === 'detach-remote').map(onSubject),
    {
      id: 'release-secrets',
      scope: 'primary',
      title: "Delete the other clusters' secrets the leaving primary holds",
      runsOn: (shape, m) => isSubject(shape, m) && secretsHeldBy(shape, m.name).length > 0,
    },
    ...UNINSTALL_STEPS.filter((info) => info.id === 'uninstall-remote' || info.id === 'uninstall-primary').map(onSubject),
  ],
  'secrets-rotate': [
    PREFLIGHT,
    { id: 'mint-token', scope: 'each', title: 'Create a new token for the reader service account', runsOn: isRotated },
    { id: 'swap-secret', scope: 'each', title: 'Apply the remote secret with the new token on every primary holding it', runsOn: isRotated },
    { id: 'await-synced', scope: 'each', title: 'Every holding istiod reports the cluster synced', runsOn: isRotated },
    { id: 'revoke-token', scope: 'each', title: 'Delete the old token; the API server refuses it', runsOn: isRotated },
  ],
  upgrade: UPGRADE_STEPS,
  'upgrade-rollback': ROLLBACK_STEPS,
  'verify-links': [PREFLIGHT, ...LINK_CHECKS],
  repair: REPAIR_STEPS,
  drift: [{ id: 'check-drift', scope: 'all', title: 'Read every cluster, compare it with the journal and record what differs (nothing changed)' }],
  // One primary at a time, each through all four before the next begins.
  'trust-rotate': [
    PREFLIGHT,
    { id: 'mint-intermediate', scope: 'primary', title: 'A new intermediate CA from the same root, kept in the trust directory (key 0600)' },
    { id: 'plug-intermediate', scope: 'primary', title: 'Replace cacerts with the new intermediate (same root-cert.pem)' },
    { id: 'load-intermediate', scope: 'primary', title: 'istiod loads it: by itself where it reloads plugged-in certs, else a restart' },
    { id: 'await-istiod-chain', scope: 'primary', title: 'istiod serves the new chain and publishes the same root' },
  ],
};

// The cluster label used in the journal for steps that span all clusters.
export const ALL_CLUSTERS = '*';
// How people see and type that label: a CLUSTER column says "all", and --cluster all selects it.
export const ALL_CLUSTERS_WORD = 'all';

// A cluster as shown in tables and accepted by --cluster.
export function clusterLabel(cluster: string): string {
  return cluster === ALL_CLUSTERS ? ALL_CLUSTERS_WORD : cluster;
}

// What --cluster <word> selects in the journal.
export function clusterFromLabel(word: string): string {
  return word === ALL_CLUSTERS_WORD || word === ALL_CLUSTERS ? ALL_CLUSTERS : word;
}

// A (step, cluster) slot as shown everywhere: "preflight", "install-remote@cluster2".
export function slotLabel(step: string, cluster: string): string {
  return cluster === ALL_CLUSTERS ? step : `${step}@${cluster}`;
}

export function isStepId(value: string): value is StepId {
  return (STEP_IDS as readonly string[]).includes(value);
}

export function stepInfo(id: StepId): StepInfo {
  for (const steps of Object.values(WORKFLOW_STEPS)) {
    const found = steps.find((s) => s.id === id);
    if (found) return found;
  }
  throw new Error(`unknown step ${id}`);
}

export function stepIdsOf(kind: RunKind): StepId[] {
  return WORKFLOW_STEPS[kind].map((s) => s.id);
}

// The clusters a step runs on in this mesh, in the order the config lists them (remotes first if it says so).
export function clustersOfStep(info: StepInfo, shape: MeshShape): string[] {
  if (info.scope === 'all') return [ALL_CLUSTERS];
  if (info.scope === 'wave') return [];
  const order = (m: MeshCluster) => (info.remotesFirst && m.role !== 'remote' ? 1 : 0);
  return [...shape.members]
    .sort((a, b) => order(a) - order(b))
    .filter((m) => (info.scope === 'each' || m.role === info.scope) && (info.runsOn?.(shape, m) ?? true))
    .map((m) => m.name);
}

// The label of an upgrade's n-th data-plane wave (1-based), in the journal's cluster column.
export function waveLabel(n: number): string {
  return `wave-${n}`;
}

export function waveNumber(label: string): number | undefined {
  const n = /^wave-(\d+)$/.exec(label)?.[1];
  return n === undefined ? undefined : Number(n);
}

// Every (step, cluster) pair a run of this kind goes through, in page order; an upgrade's waves, known once
// the run has chosen them, are `waves` of them.
export function stepSlots(kind: RunKind, shape: MeshShape, waves = 0): Array<{ step: StepId; cluster: string }> {
  const infos = WORKFLOW_STEPS[kind];
  const waveSteps = infos.filter((info) => info.scope === 'wave');
  return infos.flatMap((info) => {
    if (info.scope !== 'wave') return clustersOfStep(info, shape).map((cluster) => ({ step: info.id, cluster }));
    // Wave steps go wave by wave (move-wave@wave-1, await-wave@wave-1, move-wave@wave-2...): placed at the first.
    if (info !== waveSteps[0]) return [];
    return Array.from({ length: waves }, (_, i) => waveSteps.map((w) => ({ step: w.id, cluster: waveLabel(i + 1) }))).flat();
  });
}
