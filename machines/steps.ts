// The canonical step ids, in the order the Istio primary-remote page runs them. Data only.

export const STEP_IDS = [
  'preflight',
  'install-primary',
  'install-eastwest-gateway',
  'await-gateway-address',
  'expose-istiod',
  'create-remote-namespace',
  'annotate-remote-namespace',
  'install-remote',
  'attach-remote',
] as const;

export type StepId = (typeof STEP_IDS)[number];

// Where a step runs: on every cluster at once, on the primary, or once per remote.
export type StepScope = 'all' | 'primary' | 'remote';

export interface StepInfo {
  id: StepId;
  scope: StepScope;
  title: string;
}

export const STEPS: readonly StepInfo[] = [
  { id: 'preflight', scope: 'all', title: 'Check tools and kube contexts' },
  { id: 'install-primary', scope: 'primary', title: 'Install the control plane (istioctl install)' },
  { id: 'install-eastwest-gateway', scope: 'primary', title: 'Install the east-west gateway' },
  { id: 'await-gateway-address', scope: 'primary', title: 'Wait for the gateway load-balancer IP' },
  { id: 'expose-istiod', scope: 'primary', title: 'Expose istiod through the gateway' },
  { id: 'create-remote-namespace', scope: 'remote', title: 'Create istio-system on the remote' },
  { id: 'annotate-remote-namespace', scope: 'remote', title: 'Annotate the remote control-plane cluster' },
  { id: 'install-remote', scope: 'remote', title: 'Install the remote profile' },
  { id: 'attach-remote', scope: 'remote', title: 'Attach the remote (remote secret)' },
];

// The cluster label used in the journal for steps that span all clusters.
export const ALL_CLUSTERS = '*';

export function isStepId(value: string): value is StepId {
  return (STEP_IDS as readonly string[]).includes(value);
}

export function stepInfo(id: StepId): StepInfo {
  return STEPS.find((s) => s.id === id) as StepInfo;
}

// Every (step, cluster) pair a run with these clusters goes through, in page order.
export function stepSlots(primary: string, remotes: readonly string[]): Array<{ step: StepId; cluster: string }> {
  const slots: Array<{ step: StepId; cluster: string }> = [];
  for (const info of STEPS) {
    if (info.scope === 'all') slots.push({ step: info.id, cluster: ALL_CLUSTERS });
    else if (info.scope === 'primary') slots.push({ step: info.id, cluster: primary });
    else for (const remote of remotes) slots.push({ step: info.id, cluster: remote });
  }
  return slots;
}
