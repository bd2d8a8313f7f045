// The CA a simulated istiod signs with, as it reports it on its monitoring port (15014, read through the API
// server's service proxy: kubectl get --raw /api/v1/namespaces/istio-system/services/http:istiod:15014/proxy/metrics).
// istiod loads cacerts when it starts; it reloads a replaced one by itself since 1.19, and reports the chain it
// reloaded (citadel_server_cert_chain_expiry_timestamp) only since 1.24 (istio/istio#52466): before, the gauge
// keeps the value it had at start. It ignores the whole replaced cacerts when root-cert.pem differs from the one
// it loaded in any byte (a root change, which needs ISTIO_MULTIROOT_MESH: not simulated). The simulator keeps
// what the gauges say, and a digest of the root loaded, on the istiod Deployment.
import { createHash, X509Certificate } from 'node:crypto';
import type { CommandResult } from '../cluster-tools.js';
import { fail, ok } from './kubectl-result.js';
import type { KubeObject } from './objects.js';
import { type ResourceType, resourceType } from './objects.js';
import type { SimCluster } from './sim-cluster.js';

const ISTIO_SYSTEM = 'istio-system';
// What the istiod's gauges say: the expiry (epoch seconds) of the chain and of the root it loaded, or "none".
// The simulator's own bookkeeping, named apart from mesh-run's marks (a mesh built by hand carries none of those).
const REPORTED = 'istiod.sim.local/ca-reported';
const t = (name: string) => resourceType(name) as ResourceType;

function istiods(cluster: SimCluster): KubeObject[] {
  return cluster.list(t('deployment'), ISTIO_SYSTEM).filter((d) => /^istiod(-|$)/.test(d.metadata.name));
}

// The Istio minor version of an istiod's image (docker.io/istio/pilot:1.25.2), undefined when it names none.
function minorOf(deployment: KubeObject): number | undefined {
  const image = (deployment.spec as { template?: { spec?: { containers?: Array<{ image?: string }> } } } | undefined)?.template?.spec?.containers?.[0]?.image;
  const m = /:v?1\.(\d+)/.exec(image ?? '');
  return m ? Number(m[1]) : undefined;
}

function expiryOf(pem: string | undefined): number | undefined {
  const first = pem?.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/)?.[0];
  if (!first) return undefined;
  try {
    return Math.round(Date.parse(new X509Certificate(first).validTo) / 1000);
  } catch {
    return undefined;
  }
}

// What cacerts holds now (a read gives its certificates back base64, as an API server does), as the gauges would say it.
function gaugesOfCacerts(cluster: SimCluster): string {
  const data = (cluster.get(t('secret'), ISTIO_SYSTEM, 'cacerts')?.data as Record<string, string> | undefined) ?? {};
  const pem = (key: string) => (data[key] === undefined ? undefined : Buffer.from(data[key] as string, 'base64').toString('utf8'));
  const chain = expiryOf(pem('cert-chain.pem'));
  const rootPem = pem('root-cert.pem');
  const root = expiryOf(rootPem);
  const digest = rootPem === undefined ? 'none' : createHash('sha256').update(rootPem).digest('hex').slice(0, 16);
  return `${chain ?? 'none'}/${root ?? 'none'}/${digest}`;
}

const rootDigestOf = (gauges: string | undefined) => gauges?.split('/')[2];

function report(cluster: SimCluster, deployment: KubeObject, gauges: string): void {
  if (deployment.metadata.annotations?.[REPORTED] === gauges) return;
  cluster.replace({ ...deployment, metadata: { ...deployment.metadata, annotations: { ...deployment.metadata.annotations, [REPORTED]: gauges } } });
}

// istiod (re)started: it reads cacerts and reports what it loaded. `onlyNew`: the ones that have not started yet.
export function istiodLoadsCa(cluster: SimCluster, onlyNew = false): void {
  const gauges = gaugesOfCacerts(cluster);
  for (const deployment of istiods(cluster)) {
    if (onlyNew && deployment.metadata.annotations?.[REPORTED] !== undefined) continue;
    report(cluster, deployment, gauges);
  }
}

// istioctl install renders istiod anew: a running one keeps what it reports (the render does not restart it).
export function keepReported(cluster: SimCluster, rendered: KubeObject): KubeObject {
  if (rendered.kind !== 'Deployment' || !/^istiod(-|$)/.test(rendered.metadata.name)) return rendered;
  const reported = cluster.get(t('deployment'), ISTIO_SYSTEM, rendered.metadata.name)?.metadata.annotations?.[REPORTED];
  if (reported === undefined) return rendered;
  return { ...rendered, metadata: { ...rendered.metadata, annotations: { ...rendered.metadata.annotations, [REPORTED]: reported } } };
}

// cacerts was written: an istiod that reloads plugged-in CA files and reports it (1.24 on) says so at once.
export function cacertsWritten(cluster: SimCluster): void {
  const gauges = gaugesOfCacerts(cluster);
  for (const deployment of istiods(cluster)) {
    const loaded = deployment.metadata.annotations?.[REPORTED];
    // Only an intermediate: the same root-cert.pem, byte for byte.
    if (loaded !== undefined && rootDigestOf(loaded) !== rootDigestOf(gauges)) continue;
    if ((minorOf(deployment) ?? 0) >= 24) report(cluster, deployment, gauges);
  }
}

const METRICS_PATH = /^\/api\/v1\/namespaces\/istio-system\/services\/(?:https?:)?(istiod(?:-[a-z0-9-]+)?):15014\/proxy\/metrics$/;

// kubectl get --raw <path>: the istiod metrics through the service proxy; any other path is refused.
export function rawGet(cluster: SimCluster, path: string): CommandResult {
  const m = METRICS_PATH.exec(path);
  if (!m) return fail(`Error from server (NotFound): the server could not find the requested resource`);
  const name = m[1] as string;
  if (!cluster.get(t('service'), ISTIO_SYSTEM, name)) return fail(`Error from server (NotFound): services "${name}" not found`);
  const deployment = cluster.get(t('deployment'), ISTIO_SYSTEM, name);
  if (!deployment) return fail(`Error from server (ServiceUnavailable): no endpoints available for service "http:${name}:15014"`);
  // An istiod of a world stored before the simulator kept its gauges reports what cacerts holds.
  const [chain, root] = (deployment.metadata.annotations?.[REPORTED] ?? gaugesOfCacerts(cluster)).split('/');
  const lines = ['# TYPE citadel_server_csr_count counter', 'citadel_server_csr_count 0'];
  if (root !== 'none')
    lines.push('# TYPE citadel_server_root_cert_expiry_timestamp gauge', `citadel_server_root_cert_expiry_timestamp ${Number(root).toExponential()}`);
  if (chain !== 'none')
    lines.push('# TYPE citadel_server_cert_chain_expiry_timestamp gauge', `citadel_server_cert_chain_expiry_timestamp ${Number(chain).toExponential()}`);
  return ok(`${lines.join('\n')}\n`);
}
