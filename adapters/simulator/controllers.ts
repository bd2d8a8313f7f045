// What the simulated clusters' controllers do between commands: istiod taking charge of remotes
// (patching their injector's caBundle), Deployments creating pods (injected or not), and the mesh
// routing a request to whichever helloworld endpoints the caller's control plane knows about.
import { createHash, X509Certificate } from 'node:crypto';
import { injectorFor } from './injectors.js';
import type { KubeObject } from './objects.js';
import { type ResourceType, resourceType } from './objects.js';
import type { SimCluster } from './sim-cluster.js';
import type { WorldSettings } from './world.js';

export interface WorldView {
  settings: WorldSettings;
  cluster(context: string): SimCluster | undefined;
}

const ISTIO_SYSTEM = 'istio-system';
const CONTROL_PLANE_ANNOTATION = 'topology.istio.io/controlPlaneClusters';
const t = (name: string) => resourceType(name) as ResourceType;

function envOf(deployment: KubeObject): Record<string, string> {
  const containers =
    (deployment.spec as { template?: { spec?: { containers?: Array<{ env?: Array<{ name: string; value: string }> }> } } } | undefined)?.template?.spec
      ?.containers ?? [];
  return Object.fromEntries(containers.flatMap((c) => c.env ?? []).map((e) => [e.name, e.value]));
}

// istiod deployments on a cluster (a primary), with the cluster id they serve.
export function istiodsOn(cluster: SimCluster): Array<{ name: string; clusterId: string; external: boolean }> {
  return cluster
    .list(t('deployment'), ISTIO_SYSTEM)
    .filter((d) => /^istiod(-|$)/.test(d.metadata.name))
    .map((d) => {
      const env = envOf(d);
      return { name: d.metadata.name, clusterId: env.CLUSTER_ID ?? cluster.context.cluster, external: env.EXTERNAL_ISTIOD === 'true' };
    });
}

// The remote clusters a primary's istiod reads through its remote secrets, by cluster name.
export function remoteSecretsOn(cluster: SimCluster): Array<{ name: string; secret: string }> {
  return cluster
    .list(t('secret'), ISTIO_SYSTEM)
    .filter((s) => s.metadata.labels?.['istio/multiCluster'] === 'true')
    .map((s) => ({
      name: s.metadata.annotations?.['networking.istio.io/cluster'] ?? s.metadata.name.replace(/^istio-remote-secret-/, ''),
      secret: `${ISTIO_SYSTEM}/${s.metadata.name}`,
    }));
}

function contextOfCluster(world: WorldView, name: string): SimCluster | undefined {
  const ctx = world.settings.contexts.find((c) => c.cluster === name);
  return ctx ? world.cluster(ctx.name) : undefined;
}

// The primary whose istiod serves `cluster`: itself when it runs istiod, else the one its
// istio-system names in topology.istio.io/controlPlaneClusters, if that primary reads its secret.
export function controlPlaneOf(world: WorldView, cluster: SimCluster): SimCluster | undefined {
  if (istiodsOn(cluster).length > 0) return cluster;
  const ns = cluster.get(t('namespace'), '', ISTIO_SYSTEM);
  const primaryName = ns?.metadata.annotations?.[CONTROL_PLANE_ANNOTATION];
  const primary = primaryName ? contextOfCluster(world, primaryName) : undefined;
  if (!primary || !istiodsOn(primary).some((i) => i.external)) return undefined;
  return remoteSecretsOn(primary).some((s) => s.name === cluster.context.cluster) ? primary : undefined;
}

// What istiod writes into istio-system of a cluster it serves, none of it rendered by istioctl (so no uninstall
// prunes it): its root in ConfigMap istio-ca-root-cert (labelled istio.io/config=true by its namespace
// controller) and, on its own cluster, the ConfigMaps of its leader elections (pilot/pkg/leaderelection).
// The real namespace controller writes the root into every namespace; the simulator keeps to istio-system.
const ROOT_CONFIGMAP = 'istio-ca-root-cert';
const LEADER_ANNOTATION = 'control-plane.alpha.kubernetes.io/leader';
const LEADER_ELECTIONS = ['istio-leader', 'istio-namespace-controller-election'];

// `refresh`: an istiod that (re)started publishes the root it signs with now, over the one it published before.
function publishRoot(cluster: SimCluster, primary: SimCluster, refresh = false): void {
  if (!cluster.get(t('namespace'), '', ISTIO_SYSTEM)) return;
  const published = cluster.get(t('configmap'), ISTIO_SYSTEM, ROOT_CONFIGMAP);
  const root = rootOf(primary);
  if (published && (!refresh || (published.data as Record<string, string> | undefined)?.['root-cert.pem'] === root)) return;
  const configMap: KubeObject = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: ROOT_CONFIGMAP, namespace: ISTIO_SYSTEM, labels: { 'istio.io/config': 'true' } },
    data: { 'root-cert.pem': root },
  };
  if (published) cluster.replace({ ...published, data: configMap.data });
  else cluster.put(configMap);
}

// istiod reads cacerts when it starts (kubectl rollout restart): the root it publishes, on its own cluster and
// the remotes it serves, follows the cacerts it finds then (its own self-signed root when there is none).
export function istiodRestarted(world: WorldView, cluster: SimCluster): void {
  if (istiodsOn(cluster).length === 0) return;
  publishRoot(cluster, cluster, true);
  for (const { name } of remoteSecretsOn(cluster)) {
    const remote = contextOfCluster(world, name);
    if (remote && remote !== cluster && controlPlaneOf(world, remote)?.context.name === cluster.context.name) publishRoot(remote, cluster, true);
  }
}

// A cluster that now runs istiod: it publishes its root and takes its leader locks.
export function istiodPublishes(cluster: SimCluster): void {
  const istiod = istiodsOn(cluster)[0];
  if (!istiod) return;
  publishRoot(cluster, cluster);
  for (const name of LEADER_ELECTIONS) {
    if (cluster.get(t('configmap'), ISTIO_SYSTEM, name)) continue;
    const record = { holderIdentity: `${istiod.name}-sim`, leaseDurationSeconds: 30 };
    cluster.put({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name, namespace: ISTIO_SYSTEM, annotations: { [LEADER_ANNOTATION]: JSON.stringify(record) } },
    });
  }
}

// The istiod of `primary` reads each remote whose secret it holds as soon as it is there, and publishes its root
// into the istio-system of those it controls (their injector's caBundle the simulator patches when it is read).
export function publishToRemotes(world: WorldView, primary: SimCluster): void {
  if (istiodsOn(primary).length === 0) return;
  for (const { name } of remoteSecretsOn(primary)) {
    const remote = contextOfCluster(world, name);
    if (!remote || remote.context.name === primary.context.name) continue;
    if (controlPlaneOf(world, remote)?.context.name === primary.context.name) publishRoot(remote, primary);
  }
}

// istiod patches the injector webhook of every remote it controls with its CA bundle, and publishes its root there.
export function syncRemoteWebhooks(world: WorldView, cluster: SimCluster): void {
  const primary = controlPlaneOf(world, cluster);
  if (!primary || primary === cluster) return;
  publishRoot(cluster, primary);
  const bundle = Buffer.from(`simulated root CA of ${primary.context.cluster}`).toString('base64');
  for (const hook of cluster.list(t('mutatingwebhookconfiguration'))) {
    if (!/^istio-sidecar-injector/.test(hook.metadata.name)) continue;
    const webhooks = (hook.webhooks as Array<{ clientConfig?: { caBundle?: string } }> | undefined) ?? [];
    if (webhooks.every((w) => w.clientConfig?.caBundle)) continue;
    cluster.replace({ ...hook, webhooks: webhooks.map((w) => ({ ...w, clientConfig: { ...w.clientConfig, caBundle: bundle } })) });
  }
}

function shortHash(text: string, length: number): string {
  return createHash('sha256')
    .update(text)
    .digest('hex')
    .replace(/[^a-z0-9]/g, '')
    .slice(0, length);
}

// The annotation kubectl rollout restart sets on a Deployment's pod template.
export const RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt';
// Which Deployment a simulated pod belongs to (the simulator has no ReplicaSets to own it).
const OWNED_BY = 'sim.mesh-run.dev/deployment';

type PodTemplate = {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: { containers?: Array<{ name: string; image?: string }> };
};

// Deployments the simulator has not started yet get their pod, injected when the namespace asks for it
// and a working injector exists; with an injector whose caBundle is empty, pod creation fails (x509).
export function reconcileDeployments(world: WorldView, cluster: SimCluster, namespace: string): void {
  if (namespace === ISTIO_SYSTEM) return;
  const pending = cluster.list(t('deployment'), namespace).filter((d) => d.status === undefined);
  if (pending.length === 0) return;
  syncRemoteWebhooks(world, cluster);
  const ns = cluster.get(t('namespace'), '', namespace);
  // The namespace's labels choose the injector (a revision, a tag, or the default one) and so the proxy's revision.
  const chosen = injectorFor(cluster, ns);
  const wantsSidecar = ns?.metadata.labels?.['istio-injection'] === 'enabled' || ns?.metadata.labels?.['istio.io/rev'] !== undefined;
  const injector = chosen?.hook;
  const injectorReady = Boolean(
    injector && ((injector.webhooks as Array<{ clientConfig?: { caBundle?: string } }> | undefined) ?? []).every((w) => w.clientConfig?.caBundle),
  );
  for (const deployment of pending) {
    // The webhook fails closed: without a CA the API server refuses the pod (x509: unknown authority).
    if (wantsSidecar && injector && !injectorReady) continue;
    const template = (deployment.spec as { template?: PodTemplate } | undefined)?.template ?? {};
    const injected = wantsSidecar && chosen !== undefined;
    const containers = [...(template.spec?.containers ?? []), ...(injected ? [{ name: 'istio-proxy', image: 'docker.io/istio/proxyv2' }] : [])];
    // A restart (kubectl rollout restart) changes the template, so the new ReplicaSet and its pod get new names.
    const restartedAt = template.metadata?.annotations?.[RESTARTED_AT] ?? '';
    const replicaSet = shortHash(`${cluster.context.name}/${namespace}/${deployment.metadata.name}${restartedAt ? `/${restartedAt}` : ''}`, 10);
    for (const old of cluster.list(t('pod'), namespace)) if (old.metadata.labels?.[OWNED_BY] === deployment.metadata.name) cluster.remove(old);
    const pod: KubeObject = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: `${deployment.metadata.name}-${replicaSet}-${shortHash(`${replicaSet}/0`, 5)}`,
        namespace,
        labels: {
          ...(template.metadata?.labels ?? {}),
          'pod-template-hash': replicaSet,
          [OWNED_BY]: deployment.metadata.name,
          ...(injected ? { 'istio.io/rev': chosen.revision } : {}),
        },
      },
      spec: { containers },
      status: { phase: 'Running', containerStatuses: containers.map((c) => ({ name: c.name, ready: true })) },
    };
    cluster.put(pod);
    cluster.replace({ ...deployment, status: { replicas: 1, readyReplicas: 1, updatedReplicas: 1, availableReplicas: 1 } });
  }
}

function hasSidecar(pod: KubeObject): boolean {
  return ((pod.spec as { containers?: Array<{ name: string }> } | undefined)?.containers ?? []).some((c) => c.name === 'istio-proxy');
}

const NETWORK_LABEL = 'topology.istio.io/network';
const DEFAULT_NETWORK = 'network1';

// The network a cluster's pods are really on.
function wiredNetwork(world: WorldView, cluster: SimCluster): string {
  return world.settings.contexts.find((c) => c.name === cluster.context.name)?.network ?? DEFAULT_NETWORK;
}

// The network istiod believes a cluster is on: its istio-system's label (unlabelled: the caller's own).
function labelledNetwork(cluster: SimCluster): string | undefined {
  return cluster.get(t('namespace'), '', ISTIO_SYSTEM)?.metadata.labels?.[NETWORK_LABEL];
}

// A network's pods are reachable from outside it through an east-west gateway on that network that has a
// load-balancer address and whose control plane serves the cross-network Gateway (15443, AUTO_PASSTHROUGH).
function servesNetwork(world: WorldView, network: string): boolean {
  return world.settings.contexts.some((ctx) => {
    const gatewayCluster = world.cluster(ctx.name);
    if (!gatewayCluster || (ctx.network ?? DEFAULT_NETWORK) !== network) return false;
    const svc = gatewayCluster.get(t('service'), ISTIO_SYSTEM, 'istio-eastwestgateway');
    const ip = (svc?.status as { loadBalancer?: { ingress?: Array<{ ip?: string }> } } | undefined)?.loadBalancer?.ingress?.[0]?.ip;
    const configCluster = controlPlaneOf(world, gatewayCluster);
    return Boolean(ip && configCluster?.get(t('gateway.networking.istio.io'), ISTIO_SYSTEM, 'cross-network-gateway'));
  });
}

// The root a control plane signs workload certificates under: the cacerts it was given (its PEM, as istiod
// publishes it; a digest in worlds stored before the simulator kept certificates), else a self-signed root of
// its own.
function rootOf(primary: SimCluster): string {
  const cacerts = primary.get(t('secret'), ISTIO_SYSTEM, 'cacerts');
  const root = (cacerts?.data as Record<string, string> | undefined)?.['root-cert.pem'];
  if (root === undefined) return `self-signed:${primary.context.cluster}`;
  return root.startsWith('sha256:') ? root : Buffer.from(root, 'base64').toString('utf8');
}

// The root as a certificate, not as text: the same root written with other whitespace is the same root.
function rootIdentity(root: string): string {
  const first = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(root)?.[0];
  if (!first) return root;
  try {
    return new X509Certificate(first).fingerprint256;
  } catch {
    return root;
  }
}

// Sidecars served by two different istiods complete mTLS only when both sign under one root.
function sameRoot(world: WorldView, from: SimCluster, to: SimCluster): boolean {
  const a = controlPlaneOf(world, from);
  const b = controlPlaneOf(world, to);
  if (!a || !b) return false;
  return a === b || rootIdentity(rootOf(a)) === rootIdentity(rootOf(b));
}

// Whether a sidecar on `from` reaches pods on `to`: on one network directly; across networks only when
// istiod knows `to` is elsewhere (its istio-system carries its network) and that network has a serving
// gateway. Without the label istiod hands out pod IPs the caller cannot route to.
function routable(world: WorldView, from: SimCluster, to: SimCluster): boolean {
  if (!sameRoot(world, from, to)) return false;
  const network = wiredNetwork(world, to);
  if (network === wiredNetwork(world, from)) return true;
  const believed = labelledNetwork(to);
  return believed === network && believed !== labelledNetwork(from) && servesNetwork(world, network);
}

// The helloworld pods a request from `from` can reach: through the mesh, every cluster its control
// plane knows (itself and the clusters whose secrets it holds) that the network lets it reach; without
// a sidecar, only its own cluster.
// undefined: the sidecar has no control plane (istiod no longer reads this remote) and resets connections.
export function reachableEndpoints(world: WorldView, from: SimCluster, pod: KubeObject, service: string, namespace: string): KubeObject[] | undefined {
  const local = (c: SimCluster) => c.list(t('pod'), namespace).filter((p) => p.metadata.labels?.app === service);
  if (!hasSidecar(pod)) return local(from);
  const primary = controlPlaneOf(world, from);
  if (!primary) return undefined;
  const known = [
    primary,
    ...remoteSecretsOn(primary)
      .map((s) => contextOfCluster(world, s.name))
      .filter((c): c is SimCluster => c !== undefined),
  ];
  return [...new Set([from, ...known])].filter((c) => c === from || routable(world, from, c)).flatMap(local);
}
