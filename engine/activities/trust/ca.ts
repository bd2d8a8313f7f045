// A root CA and per-cluster intermediates with the properties of Istio's tools/certs (common.mk):
// RSA keys, SHA-256, root O=Istio CN=Root CA, intermediate CA:true pathlen:0 with the istiod SAN.
// Built with @peculiar/x509 (WebCrypto keys); the ASN.1 is the library's, not ours.
import 'reflect-metadata';
import { createPrivateKey, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(globalThis.crypto);

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

import type { CaBundle, RootCa } from './ca-files.js';

export type { CaBundle, RootCa } from './ca-files.js';

export interface CaOptions {
  keySize: 2048 | 3072 | 4096;
  rootDays: number;
  intermediateDays: number;
  now?: Date;
}

const DAY_MS = 86_400_000;
const CA_USAGES = x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation | x509.KeyUsageFlags.keyEncipherment | x509.KeyUsageFlags.keyCertSign;
export const INTERMEDIATE_SAN = 'istiod.istio-system.svc';

function algorithm(keySize: number): webcrypto.RsaHashedKeyGenParams {
  return { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: keySize };
}

function serial(): string {
  // A positive 16-byte serial: the high bit cleared so DER does not read it as negative.
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] as number) & 0x7f;
  return Buffer.from(bytes).toString('hex');
}

async function keyPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }).export({ type: 'pkcs8', format: 'pem' }) as string;
}

async function importKey(pem: string, keySize: number): Promise<CryptoKey> {
  const der = createPrivateKey(pem).export({ type: 'pkcs8', format: 'der' });
  return webcrypto.subtle.importKey('pkcs8', der, algorithm(keySize), true, ['sign']);
}

function pemOf(cert: x509.X509Certificate): string {
  return `${cert.toString('pem').trim()}\n`;
}

export async function generateRoot(options: CaOptions): Promise<RootCa> {
  const alg = algorithm(options.keySize);
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
  const notBefore = options.now ?? new Date();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: 'O=Istio, CN=Root CA',
    notBefore,
    notAfter: new Date(notBefore.getTime() + options.rootDays * DAY_MS),
    keys,
    signingAlgorithm: alg,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(CA_USAGES, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: pemOf(cert), keyPem: await keyPem(keys.privateKey) };
}

// An intermediate CA for one cluster's istiod, signed by the root; cert-chain.pem is intermediate + root.
export async function generateIntermediate(root: RootCa, cluster: string, options: CaOptions): Promise<CaBundle> {
  const rootCert = new x509.X509Certificate(root.certPem);
  const rootKeySize = (rootCert.publicKey.algorithm as webcrypto.RsaHashedKeyAlgorithm).modulusLength ?? options.keySize;
  const signingKey = await importKey(root.keyPem, rootKeySize);
  const alg = algorithm(options.keySize);
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
  const notBefore = options.now ?? new Date();
  const rootNotAfter = rootCert.notAfter.getTime();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `O=Istio, CN=Intermediate CA, L=${cluster}`,
    issuer: rootCert.subject,
    notBefore,
    // Never outlive the root that vouches for it.
    notAfter: new Date(Math.min(notBefore.getTime() + options.intermediateDays * DAY_MS, rootNotAfter)),
    publicKey: keys.publicKey,
    signingKey,
    signingAlgorithm: algorithm(rootKeySize),
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(CA_USAGES, true),
      new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: INTERMEDIATE_SAN }]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(rootCert),
    ],
  });
  const certPem = pemOf(cert);
  return { 'ca-cert.pem': certPem, 'ca-key.pem': await keyPem(keys.privateKey), 'root-cert.pem': root.certPem, 'cert-chain.pem': `${certPem}${root.certPem}` };
}
