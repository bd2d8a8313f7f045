// What the journal keeps of a cacerts Secret, so that drift can tell when it changed: the SHA-256 fingerprints of
// its root and its intermediate, and the day the intermediate expires. Public certificate data only: the
// fields are read by jsonpath, so ca-key.pem is never asked for; the PEM text comes back on a stdout marked
// sensitive (a Secret's data all the same) and stays in this process's memory.
import { X509Certificate } from 'node:crypto';
import type { CommandPurpose } from '../../../adapters/cluster-tools.js';
import { rootFingerprint } from '../discovery-reads.js';
import { commandFailed } from '../failures.js';
import { CACERTS, ISTIO_SYSTEM } from '../install-common.js';
import { MANAGED_BY } from '../inventory.js';
import { isNotFound } from '../kube-ops.js';
import { kubectl, type StepRuntime } from '../step-runtime.js';

export interface CacertsPrints {
  // root-cert.pem's first certificate (SHA-256 of its DER, as mesh-run's fingerprint() and mesh discover write it).
  root?: string;
  // ca-cert.pem's first certificate: the intermediate istiod signs workload certificates with.
  intermediate?: string;
  // The intermediate's notAfter, ISO 8601.
  intermediateNotAfter?: string;
}

// The keys of an observation's detail that carry the prints.
export const PRINT_KEYS = { root: 'root-sha256', intermediate: 'intermediate-sha256', intermediateNotAfter: 'intermediate-not-after' } as const;

function notAfterOf(pem: string | undefined): string | undefined {
  const first = pem?.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/)?.[0];
  if (!first) return undefined;
  try {
    return new Date(new X509Certificate(first).validTo).toISOString();
  } catch {
    return undefined;
  }
}

// The prints of cacerts' root-cert.pem and ca-cert.pem (PEM text). Text that is no certificate is
// fingerprinted as text (rootFingerprint), so a replaced value still reads as changed.
export function printsOf(certs: { rootCert?: string | undefined; caCert?: string | undefined }): CacertsPrints {
  const root = certs.rootCert ? rootFingerprint(certs.rootCert) : undefined;
  const intermediate = certs.caCert ? rootFingerprint(certs.caCert) : undefined;
  const notAfter = notAfterOf(certs.caCert);
  return { ...(root ? { root } : {}), ...(intermediate ? { intermediate } : {}), ...(notAfter ? { intermediateNotAfter: notAfter } : {}) };
}

// As an observation's detail (null: nothing to keep).
export function printsDetail(prints: CacertsPrints): Record<string, string> | null {
  const detail: Record<string, string> = {};
  for (const [field, key] of Object.entries(PRINT_KEYS)) {
    const value = prints[field as keyof CacertsPrints];
    if (value) detail[key] = value;
  }
  return Object.keys(detail).length > 0 ? detail : null;
}

// Back from an observation's detail; undefined when it carries no fingerprint (recorded before they were kept).
export function printsFromDetail(detail: Record<string, string> | null | undefined): CacertsPrints | undefined {
  const root = detail?.[PRINT_KEYS.root];
  const intermediate = detail?.[PRINT_KEYS.intermediate];
  if (!root && !intermediate) return undefined;
  const notAfter = detail?.[PRINT_KEYS.intermediateNotAfter];
  return { ...(root ? { root } : {}), ...(intermediate ? { intermediate } : {}), ...(notAfter ? { intermediateNotAfter: notAfter } : {}) };
}

const decoded = (value: string | undefined) => (value ? Buffer.from(value, 'base64').toString('utf8') : undefined);
const DATA = (key: string) => `{.data.${key.replaceAll('.', '\\.')}}`;

// One cacerts: mesh-run's label, root-cert.pem, ca-cert.pem; one line each (base64 and label values hold no newline).
const ONE_JSONPATH = `jsonpath={.metadata.labels.${MANAGED_BY.replaceAll('.', '\\.')}}{"\\n"}${DATA('root-cert.pem')}{"\\n"}${DATA('ca-cert.pem')}`;

// Every Secret of a namespace by name, with the two certificate fields (empty where a Secret has none): the
// name listing discovery makes anyway, carrying cacerts' public certificates at no extra process.
export const SECRETS_JSONPATH = `jsonpath={range .items[*]}{.metadata.name}{"\\t"}${DATA('root-cert.pem')}{"\\t"}${DATA('ca-cert.pem')}{"\\n"}{end}`;

// SECRETS_JSONPATH's answer: every name, and cacerts' prints when it is among them.
export function secretsListing(stdout: string): { names: string[]; cacerts?: CacertsPrints } {
  const rows = stdout
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => line.split('\t').map((f) => f.trim()));
  const cacerts = rows.find(([name]) => name === CACERTS);
  return {
    names: rows.map(([name]) => name ?? ''),
    ...(cacerts ? { cacerts: printsOf({ rootCert: decoded(cacerts[1]), caCert: decoded(cacerts[2]) }) } : {}),
  };
}

export interface CacertsRead {
  exists: boolean;
  // mesh-run's label on it ('' when none).
  managedBy: string;
  prints: CacertsPrints;
}

// A step's read of cacerts in istio-system: whether it is there, whose label it carries, its prints. One process.
export async function readCacerts(rt: StepRuntime, context: string, purpose: CommandPurpose = 'observe'): Promise<CacertsRead> {
  const result = await rt.run({ ...kubectl(context, ['get', 'secret', CACERTS, '-n', ISTIO_SYSTEM, '-o', ONE_JSONPATH], purpose), sensitiveStdout: true });
  if (isNotFound(result)) return { exists: false, managedBy: '', prints: {} };
  if (result.exitCode !== 0) throw commandFailed(`kubectl get secret ${CACERTS}`, result);
  const [managedBy = '', root, ca] = result.stdout.split('\n').map((line) => line.trim());
  return { exists: true, managedBy, prints: printsOf({ rootCert: decoded(root), caCert: decoded(ca) }) };
}
