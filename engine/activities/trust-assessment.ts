// mesh-run trust audit, the judgement: what the certificates read from each primary say (pure: no cluster,
// no clock but the one given), so it is tested with generated certificates. The reads are in trust-audit.ts.
//
// Only public certificates come in (ca-cert.pem, root-cert.pem, cert-chain.pem, the published root); only
// fingerprints, subjects, dates and the findings about them go out.
import 'reflect-metadata';
import { X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { rootFingerprint } from './discovery-reads.js';
import { INTERMEDIATE_SAN } from './trust/ca.js';

export const DAY = 86_400_000;
// Linkerd's check warns at 60 days; Istio's own intermediates live 730. Thirty days is time to rotate; seven is not.
export const WARN_DAYS = 30;
export const ERROR_DAYS = 7;

export type TrustSeverity = 'error' | 'warning' | 'info';

export interface TrustFinding {
  severity: TrustSeverity;
  // The primary it is about (absent: the mesh as a whole).
  cluster?: string;
  message: string;
}

// What the reads bring back from one primary: certificate text only, never a key.
export interface PrimaryReading {
  cluster: string;
  context: string;
  // Absent: no cacerts Secret in istio-system. Its fields are the PEM text of each file (absent: not in it).
  cacerts?: {
    managedBy?: string;
    // mesh-run.io/ca-fingerprint: the ca-cert.pem mesh-run wrote.
    fingerprintAnnotation?: string;
    caCert?: string;
    rootCert?: string;
    certChain?: string;
  };
  // root-cert.pem of ConfigMap istio-ca-root-cert in istio-system (absent: istiod publishes none).
  published?: string;
  // The primary could not be read: why.
  error?: string;
}

export interface IntermediateFacts {
  subject: string;
  fingerprint: string;
  notAfter: string;
  daysLeft: number;
  // Whether it names istiod.istio-system.svc, as Istio's tools/certs intermediates do.
  istiodSan: boolean;
}

export interface ChainFacts {
  valid: boolean;
  // Certificates from ca-cert.pem up to root-cert.pem, both counted.
  length: number;
  // ca-cert.pem's basicConstraints pathLen (null: unconstrained).
  pathLength: number | null;
  problems: string[];
}

export interface PrimaryTrust {
  cluster: string;
  context: string;
  // Who made cacerts: mesh-run (its label), someone else, nobody, or not known (the primary could not be read).
  cacerts: 'mesh-run' | 'not mesh-run' | 'absent' | 'unknown';
  // The root istiod signs under: cacerts' root-cert.pem, or with no cacerts the self-signed one it publishes.
  rootFingerprint?: string;
  rootSource?: 'cacerts' | 'istiod';
  rootSubject?: string;
  rootNotAfter?: string;
  intermediate?: IntermediateFacts;
  chain?: ChainFacts;
  // What istiod publishes (istio-ca-root-cert): its first root's fingerprint, and whether the bundle holds
  // cacerts' root. null: nothing published.
  published?: { fingerprint: string; matchesCacerts?: boolean } | null;
  error?: string;
}

export interface TrustAssessment {
  primaries: PrimaryTrust[];
  // Every readable primary signs under one root (null: no root known).
  sharedRoot: boolean | null;
  findings: TrustFinding[];
  unreadable: Array<{ cluster: string; error: string }>;
}

interface Parsed {
  node: X509Certificate;
  peculiar: x509.X509Certificate;
}

const PEM = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const short = (fp: string) => fp.slice(0, 16);
const subjectOf = (cert: Parsed) => cert.peculiar.subject;
// SHA-256 of the DER, as mesh-run's fingerprint() and mesh discover write it.
const fingerprintOf = (cert: Parsed) => cert.node.fingerprint256.replace(/:/g, '').toLowerCase();

function parse(pem: string): Parsed {
  return { node: new X509Certificate(pem), peculiar: new x509.X509Certificate(pem) };
}

function parseAll(text: string | undefined): Parsed[] {
  return (text?.match(PEM) ?? []).map(parse);
}

// The first certificate of text that may hold none, or a broken one (a published root is not mesh-run's).
function firstParsable(text: string | undefined): Parsed | undefined {
  try {
    return parseAll(text)[0];
  } catch {
    return undefined;
  }
}

export function daysLeft(notAfter: Date, now: number): number {
  return Math.floor((notAfter.getTime() - now) / DAY);
}

// An expiry finding for `what` (the intermediate, the root), or none while it has more than WARN_DAYS left.
function expiry(cluster: string, what: string, cert: Parsed, now: number): TrustFinding[] {
  const notAfter = cert.peculiar.notAfter;
  const left = notAfter.getTime() - now;
  const on = notAfter.toISOString().slice(0, 10);
  if (left <= 0) return [{ severity: 'error', cluster, message: `${what} expired on ${on}: istiod cannot sign workload certificates under it` }];
  const days = daysLeft(notAfter, now);
  if (left <= ERROR_DAYS * DAY) return [{ severity: 'error', cluster, message: `${what} expires on ${on} (${days} days left)` }];
  if (left <= WARN_DAYS * DAY) return [{ severity: 'warning', cluster, message: `${what} expires on ${on} (${days} days left): rotate it` }];
  return [];
}

const signs = (parent: Parsed, child: Parsed) => child.node.checkIssued(parent.node) && child.node.verify(parent.node.publicKey);

// What is wrong with one certificate as a CA `below` certificates above a leaf (0: it signs leaves).
function caProblems(cert: Parsed, name: string, below: number): string[] {
  const problems: string[] = [];
  const basic = cert.peculiar.getExtension(x509.BasicConstraintsExtension);
  if (!basic?.ca) problems.push(`${name} is not a CA certificate (basicConstraints CA:false)`);
  else if (basic.pathLength !== undefined && basic.pathLength < below)
    problems.push(`${name} allows ${basic.pathLength} CA certificates below it (pathLen), the chain has ${below}`);
  const usage = cert.peculiar.getExtension(x509.KeyUsagesExtension);
  if (usage && (usage.usages & x509.KeyUsageFlags.keyCertSign) === 0) problems.push(`${name} may not sign certificates (keyUsage lacks keyCertSign)`);
  return problems;
}

// The path from ca-cert.pem up to root-cert.pem (cert-chain.pem's middle, when it has one): each signed by the
// next, each a CA with room below it for the ones under it.
function chainFacts(ca: Parsed, root: Parsed, chainPem: string | undefined): ChainFacts {
  const problems: string[] = [];
  const listed = parseAll(chainPem);
  const first = listed[0];
  if (first && first.node.fingerprint256 !== ca.node.fingerprint256) problems.push('cert-chain.pem does not start with ca-cert.pem');
  const last = listed.at(-1);
  if (listed.length > 1 && last && last.node.fingerprint256 !== root.node.fingerprint256) problems.push('cert-chain.pem does not end with root-cert.pem');
  // What lies between the two, as cert-chain.pem lists it (nothing: ca-cert.pem is signed by the root itself).
  const middle =
    first && first.node.fingerprint256 === ca.node.fingerprint256 ? listed.slice(1).filter((c) => c.node.fingerprint256 !== root.node.fingerprint256) : [];
  const path = [ca, ...middle, root];
  const names = path.map((_, i) => (i === 0 ? 'ca-cert.pem' : i === path.length - 1 ? 'root-cert.pem' : `cert-chain.pem's certificate ${i + 1}`));
  for (let i = 0; i + 1 < path.length; i++) {
    if (!signs(path[i + 1] as Parsed, path[i] as Parsed))
      problems.push(`${names[i]} (${subjectOf(path[i] as Parsed)}) is not signed by ${names[i + 1]} (${subjectOf(path[i + 1] as Parsed)})`);
  }
  path.forEach((cert, i) => {
    problems.push(...caProblems(cert, names[i] as string, i));
  });
  const pathLength = ca.peculiar.getExtension(x509.BasicConstraintsExtension)?.pathLength;
  return { valid: problems.length === 0, length: path.length, pathLength: pathLength ?? null, problems };
}

const hasIstiodSan = (cert: Parsed) => (cert.node.subjectAltName ?? '').split(/,\s*/).includes(`DNS:${INTERMEDIATE_SAN}`);

// The published bundle's fingerprints: every certificate in it, or the text's own (a simulated stand-in).
function publishedRoots(published: string): string[] {
  const prints: string[] = [];
  for (const pem of published.match(PEM) ?? []) {
    try {
      prints.push(fingerprintOf(parse(pem)));
    } catch {
      // not a certificate: left out
    }
  }
  if (prints.length > 0) return prints;
  const own = rootFingerprint(published);
  return own ? [own] : [];
}

// One primary's cacerts and what its istiod publishes.
export function assessPrimary(reading: PrimaryReading, now: number): { primary: PrimaryTrust; findings: TrustFinding[] } {
  const { cluster, context } = reading;
  if (reading.error !== undefined) return { primary: { cluster, context, cacerts: 'unknown', error: reading.error }, findings: [] };
  const findings: TrustFinding[] = [];
  const primary: PrimaryTrust = { cluster, context, cacerts: 'absent' };
  const roots = reading.published === undefined ? [] : publishedRoots(reading.published);
  const published: PrimaryTrust['published'] = roots[0] ? { fingerprint: roots[0] } : null;
  if (reading.cacerts) {
    primary.cacerts = reading.cacerts.managedBy === 'mesh-run' ? 'mesh-run' : 'not mesh-run';
    findings.push(...assessCacerts(reading.cacerts, primary, now));
    if (primary.rootFingerprint && published) {
      published.matchesCacerts = roots.includes(primary.rootFingerprint);
      if (!published.matchesCacerts)
        findings.push({
          severity: 'warning',
          cluster,
          message: `istiod publishes root ${short(published.fingerprint)}, not cacerts' root ${short(primary.rootFingerprint)}: it has not been restarted since cacerts changed (kubectl -n istio-system rollout restart deployment/istiod)`,
        });
    }
  } else if (published) {
    primary.rootFingerprint = published.fingerprint;
    primary.rootSource = 'istiod';
    const own = firstParsable(reading.published);
    if (own) {
      primary.rootSubject = subjectOf(own);
      primary.rootNotAfter = own.peculiar.notAfter.toISOString();
    }
  }
  if (!published)
    findings.push({ severity: 'warning', cluster, message: 'istiod publishes no root (no istio-ca-root-cert in istio-system): is istiod running?' });
  return { primary: { ...primary, published }, findings };
}

// cacerts' three certificate files: the root, the intermediate, and the chain between them.
function assessCacerts(cacerts: NonNullable<PrimaryReading['cacerts']>, primary: PrimaryTrust, now: number): TrustFinding[] {
  const cluster = primary.cluster;
  const invalid = (problem: string): TrustFinding[] => {
    primary.chain = { valid: false, length: 0, pathLength: null, problems: [problem] };
    return [{ severity: 'error', cluster, message: `cacerts' chain is invalid: ${problem}` }];
  };
  let root: Parsed | undefined;
  let ca: Parsed | undefined;
  try {
    root = parseAll(cacerts.rootCert)[0];
    ca = parseAll(cacerts.caCert)[0];
  } catch (error) {
    return invalid(`a certificate does not parse (${(error as Error).message})`);
  }
  const findings: TrustFinding[] = [];
  if (root) {
    primary.rootFingerprint = fingerprintOf(root);
    primary.rootSource = 'cacerts';
    primary.rootSubject = subjectOf(root);
    primary.rootNotAfter = root.peculiar.notAfter.toISOString();
  }
  if (!ca) return invalid('cacerts holds no ca-cert.pem: istiod does not use it as its CA');
  const caFingerprint = fingerprintOf(ca);
  primary.intermediate = {
    subject: subjectOf(ca),
    fingerprint: caFingerprint,
    notAfter: ca.peculiar.notAfter.toISOString(),
    daysLeft: daysLeft(ca.peculiar.notAfter, now),
    istiodSan: hasIstiodSan(ca),
  };
  if (!root) return invalid('cacerts holds no root-cert.pem');
  try {
    primary.chain = chainFacts(ca, root, cacerts.certChain);
  } catch (error) {
    return invalid(`cert-chain.pem does not parse (${(error as Error).message})`);
  }
  for (const problem of primary.chain.problems) findings.push({ severity: 'error', cluster, message: `cacerts' chain is invalid: ${problem}` });
  findings.push(...expiry(cluster, `the intermediate (ca-cert.pem, ${subjectOf(ca)})`, ca, now));
  findings.push(...expiry(cluster, `the root (root-cert.pem, ${subjectOf(root)})`, root, now));
  if (primary.cacerts === 'mesh-run' && cacerts.fingerprintAnnotation && cacerts.fingerprintAnnotation !== caFingerprint)
    findings.push({
      severity: 'warning',
      cluster,
      message: `cacerts carries mesh-run's label, but its ca-cert.pem (${short(caFingerprint)}) is not the one mesh-run wrote (${short(cacerts.fingerprintAnnotation)}): it was changed by other means`,
    });
  return findings;
}

// Every primary, then the mesh: one root for all, and cacerts wherever several control planes must trust each other.
export function assessTrust(readings: readonly PrimaryReading[], now: number): TrustAssessment {
  const assessed = readings.map((r) => assessPrimary(r, now));
  const primaries = assessed.map((a) => a.primary);
  const findings = assessed.flatMap((a) => a.findings);
  const several = readings.length > 1;
  for (const p of primaries) {
    if (p.cacerts === 'absent' && several)
      findings.push({
        severity: 'error',
        cluster: p.cluster,
        message: 'no cacerts: its istiod signs under a self-signed root of its own, which the other primaries do not trust',
      });
    if (p.cacerts === 'absent' && !several)
      findings.push({
        severity: 'info',
        cluster: p.cluster,
        message: "no cacerts: istiod signs under its own self-signed root (fine for a mesh's only primary)",
      });
  }
  const known = primaries.filter((p) => p.rootFingerprint !== undefined);
  const roots = new Set(known.map((p) => p.rootFingerprint));
  if (roots.size > 1)
    findings.push({
      severity: 'error',
      message: `the primaries do not share one root (${known.map((p) => `${p.cluster} ${short(p.rootFingerprint as string)}`).join(', ')}): workloads of different primaries cannot verify each other`,
    });
  const order = { error: 0, warning: 1, info: 2 };
  findings.sort((a, b) => order[a.severity] - order[b.severity] || (a.cluster ?? '').localeCompare(b.cluster ?? ''));
  return {
    primaries,
    sharedRoot: roots.size === 0 ? null : roots.size === 1,
    findings,
    unreadable: primaries.flatMap((p) => (p.error !== undefined ? [{ cluster: p.cluster, error: p.error }] : [])),
  };
}
