// How the simulator keeps Secret data: a real API server hands the values back on every read, so the
// simulator must too (that is how a step that reads a Secret would leak its token), yet no credential may
// reach the database. Service-account tokens are minted deterministically per simulated cluster and
// stored as references that reads turn back into the token; certificates (public) are kept as PEM text; any
// other value is stored as a digest.
import { createHash } from 'node:crypto';
import type { KubeObject } from './objects.js';

export const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';
const MARKER = /«sim-token:([^»]+)»/g;
const SEALED = 'sim-sealed:';

function hashBytes(seed: string, length: number): Buffer {
  const chunks: Buffer[] = [];
  for (let i = 0; i * 32 < length; i++) chunks.push(createHash('sha256').update(`${seed}#${i}`).digest());
  return Buffer.concat(chunks).subarray(0, length);
}

// The token secret istioctl create-remote-secret makes for the reader service account (Kubernetes >= 1.24).
export const READER_TOKEN_SECRET = 'istio-reader-service-account-istio-remote-secret-token';
const SECRET_CLAIM = 'kubernetes.io/serviceaccount/secret.name';
const CONTEXT_CLAIM = 'sim.mesh-run/context';

// The token a simulated cluster's token controller puts into a service-account token secret: derived from
// the world, the cluster and the secret's name, so each secret has its own token (and deleting the secret
// revokes it). MESH_RUN_SIM_TOKEN pins the first one (istioctl's), so tests can search everything mesh-run
// writes for it; the others are derived from it, and tests compute them with this same function.
export function serviceAccountToken(world: string, context: string, secret = READER_TOKEN_SECRET): string {
  const pinned = process.env.MESH_RUN_SIM_TOKEN;
  if (pinned && secret === READER_TOKEN_SECRET) return pinned;
  const key = `${pinned ?? world}\0${context}\0${secret}`;
  let token = minted.get(key);
  if (token === undefined) {
    token = mint(pinned ?? world, context, secret);
    minted.set(key, token);
  }
  return token;
}

// Tokens are derived, not stored: the same world, cluster and secret always get the same one.
const minted = new Map<string, string>();

function mint(world: string, context: string, secret: string): string {
  const b64 = (value: string | Buffer) => Buffer.from(value).toString('base64url');
  // istioctl's secret keeps the seed tokens had before there were others (stored worlds stay readable).
  const seed = secret === READER_TOKEN_SECRET ? `${world}/${context}/istio-reader-service-account` : `${world}/${context}/${secret}`;
  const header = b64(JSON.stringify({ alg: 'RS256', kid: hashBytes(`${seed}/kid`, 8).toString('hex') }));
  const payload = b64(
    JSON.stringify({
      iss: 'kubernetes/serviceaccount',
      sub: 'system:serviceaccount:istio-system:istio-reader-service-account',
      jti: hashBytes(`${seed}/jti`, 12).toString('hex'),
      ...(secret === READER_TOKEN_SECRET ? {} : { [SECRET_CLAIM]: secret, [CONTEXT_CLAIM]: context }),
    }),
  );
  return `${header}.${payload}.${b64(hashBytes(`${seed}/sig`, 128))}`;
}

// Which cluster and token secret a token came from: istioctl's tokens by the table, others by their claims
// (checked against what the world would mint). Undefined for a token no simulated cluster minted.
export function tokenOrigin(world: string, token: string, tokens: TokenTable): { context: string; secret: string } | undefined {
  const known = tokens.find(([, t]) => t === token);
  if (known) return { context: known[0], secret: READER_TOKEN_SECRET };
  const claims = claimsOf(token);
  const context = claims?.[CONTEXT_CLAIM];
  const secret = claims?.[SECRET_CLAIM];
  if (typeof context !== 'string' || typeof secret !== 'string') return undefined;
  return serviceAccountToken(world, context, secret) === token ? { context, secret } : undefined;
}

function claimsOf(token: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

export type TokenTable = ReadonlyArray<readonly [context: string, token: string]>;

function digest(value: string): string {
  return `sha256:${createHash('sha256').update(value).digest('hex').slice(0, 16)}`;
}

// A value that is nothing but PEM certificates (ca-cert.pem, root-cert.pem, cert-chain.pem), and how it is
// stored: its PEM text, as istio-ca-root-cert holds it. Not base64 of it: base64 twice over, the istiod SAN's
// "istio-system" can line up with the same words in a token's claims, and the leak scans would see a token.
const CERTIFICATES = 'sim-pem:';
const CERTIFICATES_ONLY = /^\s*(?:-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+-----END CERTIFICATE-----\s*)+$/;

const JWT = /[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g;

// Tokens become references: «sim-token:<context>» for istioctl's, «sim-token:<context>#<secret, hex>» for
// others. The secret's name goes in hex: in words it would repeat a token's claims (its account's name), which
// the leak scans would then find wherever the reference is stored base64-encoded.
function sealText(text: string, tokens: TokenTable, world: string): string | undefined {
  let out = text;
  for (const [context, token] of tokens) if (out.includes(token)) out = out.split(token).join(`«sim-token:${context}»`);
  out = out.replace(JWT, (candidate) => {
    const origin = tokenOrigin(world, candidate, []);
    return origin ? `«sim-token:${origin.context}#${Buffer.from(origin.secret).toString('hex')}»` : candidate;
  });
  return out === text ? undefined : out;
}

function unsealText(text: string, tokens: TokenTable, world: string): string {
  return text.replace(MARKER, (marker, ref: string) => {
    const [context = '', secret] = ref.split('#');
    return secret ? serviceAccountToken(world, context, Buffer.from(secret, 'hex').toString('utf8')) : (tokens.find(([c]) => c === context)?.[1] ?? marker);
  });
}

// The form a Secret takes in the API server: stringData merged into data (base64).
export function normaliseSecret(obj: KubeObject): KubeObject {
  if (obj.kind !== 'Secret' || obj.stringData === undefined) return obj;
  const { stringData, ...rest } = obj;
  const data = { ...((obj.data as Record<string, string> | undefined) ?? {}) };
  for (const [k, v] of Object.entries((stringData as Record<string, unknown>) ?? {})) data[k] = Buffer.from(String(v)).toString('base64');
  return { ...rest, data };
}

// What the simulator stores for a Secret: tokens as references, certificates as their PEM text, any other
// value as a digest.
export function sealSecret(obj: KubeObject, tokens: TokenTable, world: string): KubeObject {
  if (obj.kind !== 'Secret') return obj;
  const out = normaliseSecret(obj);
  const data = out.data as Record<string, unknown> | undefined;
  if (data && typeof data === 'object') {
    out.data = Object.fromEntries(
      Object.entries(data).map(([k, v]) => {
        const text = String(v);
        if (text.startsWith(SEALED) || text.startsWith(CERTIFICATES) || text.startsWith('sha256:')) return [k, text];
        const decoded = Buffer.from(text, 'base64').toString('utf8');
        // Certificates are public (istiod publishes its root in every namespace): kept, so what reads them
        // (trust audit) sees real subjects and dates. A key beside them is still kept as a digest only.
        if (CERTIFICATES_ONLY.test(decoded)) return [k, `${CERTIFICATES}${decoded}`];
        const sealed = sealText(decoded, tokens, world);
        return [k, sealed === undefined ? digest(text) : `${SEALED}${Buffer.from(sealed).toString('base64')}`];
      }),
    );
  }
  const annotations = out.metadata.annotations;
  const lastApplied = annotations?.[LAST_APPLIED];
  if (annotations && lastApplied !== undefined) {
    const sealed = sealText(lastApplied, tokens, world);
    // A copy of data that is not a token (a CA key applied with kubectl apply) keeps only its digest.
    out.metadata = {
      ...out.metadata,
      annotations: { ...annotations, [LAST_APPLIED]: sealed ?? (/"data"|"stringData"/.test(lastApplied) ? digest(lastApplied) : lastApplied) },
    };
  }
  return out;
}

// A stored Secret as a read returns it: references turned back into the tokens they stand for.
export function unsealSecret(obj: KubeObject, tokens: TokenTable, world: string): KubeObject {
  if (obj.kind !== 'Secret') return obj;
  const out: KubeObject = { ...obj, metadata: { ...obj.metadata } };
  const data = obj.data as Record<string, string> | undefined;
  if (data && typeof data === 'object') {
    out.data = Object.fromEntries(
      Object.entries(data).map(([k, v]) => [
        k,
        v.startsWith(SEALED)
          ? Buffer.from(unsealText(Buffer.from(v.slice(SEALED.length), 'base64').toString('utf8'), tokens, world)).toString('base64')
          : v.startsWith(CERTIFICATES)
            ? Buffer.from(v.slice(CERTIFICATES.length)).toString('base64')
            : v,
      ]),
    );
  }
  const lastApplied = obj.metadata.annotations?.[LAST_APPLIED];
  if (lastApplied !== undefined) out.metadata.annotations = { ...obj.metadata.annotations, [LAST_APPLIED]: unsealText(lastApplied, tokens, world) };
  return out;
}
