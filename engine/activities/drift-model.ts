// What a drift check says: its kinds, its items, what it compares against (drift.ts and drift-links.ts compute it).
import type { MeshShape } from '../../machines/topology.js';
import type { MeshConfig } from '../../shared/model.js';
import type { JournaledCacerts } from './cacerts-journal.js';
import type { DriftFacts } from './drift-reads.js';

// Every kind of drift, in the order a report lists them (a later repair takes them as --only).
export const DRIFT_KINDS = [
  'istio-missing',
  'revision',
  'istiod-identity',
  'network-label',
  'control-plane-annotation',
  'default-tag',
  'remote-secret-missing',
  'remote-secret-stale',
  'remote-secret-server',
  'remote-secret-token',
  'istiod-unsynced',
  'injector-ca-empty',
  'east-west-gateway',
  'gateway-address',
  'expose-istiod',
  'expose-services',
  'cacerts-missing',
  'cacerts-changed',
  'roots-differ',
  'intermediate-expiring',
] as const;
export type DriftKind = (typeof DRIFT_KINDS)[number];

export interface DriftItem {
  kind: DriftKind;
  // Where the object to put back lives.
  cluster: string;
  // A remote secret's drift: the member whose secret it is, and the secret's name (what a repair needs).
  source?: string;
  secret?: string;
  what: string;
  why: string;
  repair: string;
  // 'warning': nothing differs from the journal yet, but it will break (an intermediate about to expire).
  // Absent: drift.
  severity?: 'warning';
}

// What the journal says the mesh is: its membership config, and what its runs saw.
export interface DriftExpectation {
  config: MeshConfig;
  // Primaries whose cacerts the journal saw (a trust: section, or cacerts there before mesh-run and kept).
  cacerts: ReadonlySet<string>;
  // What the journal says each primary's cacerts carries (cacerts-journal.ts). Absent: nothing known.
  certs?: ReadonlyMap<string, JournaledCacerts>;
  // The clock expiry is judged by (default: now).
  now?: number;
}

export interface UnreadCluster {
  cluster: string;
  context: string;
  error: string;
}

export interface DriftResult {
  items: DriftItem[];
  // Clusters not read, or read in part: their checks are incomplete.
  unreadable: UnreadCluster[];
}

// What every check is given.
export interface DriftContext {
  config: MeshConfig;
  shape: MeshShape;
  revision: string;
  cacerts: ReadonlySet<string>;
  certs: ReadonlyMap<string, JournaledCacerts>;
  now: number;
  // The readable clusters' facts, by name.
  facts: Map<string, DriftFacts>;
  items: DriftItem[];
}

// The name of the mesh's istiod Deployment.
export const istiodOf = (ctx: Pick<DriftContext, 'revision'>) => (ctx.revision === 'default' ? 'istiod' : `istiod-${ctx.revision}`);
