// Kubernetes object shapes and the resource names kubectl accepts for them, as far as the simulator needs.

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    uid?: string;
    creationTimestamp?: string;
    resourceVersion?: string;
  };
  [field: string]: unknown;
}

export interface ResourceType {
  kind: string;
  apiVersion: string;
  // kubectl's resource.group form, used in "-o name" and apply output.
  resource: string;
  namespaced: boolean;
}

const TYPES: Array<ResourceType & { aliases: string[] }> = [
  { kind: 'Namespace', apiVersion: 'v1', resource: 'namespace', namespaced: false, aliases: ['namespace', 'namespaces', 'ns'] },
  { kind: 'Node', apiVersion: 'v1', resource: 'node', namespaced: false, aliases: ['node', 'nodes', 'no'] },
  { kind: 'Service', apiVersion: 'v1', resource: 'service', namespaced: true, aliases: ['service', 'services', 'svc'] },
  { kind: 'Secret', apiVersion: 'v1', resource: 'secret', namespaced: true, aliases: ['secret', 'secrets'] },
  { kind: 'ServiceAccount', apiVersion: 'v1', resource: 'serviceaccount', namespaced: true, aliases: ['serviceaccount', 'serviceaccounts', 'sa'] },
  { kind: 'ConfigMap', apiVersion: 'v1', resource: 'configmap', namespaced: true, aliases: ['configmap', 'configmaps', 'cm'] },
  { kind: 'Pod', apiVersion: 'v1', resource: 'pod', namespaced: true, aliases: ['pod', 'pods', 'po'] },
  {
    kind: 'Deployment',
    apiVersion: 'apps/v1',
    resource: 'deployment.apps',
    namespaced: true,
    aliases: ['deployment', 'deployments', 'deploy', 'deployment.apps', 'deployments.apps'],
  },
  {
    kind: 'EndpointSlice',
    apiVersion: 'discovery.k8s.io/v1',
    resource: 'endpointslice.discovery.k8s.io',
    namespaced: true,
    aliases: ['endpointslice', 'endpointslices', 'endpointslice.discovery.k8s.io'],
  },
  {
    kind: 'Gateway',
    apiVersion: 'networking.istio.io/v1',
    resource: 'gateway.networking.istio.io',
    namespaced: true,
    aliases: ['gateway.networking.istio.io', 'gateways.networking.istio.io', 'gw'],
  },
  {
    kind: 'VirtualService',
    apiVersion: 'networking.istio.io/v1',
    resource: 'virtualservice.networking.istio.io',
    namespaced: true,
    aliases: ['virtualservice.networking.istio.io', 'virtualservices.networking.istio.io', 'virtualservice', 'virtualservices', 'vs'],
  },
  {
    kind: 'MutatingWebhookConfiguration',
    apiVersion: 'admissionregistration.k8s.io/v1',
    resource: 'mutatingwebhookconfiguration.admissionregistration.k8s.io',
    namespaced: false,
    aliases: ['mutatingwebhookconfiguration', 'mutatingwebhookconfigurations', 'mutatingwebhookconfiguration.admissionregistration.k8s.io'],
  },
  {
    kind: 'ValidatingWebhookConfiguration',
    apiVersion: 'admissionregistration.k8s.io/v1',
    resource: 'validatingwebhookconfiguration.admissionregistration.k8s.io',
    namespaced: false,
    aliases: ['validatingwebhookconfiguration', 'validatingwebhookconfigurations', 'validatingwebhookconfiguration.admissionregistration.k8s.io'],
  },
  {
    kind: 'CustomResourceDefinition',
    apiVersion: 'apiextensions.k8s.io/v1',
    resource: 'customresourcedefinition.apiextensions.k8s.io',
    namespaced: false,
    aliases: ['crd', 'crds', 'customresourcedefinition', 'customresourcedefinitions'],
  },
  {
    kind: 'ClusterRole',
    apiVersion: 'rbac.authorization.k8s.io/v1',
    resource: 'clusterrole.rbac.authorization.k8s.io',
    namespaced: false,
    aliases: ['clusterrole', 'clusterroles'],
  },
  {
    kind: 'ClusterRoleBinding',
    apiVersion: 'rbac.authorization.k8s.io/v1',
    resource: 'clusterrolebinding.rbac.authorization.k8s.io',
    namespaced: false,
    aliases: ['clusterrolebinding', 'clusterrolebindings'],
  },
];

// Every resource type the simulator knows.
export function resourceTypes(): ResourceType[] {
  return TYPES;
}

// Finds a type from what a user types after "kubectl get" (svc, deployment.apps, gateway.networking.istio.io ...).
export function resourceType(name: string): ResourceType | undefined {
  const lower = name.toLowerCase();
  return TYPES.find((t) => t.aliases.includes(lower));
}

export function typeOfKind(kind: string, apiVersion?: string): ResourceType | undefined {
  const found = TYPES.find((t) => t.kind === kind);
  if (!found) return undefined;
  if (apiVersion && found.apiVersion.split('/')[0] !== apiVersion.split('/')[0]) return undefined;
  return found;
}

// The plural kubectl uses in server messages: namespaces "x" not found.
export function pluralOf(type: ResourceType): string {
  const [base, ...group] = type.resource.split('.');
  const plural = (base as string).endsWith('s') ? `${base}es` : /[^aeiou]y$/.test(base as string) ? `${(base as string).slice(0, -1)}ies` : `${base}s`;
  return [plural, ...group].join('.');
}

// kubectl's "-o name" form of an object.
export function nameOf(type: ResourceType, name: string): string {
  return `${type.resource}/${name}`;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

// What the API server says about an object it refuses (names and label values past Kubernetes' limits).
export function invalidReason(obj: KubeObject): string | undefined {
  const name = obj.metadata.name;
  const label = obj.kind === 'Namespace' || obj.kind === 'Service';
  const limit = label ? 63 : 253;
  const invalid = (field: string, value: string, why: string) => `${obj.kind} "${name}" is invalid: ${field}: Invalid value: "${value}": ${why}`;
  if (name.length > limit) return invalid('metadata.name', name, `must be no more than ${limit} characters`);
  if (!(label ? DNS_LABEL : DNS_SUBDOMAIN).test(name))
    return invalid(
      'metadata.name',
      name,
      `a lowercase RFC 1123 ${label ? 'label' : 'subdomain'} must consist of lower case alphanumeric characters, '-' or '.'`,
    );
  for (const [key, value] of Object.entries(obj.metadata.labels ?? {})) {
    if (value.length > 63) return invalid(`metadata.labels`, value, 'must be no more than 63 characters');
    if (!LABEL_VALUE.test(value))
      return invalid('metadata.labels', value, "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.'");
    const keyName = key.includes('/') ? key.slice(key.indexOf('/') + 1) : key;
    if (keyName.length > 63) return invalid('metadata.labels', key, 'name part must be no more than 63 characters');
  }
  return undefined;
}
