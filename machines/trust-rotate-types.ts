// The types of trust rotate's machine (machines/trust-rotate-machine.ts), apart from the other kinds' in types.ts.
import type { FailureMemory, MeshCluster, RetryEvent, StepInput } from './types.js';

// What mint-intermediate made (or found staged by an earlier attempt): public facts only. The key stays in the
// mesh's trust directory; later steps find the bundle there by this fingerprint.
export interface MintedIntermediate {
  // SHA-256 of ca-cert.pem's DER, lowercase hex (the value of cacerts' mesh-run.io/ca-fingerprint annotation).
  fingerprint: string;
  // ca-cert.pem's notAfter, ISO 8601: what istiod reports once it signs with it.
  notAfter: string;
  // The root it chains to (unchanged by the rotation).
  rootFingerprint: string;
  finishedAt: number;
}

export interface TrustRotateInput {
  runId: string;
  revision?: string;
  members: MeshCluster[];
  // How long the gate waits for istiod to serve the new chain.
  gateTimeoutMs: number;
}

export interface TrustRotateContext extends TrustRotateInput, FailureMemory {
  // Which primary is being rotated (an index into the mesh's primaries, in the config's order).
  cursor: number;
  // The current primary's new intermediate, once minted (cleared when the next primary begins).
  minted?: MintedIntermediate | undefined;
}

export type TrustRotateEvent = RetryEvent;

export interface TrustRotateStepInput extends StepInput {
  revision?: string;
  gateTimeoutMs: number;
  minted?: MintedIntermediate;
}
