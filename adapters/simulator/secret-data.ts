// How the simulator keeps Secret data: a real API server hands the values back on every read, so the
// simulator must too (that is how a step that reads a Secret would leak its token), yet no credential may
// reach the database. Service-account tokens are minted deterministically per simulated cluster and
// stored as references that reads turn back into the token; any other value is stored as a digest.
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

// The reader service account's token on one simulated cluster, as its API server would mint it.
// MESH_RUN_SIM_TOKEN pins it, so tests can search everything mesh-run writes for it.
export function serviceAccountToken(world: string, context: string): string {
  if (process.env.MESH_RUN_SIM_TOKEN) return process.env.MESH_RUN_SIM_TOKEN;
  const key = `${world}\0${context}`;
  let token = minted.get(key);
  if (token === undefined) {
    token = mint(world, context);
    minted.set(key, token);
  }
  return token;
}

// Tokens are derived, not stored: the same world and cluster always get the same one.
const minted = new Map<string, string>();

function mint(world: string, context: string): string {
  const b64 = (value: string | Buffer) => Buffer.from(value).toString('base64url');
  const seed = `${world}/${context}/istio-reader-service-account`;
  const header = b64(JSON.stringify({ alg: 'RS256', kid: hashBytes(`${seed}/kid`, 8).toString('hex') }));
  const payload = b64(
    JSON.stringify({
      iss: 'kubernetes/serviceaccount',
      sub: 'system:serviceaccount:istio-system:istio-reader-service-account',
      jti: hashBytes(`${seed}/jti`, 12).toString('hex'),
    }),
  );
  return `${header}.${payload}.${b64(hashBytes(`${seed}/sig`, 128))}`;
}

export type TokenTable = ReadonlyArray<readonly [context: string, token: string]>;

function digest(value: string): string {
  return `sha256:${createHash('sha256').update(value).digest('hex').slice(0, 16)}`;
}

function sealText(text: string, tokens: TokenTable): string | undefined {
  let out = text;
  for (const [context, token] of tokens) if (out.includes(token)) out = out.split(token).join(`«sim-token:${context}»`);
  return out === text ? undefined : out;
}

function unsealText(text: string, tokens: TokenTable): string {
  return text.replace(MARKER, (marker, context: string) => tokens.find(([c]) => c === context)?.[1] ?? marker);
}

// The form a Secret takes in the API server: stringData merged into data (base64).
export function normaliseSecret(obj: KubeObject): KubeObject {
  if (obj.kind !== 'Secret' || obj.stringData === undefined) return obj;
  const { stringData, ...rest } = obj;
  const data = { ...((obj.data as Record<string, string> | undefined) ?? {}) };
  for (const [k, v] of Object.entries((stringData as Record<string, unknown>) ?? {})) data[k] = Buffer.from(String(v)).toString('base64');
  return { ...rest, data };
}

// What the simulator stores for a Secret: tokens as references, any other value as a digest.
export function sealSecret(obj: KubeObject, tokens: TokenTable): KubeObject {
  if (obj.kind !== 'Secret') return obj;
  const out = normaliseSecret(obj);
  const data = out.data as Record<string, unknown> | undefined;
  if (data && typeof data === 'object') {
    out.data = Object.fromEntries(
      Object.entries(data).map(([k, v]) => {
        const text = String(v);
        if (text.startsWith(SEALED) || text.startsWith('sha256:')) return [k, text];
        const sealed = sealText(Buffer.from(text, 'base64').toString('utf8'), tokens);
        return [k, sealed === undefined ? digest(text) : `${SEALED}${Buffer.from(sealed).toString('base64')}`];
      }),
    );
  }
  const annotations = out.metadata.annotations;
  const lastApplied = annotations?.[LAST_APPLIED];
  if (annotations && lastApplied !== undefined) {
    const sealed = sealText(lastApplied, tokens);
    // A copy of data that is not a token (a CA key applied with kubectl apply) keeps only its digest.
    out.metadata = {
      ...out.metadata,
      annotations: { ...annotations, [LAST_APPLIED]: sealed ?? (/"data"|"stringData"/.test(lastApplied) ? digest(lastApplied) : lastApplied) },
    };
  }
  return out;
}

// A stored Secret as a read returns it: references turned back into the tokens they stand for.
export function unsealSecret(obj: KubeObject, tokens: TokenTable): KubeObject {
  if (obj.kind !== 'Secret') return obj;
  const out: KubeObject = { ...obj, metadata: { ...obj.metadata } };
  const data = obj.data as Record<string, string> | undefined;
  if (data && typeof data === 'object') {
    out.data = Object.fromEntries(
      Object.entries(data).map(([k, v]) => [
        k,
        v.startsWith(SEALED) ? Buffer.from(unsealText(Buffer.from(v.slice(SEALED.length), 'base64').toString('utf8'), tokens)).toString('base64') : v,
      ]),
    );
  }
  const lastApplied = obj.metadata.annotations?.[LAST_APPLIED];
  if (lastApplied !== undefined) out.metadata.annotations = { ...obj.metadata.annotations, [LAST_APPLIED]: unsealText(lastApplied, tokens) };
  return out;
}
