// istioctl as the simulator answers it: install (render, apply, prune), create-remote-secret, version.
import { parse as parseYaml, stringify } from 'yaml';
import { isLoopbackServer } from '../../shared/api-server.js';
import type { CommandResult } from '../cluster-tools.js';
import { isTrue, parseArgs } from './argv.js';
import { istiodPublishes, istiodsOn, remoteSecretsOn } from './controllers.js';
import type { KubeObject } from './objects.js';
import { invalidReason, resourceType, typeOfKind } from './objects.js';
import { proxyStatus, tagCommand } from './revisions.js';
import { READER_TOKEN_SECRET } from './secret-data.js';
import { SA_NAME_ANNOTATION, SA_TOKEN_TYPE, type SimCluster } from './sim-cluster.js';
import type { WorldSettings } from './world.js';

const VALUED = new Set([
  'context',
  'filename',
  'namespace',
  'istioNamespace',
  'name',
  'server',
  'output',
  'revision',
  'kubeconfig',
  'remote',
  'readiness-timeout',
  'set',
  'secret-name',
]);
const ALIASES = { f: 'filename', n: 'namespace', i: 'istioNamespace', o: 'output', r: 'revision', y: 'skip-confirmation', s: 'set' };

export interface IstioctlEnv {
  settings: WorldSettings;
  cluster(context: string): SimCluster | undefined;
}

const MANAGED = 'operator.istio.io/managed';
const COMPONENT = 'operator.istio.io/component';
// What istioctl uninstall --revision removes (operator/pkg/uninstall/prune.go): never the base chart.
const REVISIONED_COMPONENTS = new Set(['Pilot', 'IngressGateways', 'EgressGateways']);
const OWNER = 'install.operator.istio.io/owning-resource';
// The kinds istioctl prunes, when a re-install no longer renders an object and on uninstall
// (operator/pkg/uninstall/prune.go; CRDs too on --purge). An EndpointSlice is not one of them: the one the
// remote profile renders for istiod outlives istioctl uninstall, --purge and --revision alike.
const PRUNED_KINDS = new Set([
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
const REV = 'istio.io/rev';

interface IstioOperator {
  metadata?: { name?: string };
  spec?: {
    profile?: string;
    revision?: string;
    values?: Record<string, unknown>;
    components?: {
      ingressGateways?: Array<{
        name: string;
        enabled?: boolean;
        label?: Record<string, string>;
        k8s?: { env?: Array<{ name: string; value: string }>; service?: { ports?: Array<{ name: string; port: number; targetPort?: number }> } };
      }>;
    };
  };
  kind?: string;
}

function dig(obj: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), obj);
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

// Renders an IstioOperator into the objects istioctl would apply, labelled the way istioctl labels them.
export function renderIstioOperator(iop: IstioOperator, version: string): { objects: KubeObject[]; components: string[] } {
  const profile = iop.spec?.profile ?? 'default';
  const revision = iop.spec?.revision ?? '';
  const suffix = revision ? `-${revision}` : '';
  const values = iop.spec?.values ?? {};
  const labels = (extra: Record<string, string> = {}) => ({
    [MANAGED]: 'Reconcile',
    [OWNER]: iop.metadata?.name ?? 'unnamed',
    [REV]: revision || 'default',
    'operator.istio.io/version': version,
    ...extra,
  });
  const ns = 'istio-system';
  const objects: KubeObject[] = [];
  const components: string[] = [];
  const deployment = (name: string, env: Record<string, string>, extraLabels: Record<string, string> = {}, image = 'pilot'): KubeObject => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns, labels: labels({ app: name, ...extraLabels }) },
    spec: {
      replicas: 1,
      template: {
        spec: {
          containers: [{ name: 'discovery', image: `docker.io/istio/${image}:${version}`, env: Object.entries(env).map(([n, v]) => ({ name: n, value: v })) }],
        },
      },
    },
    status: { replicas: 1, readyReplicas: 1, updatedReplicas: 1, availableReplicas: 1 },
  });

  if (profile !== 'empty') {
    components.push('Istio core');
    for (const crd of [
      'gateways.networking.istio.io',
      'virtualservices.networking.istio.io',
      'destinationrules.networking.istio.io',
      'peerauthentications.security.istio.io',
    ]) {
      objects.push({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: crd, labels: labels() } });
    }
    objects.push({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'istio-reader-service-account', namespace: ns, labels: labels() } });
    objects.push({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: `istio-reader-clusterrole${suffix}-${ns}`, labels: labels() },
    });
    objects.push({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: `istio-reader-clusterrole${suffix}-${ns}`, labels: labels() },
    });
  }

  if (profile === 'default' || profile === 'minimal' || profile === 'demo') {
    components.push('Istiod');
    const env: Record<string, string> = {
      CLUSTER_ID: String(dig(values, 'global.multiCluster.clusterName') ?? 'Kubernetes'),
      ISTIO_META_MESH_ID: String(dig(values, 'global.meshID') ?? 'cluster.local'),
      NETWORK: String(dig(values, 'global.network') ?? ''),
    };
    if (dig(values, 'global.externalIstiod') === true || String(dig(values, 'pilot.env.EXTERNAL_ISTIOD')) === 'true') env.EXTERNAL_ISTIOD = 'true';
    objects.push(deployment(`istiod${suffix}`, env, { istio: 'pilot' }));
    objects.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: `istiod${suffix}`, namespace: ns, labels: labels({ app: 'istiod' }) },
      spec: {
        type: 'ClusterIP',
        ports: [
          { name: 'grpc-xds', port: 15010 },
          { name: 'https-dns', port: 15012 },
          { name: 'https-webhook', port: 443, targetPort: 15017 },
        ],
      },
    });
    objects.push({
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingWebhookConfiguration',
      metadata: { name: `istio-sidecar-injector${suffix}`, labels: labels() },
      webhooks: [
        {
          name: 'namespace.sidecar-injector.istio.io',
          clientConfig: { service: { name: `istiod${suffix}`, namespace: ns, path: '/inject' }, caBundle: 'LS0tLS1CRUdJTi...' },
        },
      ],
    });
    objects.push({
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingWebhookConfiguration',
      metadata: { name: `istio-validator${suffix}-${ns}`, labels: labels() },
    });
  }

  const gateways = [...(iop.spec?.components?.ingressGateways ?? [])];
  // The profile's ingress gateway, unless the IstioOperator names it (to disable or shape it).
  if ((profile === 'default' || profile === 'demo') && !gateways.some((g) => g.name === 'istio-ingressgateway'))
    gateways.unshift({ name: 'istio-ingressgateway', enabled: true, label: { istio: 'ingressgateway', app: 'istio-ingressgateway' } });
  const enabled = gateways.filter((g) => g.enabled !== false);
  const gatewayNames = new Set<string>();
  if (enabled.length > 0) components.push('Ingress gateways');
  for (const gw of enabled) {
    const env = Object.fromEntries((gw.k8s?.env ?? []).map((e) => [e.name, e.value]));
    objects.push(deployment(gw.name, env, gw.label ?? {}, 'proxyv2'));
    gatewayNames.add(gw.name);
    const ports = gw.k8s?.service?.ports ?? [
      { name: 'http2', port: 80, targetPort: 8080 },
      { name: 'https', port: 443, targetPort: 8443 },
    ];
    objects.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: gw.name, namespace: ns, labels: labels(gw.label ?? {}) },
      spec: { type: 'LoadBalancer', selector: gw.label ?? {}, ports },
    });
  }

  if (profile === 'remote') {
    components.push('Istiod remote');
    const address = String(dig(values, 'global.remotePilotAddress') ?? '');
    const injectionPath = String(dig(values, 'istiodRemote.injectionPath') ?? '/inject');
    const ports = [
      { name: 'tcp-istiod', port: 15012 },
      { name: 'tcp-webhook', port: 443, targetPort: 15017 },
    ];
    if (address && !IPV4.test(address)) {
      // A hostname becomes an ExternalName service, which admission webhooks cannot call (the EKS limitation).
      objects.push({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: `istiod${suffix}`, namespace: ns, labels: labels() },
        spec: { type: 'ExternalName', externalName: address, ports },
      });
    } else {
      objects.push({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: `istiod${suffix}`, namespace: ns, labels: labels() },
        spec: { type: 'ClusterIP', ports },
      });
      objects.push({
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: { name: `istiod${suffix}`, namespace: ns, labels: labels({ 'kubernetes.io/service-name': `istiod${suffix}` }) },
        addressType: 'IPv4',
        endpoints: address ? [{ addresses: [address] }] : [],
        ports: [
          { name: 'tcp-istiod', port: 15012 },
          { name: 'tcp-webhook', port: 15017 },
        ],
      });
    }
    // caBundle stays empty until the primary's istiod patches it (after attach).
    objects.push({
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingWebhookConfiguration',
      metadata: { name: `istio-sidecar-injector${suffix}`, labels: labels() },
      webhooks: [
        {
          name: 'namespace.sidecar-injector.istio.io',
          clientConfig: { service: { name: `istiod${suffix}`, namespace: ns, path: injectionPath }, caBundle: '' },
        },
      ],
    });
  }
  for (const obj of objects) {
    const base = obj.kind === 'CustomResourceDefinition' || obj.kind === 'ServiceAccount';
    const component = base ? 'Base' : gatewayNames.has(obj.metadata.name) ? 'IngressGateways' : 'Pilot';
    obj.metadata.labels = { ...obj.metadata.labels, [COMPONENT]: component };
  }
  return { objects, components };
}

const ok = (stdout: string, stderr = ''): CommandResult => ({ exitCode: 0, stdout, stderr });
const fail = (stderr: string, stdout = ''): CommandResult => ({ exitCode: 1, stdout, stderr: stderr.endsWith('\n') ? stderr : `${stderr}\n` });

// Runs one istioctl command against the simulated clusters.
export function runIstioctl(env: IstioctlEnv, args: readonly string[], stdin: string | undefined): CommandResult {
  const parsed = parseArgs(args, VALUED, ALIASES);
  if ('error' in parsed) return { exitCode: 64, stdout: '', stderr: `Error: ${parsed.error}\n` };
  const { positionals, flags } = parsed;
  const verb = positionals[0];
  const version = env.settings.istioVersion;

  if (verb === 'version') {
    if (flags.get('output') === 'json')
      return ok(
        `${JSON.stringify({ clientVersion: { version, revision: 'simulated', golang_version: 'go1.24.4', status: 'Clean', tag: version } }, null, 2)}\n`,
      );
    return ok(`client version: ${version}\n`);
  }
  const contextName = flags.get('context') ?? env.settings.contexts[0]?.name ?? '';
  const cluster = env.cluster(contextName);
  if (!cluster) return fail(`Error: context "${contextName}" does not exist`);

  if (verb === 'install') return install(cluster, flags, stdin, version);
  if (verb === 'create-remote-secret') return createRemoteSecret(cluster, flags);
  if (verb === 'uninstall') return uninstall(cluster, flags, stdin);
  if (verb === 'remote-clusters') return remoteClusters(env, cluster, flags.get('revision'));
  if (verb === 'proxy-status') return proxyStatus(env, cluster, flags.get('revision'), version);
  if (verb === 'tag') return tagCommand(cluster, positionals, flags, isTrue(flags, 'skip-confirmation'), isTrue(flags, 'overwrite'));
  if (verb === 'x' && positionals[1] === 'precheck') {
    if (env.settings.contexts.find((c) => c.name === contextName)?.unreachable) return fail('Error: failed to get the Kubernetes version: i/o timeout');
    return ok(
      '',
      '✔ No issues found when checking the cluster. Istio is safe to install or upgrade!\n  To get started, check out https://istio.io/latest/docs/setup/getting-started/\n',
    );
  }
  return { exitCode: 64, stdout: '', stderr: `Error: unknown command "${verb ?? ''}" for "istioctl"\n` };
}

function install(cluster: SimCluster, flags: Map<string, string>, stdin: string | undefined, version: string): CommandResult {
  const file = flags.get('filename');
  let iop: IstioOperator = {};
  if (file !== undefined) {
    if (file !== '-') return fail(`Error: the simulator reads IstioOperator files from stdin only (-f -)`);
    try {
      iop = (parseYaml(stdin ?? '') ?? {}) as IstioOperator;
    } catch (error) {
      return fail(`Error: could not parse IstioOperator: ${(error as Error).message.split('\n')[0]}`);
    }
    if (iop.kind !== 'IstioOperator') return fail(`Error: the input is not an IstioOperator (kind: ${iop.kind ?? 'missing'})`);
  }
  const profile = iop.spec?.profile ?? 'default';
  if (!isTrue(flags, 'skip-confirmation')) {
    // No TTY and no -y: istioctl reads EOF (or the manifest) as "no".
    const prompt = `This will install the Istio ${version} profile "${profile}" into the cluster. Proceed? (y/N) `;
    if (file === '-' || !/^y(es)?\s*$/i.test(stdin ?? '')) return { exitCode: 1, stdout: `${prompt}Cancelled.\n`, stderr: '' };
  }
  const { objects, components } = renderIstioOperator(iop, version);
  for (const obj of objects) {
    const invalid = invalidReason(obj);
    if (invalid)
      return fail(
        `✘ Istio core encountered an error: failed to update resource with server-side apply for obj ${obj.kind}/${obj.metadata.namespace ?? ''}/${obj.metadata.name}: ${invalid}\nError: failed to install manifests: errors occurred during operation`,
      );
  }
  const nsType = resourceType('namespace');
  if (nsType && !cluster.get(nsType, '', 'istio-system'))
    cluster.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'istio-system' }, status: { phase: 'Active' } });
  for (const obj of objects) cluster.put(obj);
  prune(cluster, iop, objects);
  istiodPublishes(cluster);
  const lines = components.map((c) => `✔ ${c} installed`);
  return ok(`${lines.join('\n')}\n✔ Installation complete\n`);
}

// istioctl prunes what it installed before and no longer renders. An unnamed IstioOperator owns
// everything of its revision, which is how a re-run of the primary install deletes the east-west gateway.
function prune(cluster: SimCluster, iop: IstioOperator, rendered: KubeObject[]): void {
  const owner = iop.metadata?.name;
  const revision = iop.spec?.revision || 'default';
  const keep = new Set(rendered.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`));
  for (const obj of cluster.all()) {
    const labels = obj.metadata.labels ?? {};
    if (labels[MANAGED] !== 'Reconcile' || labels[REV] !== revision) continue;
    if (!PRUNED_KINDS.has(obj.kind)) continue;
    if (owner && labels[OWNER] !== owner) continue;
    const type = typeOfKind(obj.kind);
    const key = `${obj.kind}/${type?.namespaced ? (obj.metadata.namespace ?? '') : ''}/${obj.metadata.name}`;
    if (!keep.has(key)) cluster.remove(obj);
  }
}

function createRemoteSecret(cluster: SimCluster, flags: Map<string, string>): CommandResult {
  const ns = flags.get('namespace') ?? flags.get('istioNamespace') ?? 'istio-system';
  const name = flags.get('name') ?? cluster.context.cluster;
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name)) return fail(`Error: invalid --name "${name}": must be a DNS-1123 label`);
  const nsType = resourceType('namespace');
  if (nsType && !cluster.get(nsType, '', ns)) cluster.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns }, status: { phase: 'Active' } });
  const saType = resourceType('serviceaccount');
  if (saType && !cluster.get(saType, ns, 'istio-reader-service-account')) {
    cluster.put({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'istio-reader-service-account', namespace: ns } });
  }
  // The token: from --secret-name, else from the first service-account token secret of the reader account
  // (by name, as the API server lists them), else from the secret istioctl creates for it.
  const tokenSecret = readerTokenSecret(cluster, ns, flags.get('secret-name'));
  if ('error' in tokenSecret) return fail(tokenSecret.error);
  const token = tokenSecret.token;
  const server = flags.get('server') ?? cluster.context.server;
  let stderr = '';
  if (isLoopbackServer(server)) {
    stderr = `warn: server in Kubeconfig is ${server}. This is likely not reachable from inside the cluster, if you're using Kubernetes in Docker, pass --server with the container IP for the API Server\n`;
  }
  const kubeconfig = stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name, cluster: { 'certificate-authority-data': Buffer.from(`simulated CA of ${name}`).toString('base64'), server } }],
    contexts: [{ name, context: { cluster: name, user: name } }],
    'current-context': name,
    preferences: {},
    users: [{ name, user: { token } }],
  });
  const secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      annotations: { 'networking.istio.io/cluster': name },
      labels: { 'istio/multiCluster': 'true' },
      name: `istio-remote-secret-${name}`,
      namespace: ns,
    },
    stringData: { [name]: kubeconfig },
  };
  return ok(`# This file is autogenerated, do not edit.\n${stringify(secret)}---\n`, stderr);
}

// istioctl uninstall: --purge removes what istioctl installed for every revision (CRDs and webhooks too);
// --revision only that revision's objects. It always asks before purging unless -y.
function uninstall(cluster: SimCluster, flags: Map<string, string>, stdin: string | undefined): CommandResult {
  const purge = isTrue(flags, 'purge');
  const revision = flags.get('revision');
  if (!purge && revision === undefined && flags.get('filename') === undefined) {
    return fail('Error: at least one of the --revision (or --set revision=<revision>), --filename or --purge flags must be set');
  }
  if (revision !== undefined && revision !== '') {
    const known = cluster.all().some((o) => (o.kind === 'MutatingWebhookConfiguration' || o.kind === 'Service') && o.metadata.labels?.[REV] === revision);
    if (!known) return fail('Error: could not find target revision');
  }
  if (!isTrue(flags, 'skip-confirmation')) {
    const prompt = purge ? 'All Istio resources will be pruned from the cluster\nProceed? (y/N) ' : 'Proceed? (y/N) ';
    if (!/^y(es)?\s*$/i.test(stdin ?? '')) return { exitCode: 1, stdout: `${prompt}Cancelled.\n`, stderr: '' };
  }
  const lines: string[] = [];
  for (const obj of cluster.all()) {
    const labels = obj.metadata.labels ?? {};
    const installed = labels[MANAGED] === 'Reconcile' || labels[OWNER] !== undefined;
    if (!installed || !(PRUNED_KINDS.has(obj.kind) || (purge && obj.kind === 'CustomResourceDefinition'))) continue;
    if (!purge && ((labels[REV] ?? 'default') !== (revision || 'default') || !REVISIONED_COMPONENTS.has(labels[COMPONENT] ?? ''))) continue;
    cluster.remove(obj);
    lines.push(`  Removed ${obj.kind}:${obj.metadata.namespace ?? ''}:${obj.metadata.name}.`);
  }
  return ok(`${lines.join('\n')}${lines.length > 0 ? '\n' : ''}✔ Uninstall complete\n`);
}

// istioctl remote-clusters: each istiod's view of the clusters it reads (its own and its remote secrets).
const READER = 'istio-reader-service-account';

function readerTokenSecret(cluster: SimCluster, ns: string, wanted: string | undefined): { token: string } | { error: string } {
  const secretType = resourceType('secret');
  const ours = (s: KubeObject) => s.type === SA_TOKEN_TYPE && s.metadata.annotations?.[SA_NAME_ANNOTATION] === READER;
  const tokenOf = (s: KubeObject | undefined) => {
    const data = (s?.data as Record<string, string> | undefined)?.token;
    return data ? Buffer.from(data, 'base64').toString('utf8') : undefined;
  };
  if (wanted !== undefined) {
    const secret = secretType ? cluster.get(secretType, ns, wanted) : undefined;
    if (!secret) return { error: `Error: could not get access token to read resources from local kube-apiserver: secrets "${wanted}" not found` };
    if (!ours(secret)) return { error: `Error: secret ${ns}/${wanted} is not a token of ServiceAccount ${READER}` };
    const token = tokenOf(secret);
    return token ? { token } : { error: `Error: secret ${ns}/${wanted} has no token yet` };
  }
  const existing = (secretType ? cluster.list(secretType, ns) : []).filter(ours).sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))[0];
  const reused = tokenOf(existing);
  if (reused) return { token: reused };
  cluster.put({
    apiVersion: 'v1',
    kind: 'Secret',
    type: SA_TOKEN_TYPE,
    metadata: { name: READER_TOKEN_SECRET, namespace: ns, annotations: { [SA_NAME_ANNOTATION]: READER } },
  });
  const token = tokenOf(secretType ? cluster.get(secretType, ns, READER_TOKEN_SECRET) : undefined);
  return token ? { token } : { error: `Error: timed out waiting for the token of secret ${ns}/${READER_TOKEN_SECRET}` };
}

// The bearer token in a remote secret's kubeconfig, and the API server address istiod dials with it.
function credentialsIn(secret: KubeObject): { token: string; server: string } | undefined {
  for (const value of Object.values((secret.data as Record<string, string> | undefined) ?? {})) {
    try {
      const config = parseYaml(Buffer.from(value, 'base64').toString('utf8')) as {
        clusters?: Array<{ cluster?: { server?: string } }>;
        users?: Array<{ user?: { token?: string } }>;
      };
      const token = config?.users?.[0]?.user?.token;
      if (token) return { token, server: config.clusters?.[0]?.cluster?.server ?? '' };
    } catch {
      // not a kubeconfig
    }
  }
  return undefined;
}

// With --revision, only that revision's istiods answer (as istioctl asks that revision's pods).
function remoteClusters(env: IstioctlEnv, cluster: SimCluster, revision: string | undefined): CommandResult {
  const revisionOf = (name: string) => (name === 'istiod' ? 'default' : name.slice('istiod-'.length));
  const istiods = istiodsOn(cluster).filter((i) => revision === undefined || revisionOf(i.name) === revision);
  if (istiods.length === 0) return fail('Error: unable to find any Istiod instances');
  const rows: string[][] = [['NAME', 'SECRET', 'STATUS', 'ISTIOD', 'REVISION']];
  for (const istiod of istiods) {
    const pod = `${istiod.name}-5d8f9c7b6-x2kqp`;
    rows.push([istiod.clusterId, '', 'synced', pod, revisionOf(istiod.name)]);
    for (const remote of remoteSecretsOn(cluster)) {
      const target = env.settings.contexts.find((c) => c.cluster === remote.name);
      // istiod reads the remote at the secret's address with the secret's token: from its pod a loopback
      // address is the pod itself, and a revoked token leaves its informers unsynced.
      const held = cluster.get(resourceType('secret') as NonNullable<ReturnType<typeof resourceType>>, 'istio-system', remote.secret.split('/')[1] ?? '');
      const credentials = held ? credentialsIn(held) : undefined;
      const accepted =
        target !== undefined &&
        credentials !== undefined &&
        !isLoopbackServer(credentials.server || target.server) &&
        (env.cluster(target.name)?.accepts(credentials.token) ?? false);
      rows.push([remote.name, remote.secret, accepted ? 'synced' : 'timeout', pod, revisionOf(istiod.name)]);
    }
  }
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return ok(
    `${rows
      .map((r) =>
        r
          .map((cell, i) => cell.padEnd((widths[i] ?? 0) + 3))
          .join('')
          .trimEnd(),
      )
      .join('\n')}\n`,
  );
}
