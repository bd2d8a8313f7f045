// mesh-run mesh discover, part 1: what each cluster shows of the Istio it runs, by kubectl reads only.
//
// A remote secret's data is read because its server is the question; the kubeconfig is parsed in this
// function's memory and only the cluster names and the server are kept. The command's stdout is marked
// sensitive and nothing here journals: discovery runs without a run record.
import { parse } from 'yaml';
import type { ClusterTools } from '../../adapters/cluster-tools.js';
import type { ClusterRef, MeshConfig } from '../../shared/model.js';
import { directRuntime, probing } from './environment-check.js';
import { CACERTS, ISTIO_SYSTEM } from './install.js';
import { CONTROL_PLANE_ANNOTATION, GATEWAY_SERVICE } from './install-common.js';
import { kubectl } from './step-runtime.js';

const NETWORK_LABEL = 'topology.istio.io/network';
const CLUSTER_ANNOTATION = 'networking.istio.io/cluster';
const SECRET_PREFIX = 'istio-remote-secret-';

export interface DiscoveredIstiod {
  name: string;
  revision: string;
  clusterId?: string;
  meshID?: string;
  network?: string;
  externalIstiod: boolean;
}

export interface DiscoveredSecret {
  name: string;
  // The clusters this secret lets istiod read (its kubeconfig keys), and the API server it dials.
  clusters: string[];
  server: string;
}

// What one cluster shows; `error` when it could not be read at all.
export interface ClusterFacts extends ClusterRef {
  error?: string;
  istioSystem: boolean;
  istiods: DiscoveredIstiod[];
  network?: string;
  controlPlaneClusters?: string[];
  // The injector webhooks: their revision, whether they call a URL (the remote profile), the network their
  // injection path names (/inject/cluster/<c>/net/<network>).
  injectors: Array<{ name: string; revision: string; url?: string; network?: string }>;
  revisionTags: string[];
  eastWestGateway?: { address?: string };
  remoteSecrets: DiscoveredSecret[];
  cacerts: boolean;
}

interface Item {
  metadata?: { name?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: unknown;
  status?: unknown;
  data?: Record<string, string>;
  webhooks?: Array<{ clientConfig?: { url?: string; service?: { path?: string } } }>;
}

const itemsOf = (stdout: string): Item[] => (JSON.parse(stdout) as { items?: Item[] }).items ?? [];
const netOf = (path: string | undefined) => (path ? /\/net\/([^/?]+)/.exec(path)?.[1] : undefined);

function istiodOf(item: Item): DiscoveredIstiod {
  const spec = item.spec as { template?: { spec?: { containers?: Array<{ env?: Array<{ name: string; value?: string }> }> } } } | undefined;
  const env = new Map((spec?.template?.spec?.containers ?? []).flatMap((c) => c.env ?? []).map((e) => [e.name, e.value ?? '']));
  const pick = (name: string) => (env.get(name) ? (env.get(name) as string) : undefined);
  const clusterId = pick('CLUSTER_ID');
  const meshID = pick('ISTIO_META_MESH_ID') ?? pick('MESH_ID');
  const network = pick('NETWORK');
  return {
    name: item.metadata?.name ?? '',
    revision: item.metadata?.labels?.['istio.io/rev'] ?? 'default',
    ...(clusterId ? { clusterId } : {}),
    ...(meshID ? { meshID } : {}),
    ...(network ? { network } : {}),
    externalIstiod: pick('EXTERNAL_ISTIOD') === 'true',
  };
}

// The remote secrets' names, cluster names and servers; the kubeconfig (and its token) goes no further.
function secretsOf(items: Item[]): DiscoveredSecret[] {
  return items.map((item) => {
    const name = item.metadata?.name ?? '';
    const keys = Object.keys(item.data ?? {});
    const named = item.metadata?.annotations?.[CLUSTER_ANNOTATION] ?? (name.startsWith(SECRET_PREFIX) ? name.slice(SECRET_PREFIX.length) : undefined);
    const clusters = keys.length > 0 ? keys : named ? [named] : [];
    let server = '';
    const first = keys[0];
    if (first !== undefined) {
      try {
        const config = parse(Buffer.from(item.data?.[first] ?? '', 'base64').toString('utf8')) as { clusters?: Array<{ cluster?: { server?: string } }> };
        server = config?.clusters?.[0]?.cluster?.server ?? '';
      } catch {
        // A kubeconfig that does not parse: its parser's message would quote the token, so it is dropped.
        server = '';
      }
    }
    return { name, clusters: clusters.sort(), server };
  });
}

function gatewayOf(items: Item[]): Pick<ClusterFacts, 'eastWestGateway'> {
  const svc = items.find((i) => i.metadata?.name === GATEWAY_SERVICE);
  if (!svc) return {};
  const ingress = (svc.status as { loadBalancer?: { ingress?: Array<{ ip?: string; hostname?: string }> } } | undefined)?.loadBalancer?.ingress?.[0];
  const address = ingress?.ip ?? ingress?.hostname;
  return { eastWestGateway: address ? { address } : {} };
}

// Reads one cluster. A read that fails (a silent API server, RBAC) makes the whole cluster unreadable:
// half a picture would derive a wrong role.
async function discoverCluster(run: ReturnType<typeof probing>, cluster: ClusterRef): Promise<ClusterFacts> {
  const on = (args: string[], sensitive = false) => run({ ...kubectl(cluster.context, args, 'observe'), ...(sensitive ? { sensitiveStdout: true } : {}) });
  const empty: ClusterFacts = { ...cluster, istioSystem: false, istiods: [], injectors: [], revisionTags: [], remoteSecrets: [], cacerts: false };
  const ns = await on(['get', 'namespace', ISTIO_SYSTEM, '-o', 'json']);
  // Only the API server's own NotFound means "no Istio here"; a missing kubectl or context is no answer.
  if (ns.exitCode !== 0 && /\(NotFound\)|namespaces? "istio-system" not found/i.test(ns.stderr)) return empty;
  const [deployments, webhooks, services, secrets, cacerts] = await Promise.all([
    // Every Deployment, told apart here: istiod's label is app=istiod, but an installer may name a revision's
    // app after its Deployment (istiod-canary).
    on(['get', 'deployments', '-n', ISTIO_SYSTEM, '-o', 'json']),
    on(['get', 'mutatingwebhookconfigurations', '-o', 'json']),
    on(['get', 'services', '-n', ISTIO_SYSTEM, '-o', 'json']),
    on(['get', 'secrets', '-n', ISTIO_SYSTEM, '-l', 'istio/multiCluster=true', '-o', 'json'], true),
    // By name only: -o name never carries the CA key.
    on(['get', 'secrets', '-n', ISTIO_SYSTEM, '-o', 'name']),
  ]);
  const failed = [ns, deployments, webhooks, services, secrets, cacerts].find((r) => r.exitCode !== 0);
  if (failed) return { ...empty, error: failed.stderr.trim().split('\n').at(-1)?.slice(0, 200) || `kubectl exited ${failed.exitCode}` };
  const namespace = JSON.parse(ns.stdout) as Item;
  const istiods = itemsOf(deployments.stdout)
    .filter((d) => d.metadata?.labels?.app === 'istiod' || /^istiod(-|$)/.test(d.metadata?.name ?? ''))
    .map(istiodOf);
  const istiod = istiods[0];
  if (istiod && istiod.meshID === undefined) {
    // The mesh ID lives in the mesh config when istiod's env does not carry it.
    const suffix = istiod.revision === 'default' ? '' : `-${istiod.revision}`;
    const mesh = await on(['get', 'configmap', `istio${suffix}`, '-n', ISTIO_SYSTEM, '-o', 'jsonpath={.data.mesh}']);
    const id = mesh.exitCode === 0 ? /meshId:\s*["']?([^\s"']+)/.exec(mesh.stdout)?.[1] : undefined;
    if (id) istiod.meshID = id;
  }
  const hooks = itemsOf(webhooks.stdout);
  const annotation = namespace.metadata?.annotations?.[CONTROL_PLANE_ANNOTATION];
  const network = namespace.metadata?.labels?.[NETWORK_LABEL];
  return {
    ...empty,
    istioSystem: true,
    istiods,
    ...(network ? { network } : {}),
    ...(annotation
      ? {
          controlPlaneClusters: annotation
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
        }
      : {}),
    injectors: hooks
      .filter((h) => (h.metadata?.name ?? '').startsWith('istio-sidecar-injector'))
      .map((h) => {
        const client = h.webhooks?.[0]?.clientConfig;
        const net = netOf(client?.url ?? client?.service?.path);
        return {
          name: h.metadata?.name ?? '',
          revision: h.metadata?.labels?.['istio.io/rev'] ?? 'default',
          ...(client?.url ? { url: client.url } : {}),
          ...(net ? { network: net } : {}),
        };
      }),
    revisionTags: hooks
      .map((h) => h.metadata?.labels?.['istio.io/tag'])
      .filter((t): t is string => Boolean(t))
      .sort(),
    ...gatewayOf(itemsOf(services.stdout)),
    remoteSecrets: secretsOf(itemsOf(secrets.stdout)),
    cacerts: cacerts.stdout.split('\n').includes(`secret/${CACERTS}`),
  };
}

// Every cluster read at once; nothing is changed and nothing recorded.
export async function discoverClusters(config: MeshConfig, tools: ClusterTools): Promise<ClusterFacts[]> {
  const probe = probing(directRuntime(config, tools));
  return Promise.all(
    config.clusters.map(async (c) => {
      try {
        return await discoverCluster(probe, { name: c.name, context: c.context });
      } catch (error) {
        return {
          name: c.name,
          context: c.context,
          // Not the parser's message: it quotes the text it read, which may be a Secret's.
          error: `an answer kubectl gave could not be read (${(error as Error).name})`,
          istioSystem: false,
          istiods: [],
          injectors: [],
          revisionTags: [],
          remoteSecrets: [],
          cacerts: false,
        };
      }
    }),
  );
}
