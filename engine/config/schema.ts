// The config's schema: every field, its type, its limits and what it means. The validator reads its fields,
// enums, bounds and patterns from here, and `mesh-run config schema` prints it as JSON Schema for editors, so
// the two cannot disagree on what a config may say.

export type SchemaNode =
  | { type: 'string'; description: string; pattern?: string; maxLength?: number; minLength?: number; enum?: readonly string[]; examples?: readonly string[] }
  | { type: 'integer' | 'number'; description: string; minimum: number; maximum: number; enum?: readonly number[] }
  | { type: 'object'; description: string; properties: Record<string, SchemaNode>; required?: readonly string[] }
  | { type: 'array'; description: string; items: SchemaNode; minItems?: number; maxItems?: number }
  | { anyOf: readonly SchemaNode[]; description: string };

// Kubernetes' limits, as the validator and the schema state them.
export const DNS1123_LABEL = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
export const LABEL_VALUE = '^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$';
export const DURATION = '^[0-9]+(\\.[0-9]+)?(ms|s|m|h)$';
export const API_SERVER_URL = '^https://[^\\s/]+(:[0-9]+)?/?$';
// 1024 remotes and their primary: fleets of that size exist, and a run's cost per transition does not grow
// with it (snapshots are written in parts).
export const MAX_CLUSTERS = 1025;

const duration = (description: string, example: string): SchemaNode => ({ type: 'string', description, pattern: DURATION, examples: [example] });
const path = (description: string): SchemaNode => ({ type: 'string', description, minLength: 1, maxLength: 4096 });
const clusterName: SchemaNode = {
  type: 'string',
  description: 'the cluster name Istio uses (clusterName, the remote secret, the injection path): a DNS-1123 label',
  pattern: DNS1123_LABEL,
  maxLength: 63,
};
const context: SchemaNode = { type: 'string', description: 'its kube context (default: the name)', minLength: 1, maxLength: 512 };
const network: SchemaNode = { type: 'string', description: 'the Istio network it is on (topology.istio.io/network)', pattern: LABEL_VALUE, maxLength: 63 };
const apiServer: SchemaNode = {
  type: 'string',
  description: 'the API server address its remote secret carries (istioctl create-remote-secret --server): one the primaries can reach',
  pattern: API_SERVER_URL,
  examples: ['https://10.0.0.12:6443'],
};

export const MESH_CLUSTER: SchemaNode = {
  type: 'object',
  description: 'one cluster of the mesh',
  properties: {
    name: clusterName,
    context,
    role: { type: 'string', description: 'primary: runs a control plane; remote: served by a primary', enum: ['primary', 'remote'] },
    network: { ...network, description: 'the Istio network it is on (default: the top-level network)' },
    controlPlane: {
      type: 'string',
      description: 'a remote: the name of the primary that serves it (may be left out when the mesh has one primary)',
      pattern: DNS1123_LABEL,
      maxLength: 63,
    },
    apiServer,
  },
  required: ['name', 'role'],
};

const LEGACY_CLUSTER: SchemaNode = {
  type: 'object',
  description: 'the primary cluster (primary-remote form)',
  properties: { name: clusterName, context },
};

const LEGACY_REMOTE: SchemaNode = {
  type: 'object',
  description: 'a remote cluster of the primary (primary-remote form)',
  properties: { name: clusterName, context, apiServer },
};

export const CONFIG_SCHEMA: SchemaNode & { type: 'object' } = {
  type: 'object',
  description:
    'A mesh-run config: the mesh (its clusters, their roles and networks) and how runs behave. Every field is optional; the defaults are the Istio page (cluster1 primary, cluster2 remote, mesh1, network1).',
  properties: {
    meshID: { type: 'string', description: 'the mesh ID (values.global.meshID)', pattern: LABEL_VALUE, maxLength: 63, examples: ['mesh1'] },
    network: { ...network, description: 'the network of every cluster that does not name its own (default network1)' },
    clusters: {
      type: 'array',
      description: 'every cluster of the mesh; the topology (primary-remote, multi-primary, multi-network, mixed) follows from roles and networks',
      items: MESH_CLUSTER,
      minItems: 1,
      maxItems: MAX_CLUSTERS,
    },
    primary: LEGACY_CLUSTER,
    remotes: { type: 'array', description: "the primary's remotes (primary-remote form)", items: LEGACY_REMOTE, minItems: 1, maxItems: MAX_CLUSTERS - 1 },
    revision: { type: 'string', description: 'an Istio revision for every control plane', pattern: DNS1123_LABEL, maxLength: 63 },
    timeouts: {
      type: 'object',
      description: 'how long mesh-run waits',
      properties: {
        gatewayAddress: duration('for a gateway load-balancer address (default 5m)', '5m'),
        command: duration('for one kubectl or istioctl command (default 10m)', '10m'),
      },
    },
    retry: {
      type: 'object',
      description: 'how transient failures (timeouts, refused connections, 5xx) are retried within a run',
      properties: {
        attempts: { type: 'integer', description: 'tries per step, the first included (1: no retry; default 3)', minimum: 1, maximum: 20 },
        initialDelay: duration('the first wait between tries (default 1s)', '1s'),
        maxDelay: duration('the longest wait between tries (default 30s)', '30s'),
        factor: { type: 'number', description: 'how much each wait grows (default 2)', minimum: 1, maximum: 10 },
      },
    },
    tools: {
      type: 'object',
      description: 'the kubectl and istioctl to run (default: found on PATH), and the kubeconfig they read',
      properties: {
        kubectl: path('kubectl: a program name or path'),
        istioctl: path('istioctl: a program name or path'),
        kubeconfig: path('the kubeconfig file (default: $KUBECONFIG, else ~/.kube/config); --kubeconfig overrides it'),
      },
    },
    maxParallelRemotes: {
      type: 'integer',
      description: 'how many clusters may run steps at the same time (default 16)',
      minimum: 1,
      maximum: 256,
    },
    trust: {
      anyOf: [
        { type: 'string', description: 'generate a root and intermediates with the defaults', enum: ['generate'] },
        {
          type: 'object',
          description: "a common root of trust for every primary's istiod: existing CA files (caDir), or generated",
          properties: {
            caDir: path("Istio's tools/certs layout: <caDir>/<cluster>/{ca-cert,ca-key,root-cert,cert-chain}.pem"),
            outputDir: path('keep the generated CA here (keys 0600); a re-run reuses it'),
            keySize: { type: 'integer', description: 'RSA key size (default 4096)', minimum: 2048, maximum: 4096, enum: [2048, 3072, 4096] },
            rootDays: { type: 'integer', description: 'root validity in days (default 3650)', minimum: 1, maximum: 36500 },
            intermediateDays: { type: 'integer', description: 'intermediate validity in days (default 730)', minimum: 1, maximum: 36500 },
          },
        },
      ],
      description: 'a common root of trust, created before istiod',
    },
    verify: {
      type: 'object',
      description: 'how mesh-run verify checks the mesh',
      properties: {
        samplesDir: path('a local Istio release whose samples/helloworld and samples/curl replace the generated manifests'),
        timeout: duration('how long each check keeps trying (default 2m)', '2m'),
      },
    },
  },
};

// The field names an object node allows.
export function fieldsOf(node: SchemaNode): string[] {
  return 'type' in node && node.type === 'object' ? Object.keys(node.properties) : [];
}

// The node of a nested field, e.g. fieldNode('retry', 'attempts').
export function fieldNode(...names: string[]): SchemaNode {
  let node: SchemaNode = CONFIG_SCHEMA;
  for (const name of names) {
    if ('anyOf' in node) node = node.anyOf.find((n) => 'type' in n && n.type === 'object') as SchemaNode;
    if ('type' in node && node.type === 'array' && name === 'items') {
      node = node.items;
      continue;
    }
    if (!('type' in node) || node.type !== 'object' || !node.properties[name]) throw new Error(`no field ${names.join('.')} in the config schema`);
    node = node.properties[name] as SchemaNode;
  }
  if ('anyOf' in node) return node.anyOf.find((n) => 'type' in n && n.type === 'object') ?? node;
  return node;
}

// The bounds of a numeric field.
export function boundsOf(...names: string[]): { minimum: number; maximum: number } {
  const node = fieldNode(...names);
  if (!('type' in node) || (node.type !== 'integer' && node.type !== 'number')) throw new Error(`${names.join('.')} is not numeric in the config schema`);
  return { minimum: node.minimum, maximum: node.maximum };
}

function toJson(node: SchemaNode): Record<string, unknown> {
  if ('anyOf' in node) return { description: node.description, anyOf: node.anyOf.map(toJson) };
  const { description } = node;
  switch (node.type) {
    case 'string':
      return { type: 'string', description, ...pick(node, ['pattern', 'maxLength', 'minLength', 'enum', 'examples']) };
    case 'integer':
    case 'number':
      return { type: node.type, description, minimum: node.minimum, maximum: node.maximum, ...pick(node, ['enum']) };
    case 'array':
      return { type: 'array', description, items: toJson(node.items), ...pick(node, ['minItems', 'maxItems']) };
    case 'object':
      return {
        type: 'object',
        description,
        properties: Object.fromEntries(Object.entries(node.properties).map(([k, v]) => [k, toJson(v)])),
        additionalProperties: false,
        ...(node.required ? { required: [...node.required] } : {}),
      };
  }
}

function pick<T extends object>(obj: T, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(obj).filter(([k, v]) => keys.includes(k) && v !== undefined));
}

// The config schema as JSON Schema (draft 2020-12), for editors (yaml-language-server) and other tools.
export function configJsonSchema(): Record<string, unknown> {
  const schema = toJson(CONFIG_SCHEMA);
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'https://mesh-run.dev/schemas/config.json',
    title: 'mesh-run config',
    ...schema,
    // The two ways of naming the clusters exclude each other.
    not: { anyOf: [{ required: ['clusters', 'primary'] }, { required: ['clusters', 'remotes'] }] },
  };
}
