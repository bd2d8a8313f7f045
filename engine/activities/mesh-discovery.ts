// mesh-run mesh discover, part 1: what each cluster shows of the Istio it runs, by kubectl reads only.
//
// A remote secret's data is read because its server is the question; the kubeconfig is parsed in this
// function's memory and only the cluster names and the server are kept. Of cacerts, the root and intermediate
// certificates are read (never the key), and only their fingerprints and expiry kept. Such commands' stdout is
// marked sensitive and nothing here journals: discovery runs without a run record.
import { parse } from 'yaml';
import type { ClusterTools } from '../../adapters/cluster-tools.js';
import type { ClusterRef, MeshConfig } from '../../shared/model.js';
import { addressesOf, exposedAddresses, gatewayOf, type Item, itemsOf, rootFingerprint } from './discovery-reads.js';
import { directRuntime, probing } from './environment-check.js';
import { CACERTS, ISTIO_SYSTEM } from './install.js';
import { CONTROL_PLANE_ANNOTATION } from './install-common.js';
import { firstSource, type InstallSource } from './install-source.js';
import { contextServerCommand } from './preflight.js';
import { kubectl } from './step-runtime.js';
import { type CacertsPrints, SECRETS_JSONPATH, secretsListing } from './trust/cacerts-prints.js';

export type { InstallSource, InstallSourceKind } from './install-source.js';

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
  // How it was installed (its Deployment's labels and annotations).
  source?: InstallSource;
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
  // caBundle: every webhook of it carries one (istiod patches a remote's once it takes charge of it).
  injectors: Array<{ name: string; revision: string; url?: string; network?: string; caBundle?: boolean }>;
  revisionTags: string[];
  // Each revision tag's revision (istio.io/tag -> istio.io/rev on its webhook).
  tagRevisions?: Record<string, string>;
  eastWestGateway?: { address?: string };
  remoteSecrets: DiscoveredSecret[];
  cacerts: boolean;
  // How its Istio was installed: istiod's Deployment, else the injector webhook (a remote's only trace).
  source?: InstallSource;
  // cacerts' root and intermediate: fingerprints, and the intermediate's expiry (its public certificates).
  cacertsPrints?: CacertsPrints;
  // A cluster running istiod: the SHA-256 fingerprint of the root it publishes (istio-ca-root-cert, public).
  root?: string;
  // A remote: where it reaches its control plane (the istiod Service's ExternalName or endpoints, the
  // injector's URL host): remotePilotAddress as it was installed.
  controlPlaneAddresses?: string[];
  // A cluster running istiod: where it is reachable from other clusters (the east-west gateway's and any
  // load-balanced istiod Service's addresses).
  exposedAddresses?: string[];
  // The API server its kube context dials, as the kubeconfig says.
  contextServer?: string;
}

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
    source: firstSource([item]),
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

type Run = ReturnType<typeof probing>;
type Answer = Awaited<ReturnType<Run>>;
const lastLine = (r: Answer) => r.stderr.trim().split('\n').at(-1)?.slice(0, 200) || `kubectl exited ${r.exitCode}`;
const noRoot = (r: Answer) => r.exitCode !== 0 && /\(NotFound\)|configmaps? "istio-ca-root-cert" not found/i.test(r.stderr);

// The injector webhooks: their revision, URL and the network their injection path names.
function injectorsOf(hooks: Item[]): ClusterFacts['injectors'] {
  return hooks.map((h) => {
    const client = h.webhooks?.[0]?.clientConfig;
    const net = netOf(client?.url ?? client?.service?.path);
    const webhooks = h.webhooks ?? [];
    return {
      name: h.metadata?.name ?? '',
      revision: h.metadata?.labels?.['istio.io/rev'] ?? 'default',
      ...(client?.url ? { url: client.url } : {}),
      ...(net ? { network: net } : {}),
      caBundle: webhooks.length > 0 && webhooks.every((w) => Boolean(w.clientConfig?.caBundle)),
    };
  });
}

// Each tag's revision, from the tag webhooks' labels.
function tagRevisionsOf(hooks: Item[]): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const h of hooks) {
    const tag = h.metadata?.labels?.['istio.io/tag'];
    const revision = h.metadata?.labels?.['istio.io/rev'];
    if (tag && revision) tags[tag] = revision;
  }
  return tags;
}

// What only a control plane shows: the root it publishes (a public ConfigMap; of cacerts only the public
// certificates are read, with the Secrets' names)
// and where it is exposed. Undefined root: istiod has published none yet.
async function controlPlaneFacts(on: (args: string[]) => Promise<Answer>, services: Item[]): Promise<Partial<ClusterFacts> | { error: string }> {
  const root = await on(['get', 'configmap', 'istio-ca-root-cert', '-n', ISTIO_SYSTEM, '-o', 'jsonpath={.data.root-cert\\.pem}']);
  if (root.exitCode !== 0 && !noRoot(root)) return { error: lastLine(root) };
  const fingerprint = root.exitCode === 0 ? rootFingerprint(root.stdout) : undefined;
  return { ...(fingerprint ? { root: fingerprint } : {}), exposedAddresses: exposedAddresses(services) };
}

// What only a remote shows: where its control plane address points.
async function remoteFacts(on: (args: string[]) => Promise<Answer>, services: Item[], hooks: Item[]): Promise<Partial<ClusterFacts> | { error: string }> {
  const slices = await on(['get', 'endpointslices', '-n', ISTIO_SYSTEM, '-o', 'json']);
  if (slices.exitCode !== 0) return { error: lastLine(slices) };
  const addresses = addressesOf(services, itemsOf(slices.stdout), hooks);
  return addresses.length > 0 ? { controlPlaneAddresses: addresses } : {};
}

// A cluster that shows no Istio (or could not be read): every fact empty.
function nothingOn(cluster: ClusterRef): ClusterFacts {
  return { ...cluster, istioSystem: false, istiods: [], injectors: [], revisionTags: [], remoteSecrets: [], cacerts: false };
}

// Reads one cluster. A read that fails (a silent API server, RBAC) makes the whole cluster unreadable:
// half a picture would derive a wrong role.
async function discoverCluster(run: Run, cluster: ClusterRef): Promise<ClusterFacts> {
  const on = (args: string[], sensitive = false) => run({ ...kubectl(cluster.context, args, 'observe'), ...(sensitive ? { sensitiveStdout: true } : {}) });
  // The kubeconfig's own answer, to tell whether a remote secret dials the cluster elsewhere.
  const [server, ns] = await Promise.all([run(contextServerCommand(cluster.context, 'observe')), on(['get', 'namespace', ISTIO_SYSTEM, '-o', 'json'])]);
  const contextServer = server.exitCode === 0 && server.stdout.trim() ? { contextServer: server.stdout.trim() } : {};
  const empty: ClusterFacts = { ...nothingOn(cluster), ...contextServer };
  // Only the API server's own NotFound means "no Istio here"; a missing kubectl or context is no answer.
  if (ns.exitCode !== 0 && /\(NotFound\)|namespaces? "istio-system" not found/i.test(ns.stderr)) return empty;
  const [deployments, webhooks, services, secrets, cacerts] = await Promise.all([
    // Every Deployment, told apart here: istiod's label is app=istiod, but an installer may name a revision's
    // app after its Deployment (istiod-canary).
    on(['get', 'deployments', '-n', ISTIO_SYSTEM, '-o', 'json']),
    on(['get', 'mutatingwebhookconfigurations', '-o', 'json']),
    on(['get', 'services', '-n', ISTIO_SYSTEM, '-o', 'json']),
    on(['get', 'secrets', '-n', ISTIO_SYSTEM, '-l', 'istio/multiCluster=true', '-o', 'json'], true),
    // Names, and two certificate fields (cacerts' root and intermediate, public): never the CA key.
    on(['get', 'secrets', '-n', ISTIO_SYSTEM, '-o', SECRETS_JSONPATH], true),
  ]);
  const failed = [ns, deployments, webhooks, services, secrets, cacerts].find((r) => r.exitCode !== 0);
  if (failed) return { ...empty, error: lastLine(failed) };
  const namespace = JSON.parse(ns.stdout) as Item;
  const listing = secretsListing(cacerts.stdout);
  const istiodItems = itemsOf(deployments.stdout).filter((d) => d.metadata?.labels?.app === 'istiod' || /^istiod(-|$)/.test(d.metadata?.name ?? ''));
  const istiods = istiodItems.map(istiodOf);
  const istiod = istiods[0];
  if (istiod && istiod.meshID === undefined) {
    // The mesh ID lives in the mesh config when istiod's env does not carry it.
    const suffix = istiod.revision === 'default' ? '' : `-${istiod.revision}`;
    const mesh = await on(['get', 'configmap', `istio${suffix}`, '-n', ISTIO_SYSTEM, '-o', 'jsonpath={.data.mesh}']);
    const id = mesh.exitCode === 0 ? /meshId:\s*["']?([^\s"']+)/.exec(mesh.stdout)?.[1] : undefined;
    if (id) istiod.meshID = id;
  }
  const hooks = itemsOf(webhooks.stdout);
  const injectorHooks = hooks.filter((h) => (h.metadata?.name ?? '').startsWith('istio-sidecar-injector'));
  const serviceItems = itemsOf(services.stdout);
  const role = istiod ? await controlPlaneFacts(on, serviceItems) : injectorHooks.length > 0 ? await remoteFacts(on, serviceItems, injectorHooks) : {};
  if ('error' in role && role.error) return { ...empty, error: role.error };
  const annotation = namespace.metadata?.annotations?.[CONTROL_PLANE_ANNOTATION];
  const network = namespace.metadata?.labels?.[NETWORK_LABEL];
  const sameRevision = injectorHooks.filter((h) => (h.metadata?.labels?.['istio.io/rev'] ?? 'default') === (istiod?.revision ?? 'default'));
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
    injectors: injectorsOf(injectorHooks),
    revisionTags: hooks
      .map((h) => h.metadata?.labels?.['istio.io/tag'])
      .filter((t): t is string => Boolean(t))
      .sort(),
    tagRevisions: tagRevisionsOf(hooks),
    ...gatewayOf(serviceItems),
    remoteSecrets: secretsOf(itemsOf(secrets.stdout)),
    cacerts: listing.names.includes(CACERTS),
    ...(listing.cacerts ? { cacertsPrints: listing.cacerts } : {}),
    ...(istiod || injectorHooks.length > 0 ? { source: firstSource([istiodItems[0], ...sameRevision, ...injectorHooks]) } : {}),
    ...role,
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
          ...nothingOn({ name: c.name, context: c.context }),
          // Not the parser's message: it quotes the text it read, which may be a Secret's.
          error: `an answer kubectl gave could not be read (${(error as Error).name})`,
        };
      }
    }),
  );
}
