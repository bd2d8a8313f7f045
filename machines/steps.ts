// The canonical step ids of each run kind, in the order the Istio pages run them. Data only.

// What a run does: the install page, its verify page, or its cleanup section.
export const RUN_KINDS = ['install', 'verify', 'uninstall'] as const;
export type RunKind = (typeof RUN_KINDS)[number];

export const INSTALL_STEP_IDS = [
  'preflight',
  'establish-trust',
  'install-primary',
  'install-eastwest-gateway',
  'await-gateway-address',
  'expose-istiod',
  'create-remote-namespace',
  'annotate-remote-namespace',
  'install-remote',
  'attach-remote',
] as const;

export const VERIFY_STEP_IDS = ['check-remote-clusters', 'check-injector-ca', 'deploy-sample', 'await-sample', 'check-traffic'] as const;

export const UNINSTALL_STEP_IDS = ['remove-sample', 'detach-remote', 'uninstall-remote', 'uninstall-primary'] as const;

export const STEP_IDS = [...INSTALL_STEP_IDS, ...VERIFY_STEP_IDS, ...UNINSTALL_STEP_IDS] as const;

export type StepId = (typeof STEP_IDS)[number];

// Where a step runs: on every cluster at once, on the primary, once per remote, or once per cluster.
export type StepScope = 'all' | 'primary' | 'remote' | 'each';

export interface StepInfo {
  id: StepId;
  scope: StepScope;
  title: string;
  // Runs only when the config asks for it (establish-trust: a `trust:` section).
  optional?: 'trust';
}

const PREFLIGHT: StepInfo = { id: 'preflight', scope: 'all', title: 'Check tools and kube contexts' };

export const WORKFLOW_STEPS: Readonly<Record<RunKind, readonly StepInfo[]>> = {
  install: [
    PREFLIGHT,
    { id: 'establish-trust', scope: 'primary', title: 'Create the cacerts secret (common root of trust)', optional: 'trust' },
    { id: 'install-primary', scope: 'primary', title: 'Install the control plane (istioctl install)' },
    { id: 'install-eastwest-gateway', scope: 'primary', title: 'Install the east-west gateway' },
    { id: 'await-gateway-address', scope: 'primary', title: 'Wait for the gateway load-balancer IP' },
    { id: 'expose-istiod', scope: 'primary', title: 'Expose istiod through the gateway' },
    { id: 'create-remote-namespace', scope: 'remote', title: 'Create istio-system on the remote' },
    { id: 'annotate-remote-namespace', scope: 'remote', title: 'Annotate the remote control-plane cluster' },
    { id: 'install-remote', scope: 'remote', title: 'Install the remote profile' },
    { id: 'attach-remote', scope: 'remote', title: 'Attach the remote (remote secret)' },
  ],
  verify: [
    PREFLIGHT,
    { id: 'check-remote-clusters', scope: 'primary', title: 'istioctl remote-clusters shows every remote synced' },
    { id: 'check-injector-ca', scope: 'remote', title: "The remote's injector webhook has a caBundle" },
    { id: 'deploy-sample', scope: 'each', title: 'Deploy helloworld and curl in namespace sample' },
    { id: 'await-sample', scope: 'each', title: 'Wait for the sample rollouts' },
    { id: 'check-traffic', scope: 'each', title: 'Requests reach both versions from this cluster' },
  ],
  uninstall: [
    PREFLIGHT,
    { id: 'remove-sample', scope: 'each', title: 'Delete the sample namespace verify created' },
    { id: 'detach-remote', scope: 'remote', title: "Remove the remote's secret from the primary" },
    { id: 'uninstall-remote', scope: 'remote', title: 'istioctl uninstall --purge and delete istio-system on the remote' },
    { id: 'uninstall-primary', scope: 'primary', title: 'istioctl uninstall --purge and delete istio-system on the primary' },
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

export interface SlotClusters {
  primary: string;
  remotes: readonly string[];
  // Whether optional steps are part of this run.
  trust?: boolean;
}

// The clusters a step of this scope runs on.
export function clustersOf(scope: StepScope, clusters: SlotClusters): string[] {
  if (scope === 'all') return [ALL_CLUSTERS];
  if (scope === 'primary') return [clusters.primary];
  if (scope === 'remote') return [...clusters.remotes];
  return [clusters.primary, ...clusters.remotes];
}

// Every (step, cluster) pair a run of this kind goes through, in page order.
export function stepSlots(kind: RunKind, clusters: SlotClusters): Array<{ step: StepId; cluster: string }> {
  const slots: Array<{ step: StepId; cluster: string }> = [];
  for (const info of WORKFLOW_STEPS[kind]) {
    if (info.optional === 'trust' && !clusters.trust) continue;
    for (const cluster of clustersOf(info.scope, clusters)) slots.push({ step: info.id, cluster });
  }
  return slots;
}
