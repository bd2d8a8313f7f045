// Context, input, event and actor I/O types of the machines. JSON-safe only: they are persisted.

import type { StepFailure } from '../shared/errors.js';
import type { ClusterRef, ClusterRole, MeshCluster } from '../shared/model.js';
import type { StepId } from './steps.js';

export type { StepFailure } from '../shared/errors.js';
export type { ClusterRef, ClusterRole, MeshCluster } from '../shared/model.js';

// A cluster with what the flows need of it: its role and its network.
export type MemberRef = Pick<MeshCluster, 'name' | 'context' | 'role' | 'network'>;

// What a machine decided from what it observed, when no step threw: the facts, which the engine words.
export type Verdict =
  | { kind: 'gateway-hostname-only'; cluster: string; hostname: string; remotes: string[] }
  | { kind: 'gateway-no-address'; cluster: string; waitedMs: number };

// A failure as a machine keeps it: one a step threw, or a verdict.
export type MachineFailure = StepFailure | { verdict: Verdict; retryable: false };

// The last failure, kept in context so a restored run still knows where and why it stopped.
export interface FailureMemory {
  lastFailure?: MachineFailure & { step: StepId; cluster: string };
}

// RETRY carries the time it was sent and the gateway timeout in force, so no machine ever reads a clock.
export type RetryEvent = { type: 'RETRY'; at: number; gatewayTimeoutMs: number };

// ---- install: a parent over one child per cluster ----

export interface InstallInput {
  runId: string;
  meshID: string;
  revision?: string;
  // A trust: section is configured: establish-trust runs on every primary before its control plane.
  trust?: boolean;
  members: MeshCluster[];
  gatewayTimeoutMs: number;
  // How often a gateway address is polled while waiting.
  gatewayPollMs: number;
}

export interface InstallContext extends InstallInput, FailureMemory {
  istioVersion?: string;
  // Primaries whose control plane is up (other clusters wait on them to exchange secrets).
  primariesInstalled: string[];
  // Each primary's discovery address, once its gateway has one (its remotes point at it).
  addresses: Record<string, string>;
  // Clusters whose child finished.
  finished: string[];
}

export type InstallEvent =
  | RetryEvent
  | { type: 'PRIMARY_INSTALLED'; name: string }
  | { type: 'DISCOVERY_ADDRESS_READY'; primary: string; address: string }
  | { type: 'MEMBER_DONE'; name: string };

// What one cluster does in this mesh, decided by the parent from the mesh's shape (machines/topology.ts).
export interface MemberPlan {
  labelsNetwork: boolean;
  establishesTrust: boolean;
  needsGateway: boolean;
  exposesIstiod: boolean;
  exposesServices: boolean;
  // The primaries this cluster's secret goes to beyond its own control plane (exchange-secret).
  exchangeTargets: ClusterRef[];
  // The other primaries of the mesh (exchange-secret waits for their control planes).
  otherPrimaries: string[];
  // A primary's remotes (a hostname-only gateway strands them).
  remotes: string[];
}

// One cluster's child of the install: the same input for a primary and for a remote.
export interface MemberInput {
  runId: string;
  meshID: string;
  revision?: string;
  istioVersion?: string;
  cluster: MemberRef;
  // A remote: the primary that serves it.
  controlPlane?: MemberRef;
  plan: MemberPlan;
  gatewayTimeoutMs: number;
  gatewayPollMs: number;
  // A cluster joining an installed mesh: the primaries already running, and its primary's address.
  primariesInstalled?: string[];
  discoveryAddress?: string;
}

export interface MemberContext extends MemberInput, FailureMemory {
  primariesInstalled: string[];
  // A remote: its primary's discovery address, once known.
  discoveryAddress?: string;
  // A remote: the control plane its istio-system was seen annotated with.
  annotatedFor?: string;
  // This cluster's gateway wait.
  gatewayDeadline?: number;
  gatewayObservation?: GatewayObservation | undefined;
}

export type MemberEvent = RetryEvent | { type: 'PRIMARY_INSTALLED'; name: string } | { type: 'DISCOVERY_ADDRESS_READY'; address: string };

export interface PreflightOutput {
  istioVersion: string;
  finishedAt: number;
}

export interface StepDone {
  finishedAt: number;
}

export interface GatewayObservation {
  ip?: string;
  hostname?: string;
  observedAt: number;
}

export interface AnnotationObservation {
  controlPlaneClusters: string | null;
  finishedAt: number;
}

// Input every step actor receives: which step, on which cluster and context.
export interface StepInput {
  runId: string;
  step: StepId;
  cluster: string;
  context: string;
}

// A step of the install on one cluster: the mesh's identity and this cluster's place in it.
export interface MemberStepInput extends StepInput {
  meshID: string;
  network: string;
  revision?: string;
  istioVersion?: string;
}

export interface PrimaryStepInput extends MemberStepInput {
  // A primary with remotes runs an external istiod (it serves clusters beyond its own).
  external: boolean;
}

export interface RemoteStepInput extends MemberStepInput {
  primary: ClusterRef;
  discoveryAddress?: string;
}

// exchange-secret: this cluster's remote secret, applied on each of these primaries.
export interface ExchangeStepInput extends MemberStepInput {
  holders: ClusterRef[];
}

export interface PreflightInput extends StepInput {
  clusters: ClusterRef[];
  // Install only: refuse clusters whose API server (as the remote secret would carry it) is a loopback address.
  checkRemoteServers?: boolean;
  // Install only: journal what exists before anything changes (uninstall keeps it).
  recordInventory?: boolean;
  // With recordInventory: only these clusters (a cluster add records the joining cluster's alone).
  inventoryOf?: string[];
}

// The parameters of the journal actions a transition fires.
export interface StepOutcomeParams {
  step: StepId;
  cluster: string;
  failure?: MachineFailure;
}

// ---- install: the optional trust step ----

export interface TrustOutcome {
  fingerprint: string;
  finishedAt: number;
}

// ---- verify and uninstall: a parent over one child per cluster ----

// Input of a step that runs on one cluster of a verify or uninstall run.
export interface ClusterStepInput extends StepInput {
  role: ClusterRole;
  revision?: string;
  // A remote: the primary that serves it.
  primary?: ClusterRef;
  // A primary: the clusters its istiod must report synced.
  watches: ClusterRef[];
  // The primaries holding this cluster's remote secret.
  holders: ClusterRef[];
  // The helloworld version this cluster runs, and the versions every cluster must reach.
  sampleVersion: 'v1' | 'v2';
  versions: Array<'v1' | 'v2'>;
}

export interface FollowUpInput {
  runId: string;
  revision?: string;
  members: MeshCluster[];
}

export interface VerifyContext extends FollowUpInput, FailureMemory {
  samplesReady: string[];
  verified: string[];
}

export interface UninstallContext extends FollowUpInput, FailureMemory {
  detached: string[];
  removedRemotes: string[];
  finished: string[];
}

// One cluster's child of a verify or uninstall run.
export interface ClusterChildInput {
  runId: string;
  revision?: string;
  cluster: MemberRef;
  step: Omit<ClusterStepInput, 'step' | 'runId' | 'cluster' | 'context' | 'role' | 'revision'>;
  // Uninstall: clusters whose secrets must be gone (everywhere) before any Istio is removed; the remotes of
  // a primary's own remotes, which go before it.
  detachers: string[];
  remotes: string[];
}

export interface ClusterChildContext extends ClusterChildInput, FailureMemory {
  peersReady: boolean;
  detached: string[];
  removedRemotes: string[];
}

// What check-traffic saw: the versions that answered and how many requests it took.
export interface TrafficOutcome {
  versions: Record<string, number>;
  requests: number;
  finishedAt: number;
}

export type FollowUpEvent =
  | RetryEvent
  | { type: 'SAMPLE_READY'; name: string }
  | { type: 'CLUSTER_VERIFIED'; name: string }
  | { type: 'DETACHED'; name: string }
  | { type: 'REMOTE_REMOVED'; name: string }
  | { type: 'MEMBER_DONE'; name: string };

export type ClusterChildEvent = RetryEvent | { type: 'PEERS_READY' } | { type: 'DETACHED'; name: string } | { type: 'REMOTE_REMOVED'; name: string };

// ---- day 2: one cluster joins (cluster-add) or leaves (cluster-remove) an installed mesh ----

// The grown mesh's members, and the one joining.
export interface JoinInput extends InstallInput {
  subject: string;
}

export interface JoinContext extends JoinInput, FailureMemory {
  istioVersion?: string;
  // A joining remote: its primary's east-west gateway address, read before its child starts.
  discoveryAddress?: string;
  finished: string[];
}

export interface DiscoveryAddress {
  address: string;
  finishedAt: number;
}

// receive-secrets: the secrets of `sources` applied on this (joining) primary.
export interface ReceiveStepInput extends MemberStepInput {
  sources: ClusterRef[];
}

// The mesh as it stands, and the member leaving it.
export interface LeaveInput extends FollowUpInput {
  subject: string;
}

export interface LeaveContext extends LeaveInput, FailureMemory {}

// release-secrets: the secrets of `sources` deleted from this (leaving) primary.
export interface ReleaseStepInput extends ClusterStepInput {
  sources: ClusterRef[];
}

// ---- secrets rotate: per cluster whose secret primaries hold, a new token swapped in, the old one revoked ----

export interface RotateInput {
  runId: string;
  revision?: string;
  members: MeshCluster[];
  // Only this cluster's secret (absent: every cluster's).
  subject?: string;
  // How long the gate waits for every holding istiod to report the cluster synced.
  syncTimeoutMs: number;
}

export interface RotateContext extends RotateInput, FailureMemory {
  finished: string[];
}

export type RotateEvent = RetryEvent | { type: 'MEMBER_DONE'; name: string };

// What mint-token made and found: the new token's secret, and the token secrets the holders used until now.
// Fingerprints only (a hash prefix of each token): the tokens never leave the step's memory.
export interface MintedToken {
  secret: string;
  fingerprint: string;
  previous: Array<{ secret: string; fingerprint: string }>;
  finishedAt: number;
}

export interface RotationChildInput {
  runId: string;
  revision?: string;
  cluster: ClusterRef;
  holders: ClusterRef[];
  syncTimeoutMs: number;
}

export interface RotationChildContext extends RotationChildInput, FailureMemory {
  minted?: MintedToken;
}

export interface RotationStepInput extends StepInput {
  revision?: string;
  holders: ClusterRef[];
  syncTimeoutMs: number;
  minted?: MintedToken;
}

// ---- upgrade: a canary upgrade, phase by phase, cluster by cluster, wave by wave; and its rollback ----

export interface UpgradeInput {
  runId: string;
  meshID: string;
  // The revision the mesh runs now, and the one it moves to.
  from: string;
  to: string;
  members: MeshCluster[];
  // The upgrade keeps the old revision installed at the end.
  keepOld: boolean;
  gateTimeoutMs: number;
}

// One namespace a wave moves: where it is, and its labels before the upgrade touched it.
export interface WaveNamespace {
  cluster: string;
  context: string;
  namespace: string;
}

export interface UpgradeContext extends UpgradeInput, FailureMemory {
  // Where the current phase is in its list of clusters (or of waves).
  cursor: number;
  // The data-plane waves, as select-namespaces cut them.
  waves: WaveNamespace[][];
}

export type UpgradeEvent = RetryEvent;

// Input of every upgrade and rollback step: the mesh's revisions, this cluster's place, and for the
// mesh-wide steps every member; a wave step its namespaces.
export interface UpgradeStepInput extends StepInput {
  meshID: string;
  from: string;
  to: string;
  members: MeshCluster[];
  gateTimeoutMs: number;
  member?: MeshCluster;
  // A primary with remotes runs an external istiod.
  external?: boolean;
  discoveryAddress?: string;
  wave?: WaveNamespace[];
}

export interface WavePlan {
  waves: WaveNamespace[][];
  finishedAt: number;
}

export interface UpgradeAddress {
  address: string;
  finishedAt: number;
}

export interface RollbackInput extends UpgradeInput {}

export interface RollbackContext extends RollbackInput, FailureMemory {
  cursor: number;
}
