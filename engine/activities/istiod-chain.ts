// What a primary's istiod signs with, as it reports it: the expiry of its CA chain on its monitoring port, read
// through the API server's service proxy (no port-forward, nothing exposed), and the root it publishes in
// ConfigMap istio-ca-root-cert. Also whether it loads a replaced cacerts by itself.
//
// istiod records citadel_server_cert_chain_expiry_timestamp (the first certificate of cert-chain.pem: the
// intermediate) when it starts, and since 1.24 again when it reloads plugged-in CA files
// (istio/istio#52466; before, the gauge kept the old value after a reload). It reloads them by itself
// since 1.19, where the AUTO_RELOAD_PLUGIN_CERTS flag of istio/istio#31522 was removed and the watch always on
// (1.18: on unless the flag says false; 1.12-1.17: off unless it says true).
import { rootFingerprint } from './discovery-reads.js';
import { commandFailed } from './failures.js';
import { getJson, ISTIO_SYSTEM, isNotFound } from './kube-ops.js';
import { kubectl, type StepRuntime } from './step-runtime.js';

const MONITORING_PORT = 15014;
const CHAIN_EXPIRY = 'citadel_server_cert_chain_expiry_timestamp';
// The ConfigMap istiod publishes its root in, in every namespace.
export const ROOT_CONFIGMAP = 'istio-ca-root-cert';

// istiod's Deployment (and Service) name: istiod, or istiod-<revision>.
export function istiodOf(revision: string | undefined): string {
  return revision ? `istiod-${revision}` : 'istiod';
}

export interface DeploymentJson {
  spec?: { template?: { spec?: { containers?: Array<{ name?: string; image?: string; env?: Array<{ name?: string; value?: string }> }> } } };
}

// The Istio version of istiod's image tag (1.25.2 of docker.io/istio/pilot:1.25.2-distroless), if it names one.
export function istiodVersion(deployment: DeploymentJson | undefined): { major: number; minor: number } | undefined {
  const containers = deployment?.spec?.template?.spec?.containers ?? [];
  const discovery = containers.find((c) => c.name === 'discovery') ?? containers[0];
  const tag = discovery?.image?.split('@')[0]?.split(':').at(-1) ?? '';
  const m = /^v?(\d+)\.(\d+)(?:\.\d+)?(?:[-+].*)?$/.exec(tag);
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : undefined;
}

// How this istiod comes to sign with a replaced cacerts: 'reload' (it reloads it and reports the new chain),
// or 'restart' (it does not reload, or mesh-run could not see that it did), and why.
export function loadingOf(deployment: DeploymentJson | undefined): { how: 'reload' | 'restart'; why: string } {
  const version = istiodVersion(deployment);
  if (!version) return { how: 'restart', why: 'its image tag names no Istio version, so whether it reloads plugged-in CA files is not known' };
  const v = `${version.major}.${version.minor}`;
  const atLeast = (minor: number) => version.major > 1 || version.minor >= minor;
  if (atLeast(24)) return { how: 'reload', why: `istiod ${v} reloads plugged-in CA files by itself (since 1.19) and reports the chain it loaded (since 1.24)` };
  if (atLeast(19))
    return { how: 'restart', why: `istiod ${v} reloads plugged-in CA files by itself, but reports the new chain only from 1.24 on (istio/istio#52466)` };
  return { how: 'restart', why: `istiod ${v} reloads plugged-in CA files only with AUTO_RELOAD_PLUGIN_CERTS (1.12-1.18); a restart is certain` };
}

export function readIstiod(rt: StepRuntime, context: string, revision: string | undefined): Promise<DeploymentJson | undefined> {
  const name = istiodOf(revision);
  return getJson<DeploymentJson>(rt, context, ['deployment', name, '-n', ISTIO_SYSTEM], `deployment ${name}`);
}

// The expiry istiod reports for the chain it signs with (seconds since the epoch), undefined when it reports
// none (not running, no plugged-in chain).
export async function servedChainExpiry(rt: StepRuntime, context: string, revision: string | undefined): Promise<number | undefined> {
  const path = `/api/v1/namespaces/${ISTIO_SYSTEM}/services/http:${istiodOf(revision)}:${MONITORING_PORT}/proxy/metrics`;
  const result = await rt.run(kubectl(context, ['get', '--raw', path], 'verify'));
  if (result.exitCode !== 0) {
    if (isNotFound(result) || /ServiceUnavailable|no endpoints available/i.test(result.stderr)) return undefined;
    throw commandFailed(`kubectl get --raw ${path}`, result);
  }
  return chainExpiryOf(result.stdout);
}

// The gauge's value in Prometheus' text format ("citadel_server_cert_chain_expiry_timestamp 1.9608835e+09").
export function chainExpiryOf(metrics: string): number | undefined {
  for (const line of metrics.split('\n')) {
    const m = new RegExp(`^${CHAIN_EXPIRY}(?:\\{[^}]*\\})?\\s+(\\S+)`).exec(line.trim());
    if (m) {
      const value = Number(m[1]);
      return Number.isFinite(value) ? Math.round(value) : undefined;
    }
  }
  return undefined;
}

// The fingerprint of the root istiod publishes in istio-system (undefined: none published).
export async function publishedRoot(rt: StepRuntime, context: string, purpose: 'observe' | 'verify' = 'verify'): Promise<string | undefined> {
  const result = await rt.run(kubectl(context, ['get', 'configmap', ROOT_CONFIGMAP, '-n', ISTIO_SYSTEM, '-o', 'jsonpath={.data.root-cert\\.pem}'], purpose));
  if (isNotFound(result)) return undefined;
  if (result.exitCode !== 0) throw commandFailed(`kubectl get configmap ${ROOT_CONFIGMAP}`, result);
  return result.stdout.trim() ? rootFingerprint(result.stdout) : undefined;
}
