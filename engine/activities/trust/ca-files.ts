// The CA files istiod reads from the cacerts secret, checked with Node's own X509Certificate: what mesh-run
// needs to use a CA, without loading the generator (engine/trust/ca.ts) unless one is generated.
import { createPrivateKey, X509Certificate } from 'node:crypto';

// The four files istiod reads from the cacerts secret (plugin CA).
export interface CaBundle {
  'ca-cert.pem': string;
  'ca-key.pem': string;
  'root-cert.pem': string;
  'cert-chain.pem': string;
}

export interface RootCa {
  certPem: string;
  keyPem: string;
}

// What is wrong with a bundle read from files, or undefined when it is a usable plugin CA.
export function bundleProblem(bundle: CaBundle): string | undefined {
  let ca: X509Certificate;
  let rootCert: X509Certificate;
  try {
    ca = new X509Certificate(bundle['ca-cert.pem']);
    rootCert = new X509Certificate(bundle['root-cert.pem']);
  } catch (error) {
    return `a certificate does not parse (${(error as Error).message})`;
  }
  if (!ca.ca) return 'ca-cert.pem is not a CA certificate (basicConstraints CA:false)';
  try {
    if (!ca.checkPrivateKey(createPrivateKey(bundle['ca-key.pem']))) return 'ca-key.pem does not belong to ca-cert.pem';
  } catch (error) {
    return `ca-key.pem is not a private key (${(error as Error).message})`;
  }
  const chain = bundle['cert-chain.pem'].match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  const last = chain.length > 0 ? new X509Certificate(chain[chain.length - 1] as string) : undefined;
  if (!last || last.fingerprint256 !== rootCert.fingerprint256) return 'cert-chain.pem does not end with root-cert.pem';
  if (ca.fingerprint256 !== rootCert.fingerprint256 && !chainVerifies(chain.map((c) => new X509Certificate(c))))
    return 'cert-chain.pem does not verify up to root-cert.pem';
  if (Date.parse(ca.validTo) < Date.now()) return `ca-cert.pem expired on ${ca.validTo}`;
  return undefined;
}

function chainVerifies(chain: X509Certificate[]): boolean {
  for (let i = 0; i + 1 < chain.length; i++) {
    const child = chain[i] as X509Certificate;
    const parent = chain[i + 1] as X509Certificate;
    if (!child.checkIssued(parent) || !child.verify(parent.publicKey)) return false;
  }
  return true;
}

// The fingerprint mesh-run writes on the cacerts secret, so a re-run can tell whose CA is there.
export function fingerprint(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256.replace(/:/g, '').toLowerCase();
}
