// The labels istioctl puts on what it installs, and which of those objects its prune and uninstall remove.

export const MANAGED = 'operator.istio.io/managed';
export const COMPONENT = 'operator.istio.io/component';
// What istioctl uninstall --revision removes (operator/pkg/uninstall/prune.go): never the base chart.
export const REVISIONED_COMPONENTS = new Set(['Pilot', 'IngressGateways', 'EgressGateways']);
export const OWNER = 'install.operator.istio.io/owning-resource';
// The kinds istioctl prunes, when a re-install no longer renders an object and on uninstall
// (operator/pkg/uninstall/prune.go; CRDs too on --purge). An EndpointSlice is not one of them: the one the
// remote profile renders for istiod outlives istioctl uninstall, --purge and --revision alike.
export const PRUNED_KINDS = new Set([
  'Deployment',
  'DaemonSet',
  'Service',
  'ConfigMap',
  'Pod',
  'Secret',
  'ServiceAccount',
  'RoleBinding',
  'Role',
  'PodDisruptionBudget',
  'HorizontalPodAutoscaler',
  'EnvoyFilter',
  'MutatingWebhookConfiguration',
  'ValidatingWebhookConfiguration',
  'ClusterRole',
  'ClusterRoleBinding',
]);
export const REV = 'istio.io/rev';
