// mesh-run mesh discover: what the objects kubectl hands back say, read without a cluster (mesh-discovery.ts
// does the reads): the east-west gateway's address, where a control plane is exposed and where a remote looks
// for it, and the fingerprint of a published root.
import { createHash, X509Certificate } from 'node:crypto';
import { GATEWAY_SERVICE } from './install-common.js';
import { fingerprint } from './trust/ca-files.js';

export interface Item {
  metadata?: { name?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: unknown;
  status?: unknown;
  data?: Record<string, string>;
  webhooks?: Array<{ clientConfig?: { url?: string; caBundle?: string; service?: { path?: string } } }>;
  endpoints?: Array<{ addresses?: string[] }>;
}

export const itemsOf = (stdout: string): Item[] => (JSON.parse(stdout) as { items?: Item[] }).items ?? [];

type Ingress = Array<{ ip?: string; hostname?: string }>;
const ingressOf = (svc: Item): string[] =>
  ((svc.status as { loadBalancer?: { ingress?: Ingress } } | undefined)?.loadBalancer?.ingress ?? [])
    .map((i) => i.ip ?? i.hostname)
    .filter((a): a is string => Boolean(a));
const ISTIOD_SERVICE = /^istiod(-|$)/;
const unique = (values: string[]) => [...new Set(values.map((v) => v.toLowerCase()))];

// The east-west gateway: absent, pending (no address yet) or at its load balancer's first address.
export function gatewayOf(services: Item[]): { eastWestGateway?: { address?: string } } {
  const svc = services.find((i) => i.metadata?.name === GATEWAY_SERVICE);
  if (!svc) return {};
  const address = ingressOf(svc)[0];
  return { eastWestGateway: address ? { address } : {} };
}

// Where a control plane can be reached from other clusters: every address of its east-west gateway's load
// balancer, and of an istiod Service the install exposed as a load balancer itself.
export function exposedAddresses(services: Item[]): string[] {
  return unique(services.filter((s) => s.metadata?.name === GATEWAY_SERVICE || ISTIOD_SERVICE.test(s.metadata?.name ?? '')).flatMap(ingressOf));
}

function hostOf(url: string): string | undefined {
  try {
    return new URL(url).hostname.replace(/^\[|\]$/g, '') || undefined;
  } catch {
    return undefined;
  }
}

// Where a remote looks for its control plane, as the remote profile installed it: global.remotePilotAddress
// becomes the istiod Service's ExternalName (a hostname) or the address of its selectorless endpoints (an IP;
// an Endpoints object is mirrored into an EndpointSlice), and an injection URL names it in the webhook.
export function addressesOf(services: Item[], slices: Item[], hooks: Item[]): string[] {
  const istiods = new Set(services.filter((s) => ISTIOD_SERVICE.test(s.metadata?.name ?? '')).map((s) => s.metadata?.name ?? ''));
  const external = services
    .filter((s) => istiods.has(s.metadata?.name ?? ''))
    .map((s) => (s.spec as { type?: string; externalName?: string } | undefined) ?? {})
    .flatMap((spec) => (spec.type === 'ExternalName' && spec.externalName ? [spec.externalName] : []));
  const endpoints = slices
    .filter((s) => istiods.has(s.metadata?.labels?.['kubernetes.io/service-name'] ?? ''))
    .flatMap((s) => s.endpoints ?? [])
    .flatMap((e) => e.addresses ?? []);
  const urls = hooks.flatMap((h) => h.webhooks ?? []).flatMap((w) => (w.clientConfig?.url ? [hostOf(w.clientConfig.url)] : []));
  return unique([...external, ...endpoints, ...urls.filter((u): u is string => Boolean(u))]);
}

// The fingerprint of a published root (root-cert.pem): SHA-256 of its first certificate's DER, as mesh-run
// writes it on the cacerts it creates. Text that is no certificate (a simulated cluster publishes a stand-in)
// is fingerprinted as text, so two equal roots still compare equal.
export function rootFingerprint(pem: string): string | undefined {
  const text = pem.trim();
  if (!text) return undefined;
  const first = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(text)?.[0];
  if (first) {
    try {
      new X509Certificate(first);
      return fingerprint(first);
    } catch {
      // not a certificate after all: fingerprinted as text below
    }
  }
  return createHash('sha256').update(text).digest('hex');
}
