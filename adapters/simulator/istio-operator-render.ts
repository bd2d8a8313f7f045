// What istioctl renders from an IstioOperator: the objects it would apply, labelled the way istioctl labels
// them, for the profiles mesh-run uses (default, minimal, demo, remote, empty).
import { COMPONENT, MANAGED, OWNER, REV } from './istio-install-labels.js';
import type { KubeObject } from './objects.js';

export interface IstioOperator {
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

type Gateway = NonNullable<NonNullable<NonNullable<IstioOperator['spec']>['components']>['ingressGateways']>[number];

function dig(obj: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), obj);
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;
const NS = 'istio-system';

// One rendering in progress: what the IstioOperator says, and what has been rendered so far.
interface Rendering {
  profile: string;
  suffix: string;
  values: Record<string, unknown>;
  version: string;
  labels(extra?: Record<string, string>): Record<string, string>;
  objects: KubeObject[];
  components: string[];
}

function deployment(r: Rendering, name: string, env: Record<string, string>, extraLabels: Record<string, string> = {}, image = 'pilot'): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: NS, labels: r.labels({ app: name, ...extraLabels }) },
    spec: {
      replicas: 1,
      template: {
        spec: {
          containers: [
            { name: 'discovery', image: `docker.io/istio/${image}:${r.version}`, env: Object.entries(env).map(([n, v]) => ({ name: n, value: v })) },
          ],
        },
      },
    },
    status: { replicas: 1, readyReplicas: 1, updatedReplicas: 1, availableReplicas: 1 },
  };
}

function sidecarInjector(r: Rendering, path: string, caBundle: string): KubeObject {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: `istio-sidecar-injector${r.suffix}`, labels: r.labels() },
    webhooks: [{ name: 'namespace.sidecar-injector.istio.io', clientConfig: { service: { name: `istiod${r.suffix}`, namespace: NS, path }, caBundle } }],
  };
}

// The base chart: the CRDs and the reader account every profile but empty installs.
function renderBase(r: Rendering): void {
  r.components.push('Istio core');
  for (const crd of [
    'gateways.networking.istio.io',
    'virtualservices.networking.istio.io',
    'destinationrules.networking.istio.io',
    'peerauthentications.security.istio.io',
  ]) {
    r.objects.push({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: crd, labels: r.labels() } });
  }
  r.objects.push({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'istio-reader-service-account', namespace: NS, labels: r.labels() } });
  for (const kind of ['ClusterRole', 'ClusterRoleBinding'])
    r.objects.push({ apiVersion: 'rbac.authorization.k8s.io/v1', kind, metadata: { name: `istio-reader-clusterrole${r.suffix}-${NS}`, labels: r.labels() } });
}

function renderIstiod(r: Rendering): void {
  r.components.push('Istiod');
  const env: Record<string, string> = {
    CLUSTER_ID: String(dig(r.values, 'global.multiCluster.clusterName') ?? 'Kubernetes'),
    ISTIO_META_MESH_ID: String(dig(r.values, 'global.meshID') ?? 'cluster.local'),
    NETWORK: String(dig(r.values, 'global.network') ?? ''),
  };
  if (dig(r.values, 'global.externalIstiod') === true || String(dig(r.values, 'pilot.env.EXTERNAL_ISTIOD')) === 'true') env.EXTERNAL_ISTIOD = 'true';
  r.objects.push(deployment(r, `istiod${r.suffix}`, env, { istio: 'pilot' }));
  r.objects.push({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: `istiod${r.suffix}`, namespace: NS, labels: r.labels({ app: 'istiod' }) },
    spec: {
      type: 'ClusterIP',
      ports: [
        { name: 'grpc-xds', port: 15010 },
        { name: 'https-dns', port: 15012 },
        { name: 'https-webhook', port: 443, targetPort: 15017 },
      ],
    },
  });
  r.objects.push(sidecarInjector(r, '/inject', 'LS0tLS1CRUdJTi...'));
  r.objects.push({
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: { name: `istio-validator${r.suffix}-${NS}`, labels: r.labels() },
  });
}

// The enabled ingress gateways; returns their names.
function renderGateways(r: Rendering, named: readonly Gateway[]): Set<string> {
  const gateways = [...named];
  // The profile's ingress gateway, unless the IstioOperator names it (to disable or shape it).
  if ((r.profile === 'default' || r.profile === 'demo') && !gateways.some((g) => g.name === 'istio-ingressgateway'))
    gateways.unshift({ name: 'istio-ingressgateway', enabled: true, label: { istio: 'ingressgateway', app: 'istio-ingressgateway' } });
  const enabled = gateways.filter((g) => g.enabled !== false);
  const names = new Set<string>();
  if (enabled.length > 0) r.components.push('Ingress gateways');
  for (const gw of enabled) {
    const env = Object.fromEntries((gw.k8s?.env ?? []).map((e) => [e.name, e.value]));
    r.objects.push(deployment(r, gw.name, env, gw.label ?? {}, 'proxyv2'));
    names.add(gw.name);
    const ports = gw.k8s?.service?.ports ?? [
      { name: 'http2', port: 80, targetPort: 8080 },
      { name: 'https', port: 443, targetPort: 8443 },
    ];
    r.objects.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: gw.name, namespace: NS, labels: r.labels(gw.label ?? {}) },
      spec: { type: 'LoadBalancer', selector: gw.label ?? {}, ports },
    });
  }
  return names;
}

// The remote profile: istiod's Service pointing at the primary, and an injector its istiod will patch.
function renderRemote(r: Rendering): void {
  r.components.push('Istiod remote');
  const address = String(dig(r.values, 'global.remotePilotAddress') ?? '');
  const injectionPath = String(dig(r.values, 'istiodRemote.injectionPath') ?? '/inject');
  const ports = [
    { name: 'tcp-istiod', port: 15012 },
    { name: 'tcp-webhook', port: 443, targetPort: 15017 },
  ];
  const metadata = { name: `istiod${r.suffix}`, namespace: NS, labels: r.labels() };
  if (address && !IPV4.test(address)) {
    // A hostname becomes an ExternalName service, which admission webhooks cannot call (the EKS limitation).
    r.objects.push({ apiVersion: 'v1', kind: 'Service', metadata, spec: { type: 'ExternalName', externalName: address, ports } });
  } else {
    r.objects.push({ apiVersion: 'v1', kind: 'Service', metadata, spec: { type: 'ClusterIP', ports } });
    r.objects.push({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `istiod${r.suffix}`, namespace: NS, labels: r.labels({ 'kubernetes.io/service-name': `istiod${r.suffix}` }) },
      addressType: 'IPv4',
      endpoints: address ? [{ addresses: [address] }] : [],
      ports: [
        { name: 'tcp-istiod', port: 15012 },
        { name: 'tcp-webhook', port: 15017 },
      ],
    });
  }
  // caBundle stays empty until the primary's istiod patches it (after attach).
  r.objects.push(sidecarInjector(r, injectionPath, ''));
}

// Renders an IstioOperator into the objects istioctl would apply, labelled the way istioctl labels them.
export function renderIstioOperator(iop: IstioOperator, version: string): { objects: KubeObject[]; components: string[] } {
  const profile = iop.spec?.profile ?? 'default';
  const revision = iop.spec?.revision ?? '';
  const r: Rendering = {
    profile,
    suffix: revision ? `-${revision}` : '',
    values: iop.spec?.values ?? {},
    version,
    labels: (extra = {}) => ({
      [MANAGED]: 'Reconcile',
      // Real istioctl labels what an unnamed IstioOperator installs owning-resource=unknown (seen on real API servers).
      [OWNER]: iop.metadata?.name ?? 'unknown',
      [REV]: revision || 'default',
      'operator.istio.io/version': version,
      ...extra,
    }),
    objects: [],
    components: [],
  };
  if (profile !== 'empty') renderBase(r);
  if (profile === 'default' || profile === 'minimal' || profile === 'demo') renderIstiod(r);
  const gatewayNames = renderGateways(r, iop.spec?.components?.ingressGateways ?? []);
  if (profile === 'remote') renderRemote(r);
  for (const obj of r.objects) {
    const base = obj.kind === 'CustomResourceDefinition' || obj.kind === 'ServiceAccount';
    const component = base ? 'Base' : gatewayNames.has(obj.metadata.name) ? 'IngressGateways' : 'Pilot';
    obj.metadata.labels = { ...obj.metadata.labels, [COMPONENT]: component };
  }
  return { objects: r.objects, components: r.components };
}
