// mesh-run trust audit, the reads: per primary, the three certificate files of cacerts and the root istiod
// publishes; what they mean is trust-assessment.ts's (pure). Reads only, journals nothing.
//
// cacerts is asked for its label, its fingerprint annotation and three data fields by jsonpath: ca-key.pem is
// never requested, so no key reaches this process. The certificates (public, but a Secret's data) come back
// on a stdout marked sensitive and stay in memory.
import type { ClusterTools } from '../../adapters/cluster-tools.js';
import type { MeshConfig } from '../../shared/model.js';
import { directRuntime, probing } from './environment-check.js';
import { CACERTS, ISTIO_SYSTEM } from './install.js';
import { MANAGED_BY } from './inventory.js';
import { ROOT_CONFIGMAP } from './istiod-chain.js';
import { kubectl } from './step-runtime.js';
import { FINGERPRINT_ANNOTATION } from './trust/trust-activity.js';
import { assessTrust, type PrimaryReading, type TrustAssessment } from './trust-assessment.js';

export type { PrimaryReading, PrimaryTrust, TrustAssessment, TrustFinding, TrustSeverity } from './trust-assessment.js';

// jsonpath keys escape their dots: app.kubernetes.io/managed-by -> app\.kubernetes\.io/managed-by.
const field = (path: string, key: string) => `{.${path}.${key.replaceAll('.', '\\.')}}`;
// One line each (base64 and label values hold no newline), in this order. Never ca-key.pem.
const CACERTS_FIELDS = [
  field('metadata.labels', MANAGED_BY),
  field('metadata.annotations', FINGERPRINT_ANNOTATION),
  field('data', 'ca-cert.pem'),
  field('data', 'root-cert.pem'),
  field('data', 'cert-chain.pem'),
];
export const CACERTS_JSONPATH = `jsonpath=${CACERTS_FIELDS.join('{"\\n"}')}`;

type Probe = ReturnType<typeof probing>;
type Answer = Awaited<ReturnType<Probe>>;

const notFound = (r: Answer) => r.exitCode !== 0 && /\(NotFound\)|not found/i.test(r.stderr);
const lastLine = (r: Answer) => r.stderr.trim().split('\n').at(-1)?.slice(0, 200) || `kubectl exited ${r.exitCode}`;
const decoded = (value: string | undefined) => (value ? Buffer.from(value, 'base64').toString('utf8') : undefined);

// cacerts' fields as CACERTS_JSONPATH prints them; empty ones left out.
export function cacertsFromJsonpath(stdout: string): NonNullable<PrimaryReading['cacerts']> {
  const [managedBy, annotation, caCert, rootCert, certChain] = stdout.split('\n').map((line) => line.trim());
  const out: NonNullable<PrimaryReading['cacerts']> = {};
  if (managedBy) out.managedBy = managedBy;
  if (annotation) out.fingerprintAnnotation = annotation;
  const [ca, root, chain] = [decoded(caCert), decoded(rootCert), decoded(certChain)];
  if (ca !== undefined) out.caCert = ca;
  if (root !== undefined) out.rootCert = root;
  if (chain !== undefined) out.certChain = chain;
  return out;
}

// One primary: cacerts (absent when NotFound) and istio-ca-root-cert (absent when NotFound). Any other
// failure makes the primary unreadable: half a picture would report a root as missing when it is not.
async function readPrimary(probe: Probe, cluster: string, context: string): Promise<PrimaryReading> {
  const [cacerts, published] = await Promise.all([
    probe({ ...kubectl(context, ['get', 'secret', CACERTS, '-n', ISTIO_SYSTEM, '-o', CACERTS_JSONPATH], 'observe'), sensitiveStdout: true }),
    probe(kubectl(context, ['get', 'configmap', ROOT_CONFIGMAP, '-n', ISTIO_SYSTEM, '-o', 'jsonpath={.data.root-cert\\.pem}'], 'observe')),
  ]);
  const failed = [cacerts, published].find((r) => r.exitCode !== 0 && !notFound(r));
  if (failed) return { cluster, context, error: lastLine(failed) };
  return {
    cluster,
    context,
    ...(cacerts.exitCode === 0 ? { cacerts: cacertsFromJsonpath(cacerts.stdout) } : {}),
    ...(published.exitCode === 0 && published.stdout.trim() ? { published: published.stdout } : {}),
  };
}

// Every primary of the mesh, read side by side, then judged.
export async function auditTrust(config: MeshConfig, tools: ClusterTools, now = Date.now()): Promise<TrustAssessment> {
  const probe = probing(directRuntime(config, tools));
  const primaries = config.clusters.filter((c) => c.role === 'primary');
  const readings = await Promise.all(primaries.map((p) => readPrimary(probe, p.name, p.context)));
  return assessTrust(readings, now);
}
