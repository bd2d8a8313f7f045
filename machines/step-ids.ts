// The canonical step ids of each run kind, in the order the Istio pages run them (machines/steps.ts says
// where each runs).

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

// A canary upgrade in the documented order (istio.io setup/upgrade/canary, extended to remotes), then its rollback's.
export const UPGRADE_STEP_IDS = [
  'precheck-upgrade',
  'install-revision',
  'expose-istiod-revision',
  'install-remote-revision',
  'await-revision-synced',
  'select-namespaces',
  'move-wave',
  'await-wave',
  'upgrade-gateway',
  'flip-tag',
  'remove-old-revision',
] as const;

export const ROLLBACK_STEP_IDS = ['restore-tag', 'restore-gateway', 'restore-namespaces', 'remove-remote-revision', 'remove-new-revision'] as const;

// Adoption reads each cluster and records what it runs as there before mesh-run.
export const ADOPT_STEP_IDS = ['record-existing'] as const;

// A repair puts back what a drift check found, through install's own steps, each only where it drifted.
export const REPAIR_STEP_IDS = [
  'repair-label',
  'remove-stale-secret',
  'repair-trust',
  'repair-control-plane',
  'repair-gateway',
  'repair-expose',
  'repair-annotation',
  'repair-remote',
  'repair-secret',
  'repair-tag',
] as const;

// A drift check reads every cluster at once and records what differs from the journal (nothing changed).
export const DRIFT_STEP_IDS = ['check-drift'] as const;
// trust rotate --intermediate, per primary in turn: a new intermediate of the same root, cacerts replaced,
// istiod made to load it, and the gate: istiod serving the new chain.
export const TRUST_ROTATE_STEP_IDS = ['mint-intermediate', 'plug-intermediate', 'load-intermediate', 'await-istiod-chain'] as const;

export const STEP_IDS = [
  ...INSTALL_STEP_IDS,
  ...ADOPT_STEP_IDS,
  ...VERIFY_STEP_IDS,
  ...UNINSTALL_STEP_IDS,
  ...MEMBERSHIP_STEP_IDS,
  ...ROTATION_STEP_IDS,
  ...UPGRADE_STEP_IDS,
  ...ROLLBACK_STEP_IDS,
  ...REPAIR_STEP_IDS,
  ...DRIFT_STEP_IDS,
  ...TRUST_ROTATE_STEP_IDS,
] as const;

export type StepId = (typeof STEP_IDS)[number];
