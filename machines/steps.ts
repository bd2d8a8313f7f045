// The canonical step ids of each run kind, in the order the Istio pages run them, and on which clusters of a
// mesh each runs (machines/topology.ts says what each shape asks).
import {
  exchangeTargetsOf,
  exposesIstiod,
  exposesServices,
  labelsNetwork,
  type MeshMember,
  type MeshShape,
  needsGateway,
  secretHoldersOf,
  secretsHeldBy,
  watchedBy,
} from './topology.js';

// What a run does: the install page, its verify page, its cleanup section; or on day 2, one cluster joining or
// leaving an installed mesh, or its remote secrets' tokens rotated.
export const RUN_KINDS = ['install', 'verify', 'uninstall', 'cluster-add', 'cluster-remove', 'secrets-rotate'] as const;
export type RunKind = (typeof RUN_KINDS)[number];

export const INSTALL_STEP_IDS = [
  'preflight',
  'label-network',
  'establish-trust',
  'install-primary',
  'install-eastwest-gateway',
  'await-gateway-address',
  'expose-istiod',
  'expose-services',
  'create-remote-namespace',
  'annotate-remote-namespace',
  'install-remote',
  'attach-remote',
  'exchange-secret',
] as const;

export const VERIFY_STEP_IDS = ['check-remote-clusters', 'check-injector-ca', 'deploy-sample', 'await-sample', 'check-traffic'] as const;

export const UNINSTALL_STEP_IDS = ['remove-sample', 'detach-remote', 'uninstall-remote', 'uninstall-primary'] as const;

// Day 2 only: a joining remote reads its primary's gateway address, a joining primary receives every other
// cluster's secret, a leaving primary gives the secrets it holds back.
export const MEMBERSHIP_STEP_IDS = ['read-discovery-address', 'receive-secrets', 'release-secrets'] as const;

export const ROTATION_STEP_IDS = ['mint-token', 'swap-secret', 'await-synced', 'revoke-token'] as const;

export const STEP_IDS = [...INSTALL_STEP_IDS, ...VERIFY_STEP_IDS, ...UNINSTALL_STEP_IDS, ...MEMBERSHIP_STEP_IDS, ...ROTATION_STEP_IDS] as const;

export type StepId = (typeof STEP_IDS)[number];

// Where a step runs: on every cluster at once, on primaries, on remotes, or on any cluster the mesh's shape
// asks it of ('each'); `runsOn` narrows it per cluster.
export type StepScope = 'all' | 'primary' | 'remote' | 'each';

export interface StepInfo {
  id: StepId;
  scope: StepScope;
  title: string;
  // Whether the step runs on this member of this mesh (absent: on every member its scope names).
  runsOn?: (shape: MeshShape, member: MeshMember) => boolean;
  // The topologies it appears in, for people (the README's step table).
  appearsIn?: string;
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

const isSubject = (shape: MeshShape, m: MeshMember) => m.name === shape.subject;
// secrets rotate: every cluster some primary holds the secret of (or the one asked for).
const isRotated = (shape: MeshShape, m: MeshMember) => secretHoldersOf(shape, m.name).length > 0 && (shape.subject === undefined || isSubject(shape, m));
const subjectOf = (shape: MeshShape) => shape.members.find((m) => m.name === shape.subject);

export const WORKFLOW_STEPS: Readonly<Record<RunKind, readonly StepInfo[]>> = {
  install: INSTALL_STEPS,
  verify: [
    PREFLIGHT,
    {
      id: 'check-remote-clusters',
      scope: 'primary',
      title: 'istioctl remote-clusters shows every other cluster synced',
      runsOn: (shape, m) => watchedBy(shape, m.name).length > 0,
    },
    { id: 'check-injector-ca', scope: 'remote', title: "The remote's injector webhook has a caBundle" },
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

export function isRunKind(value: string): value is RunKind {
  return (RUN_KINDS as readonly string[]).includes(value);
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

// The clusters a step runs on in this mesh, in the order the config lists them.
export function clustersOfStep(info: StepInfo, shape: MeshShape): string[] {
  if (info.scope === 'all') return [ALL_CLUSTERS];
  return shape.members
    .filter((m) => (info.scope === 'primary' ? m.role === 'primary' : info.scope === 'remote' ? m.role === 'remote' : true))
    .filter((m) => info.runsOn?.(shape, m) ?? true)
    .map((m) => m.name);
}

// Every (step, cluster) pair a run of this kind goes through, in page order.
export function stepSlots(kind: RunKind, shape: MeshShape): Array<{ step: StepId; cluster: string }> {
  return WORKFLOW_STEPS[kind].flatMap((info) => clustersOfStep(info, shape).map((cluster) => ({ step: info.id, cluster })));
}
