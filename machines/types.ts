// Context, input, event and actor I/O types of the machines. JSON-safe only: they are persisted.
import type { StepId } from './steps.js';

export interface ClusterRef {
  name: string;
  context: string;
}

// A step failure as stored in context and journal; steps throw this shape.
export interface StepFailure {
  message: string;
  hint?: string;
  retryable: boolean;
}

// What a machine decided from what it observed, when no step threw: the facts, which the engine words.
export type Verdict = { kind: 'gateway-hostname-only'; hostname: string; remotes: string[] } | { kind: 'gateway-no-address'; waitedMs: number };

// A failure as a machine keeps it: one a step threw, or a verdict.
export type MachineFailure = StepFailure | { verdict: Verdict; retryable: false };

// The last failure, kept in context so a restored run still knows where and why it stopped.
export interface FailureMemory {
  lastFailure?: MachineFailure & { step: StepId; cluster: string };
}

export interface InstallInput {
  runId: string;
  // A trust: section is configured: establish-trust runs before the control plane.
  trust?: boolean;
  meshID: string;
  network: string;
  revision?: string;
  primary: ClusterRef;
  remotes: ClusterRef[];
  gatewayTimeoutMs: number;
  // How often the gateway address is polled while waiting.
  gatewayPollMs: number;
}

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

export interface PrimaryStepInput extends StepInput {
  meshID: string;
  network: string;
  revision?: string;
  istioVersion?: string;
}

export interface RemoteStepInput extends StepInput {
  primary: ClusterRef;
  network: string;
  revision?: string;
  istioVersion?: string;
  discoveryAddress?: string;
}

export interface PreflightInput extends StepInput {
  clusters: ClusterRef[];
  // Install only: refuse remotes whose API server (as the remote secret would carry it) is a loopback address.
  checkRemoteServers?: boolean;
  // Install only: journal what exists before anything changes (uninstall keeps it).
  recordInventory?: boolean;
}

export interface InstallContext extends InstallInput, FailureMemory {
  istioVersion?: string;
  discoveryAddress?: string;
  gatewayDeadline?: number;
  gatewayObservation?: GatewayObservation | undefined;
  attachedRemotes: string[];
}

// RETRY carries the time it was sent and the gateway timeout in force, so the machine never reads a clock.
export type InstallEvent = { type: 'RETRY'; at: number; gatewayTimeoutMs: number } | { type: 'REMOTE_ATTACHED'; name: string };

export interface RemoteInput {
  runId: string;
  remote: ClusterRef;
  primary: ClusterRef;
  network: string;
  revision?: string;
  istioVersion?: string;
}

export interface RemoteContext extends RemoteInput, FailureMemory {
  discoveryAddress?: string;
  annotatedFor?: string;
}

export type RemoteEvent = { type: 'DISCOVERY_ADDRESS_READY'; address: string } | { type: 'RETRY'; at: number; gatewayTimeoutMs: number };

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

// ---- verify and uninstall: work per cluster, in child machines ----

export type ClusterRole = 'primary' | 'remote';

// Input of a step that runs on one cluster of a verify or uninstall run.
export interface ClusterStepInput extends StepInput {
  role: ClusterRole;
  primary: ClusterRef;
  remotes: ClusterRef[];
  revision?: string;
}

export interface FollowUpInput {
  runId: string;
  primary: ClusterRef;
  remotes: ClusterRef[];
  revision?: string;
}

export interface VerifyContext extends FollowUpInput, FailureMemory {
  samplesReady: string[];
  verified: string[];
}

export interface UninstallContext extends FollowUpInput, FailureMemory {
  removedRemotes: string[];
}

export interface ClusterChildInput extends FollowUpInput {
  cluster: ClusterRef;
  role: ClusterRole;
}

export interface ClusterChildContext extends ClusterChildInput, FailureMemory {
  peersReady: boolean;
}

// What check-traffic saw: the versions that answered and how many requests it took.
export interface TrafficOutcome {
  versions: Record<string, number>;
  requests: number;
  finishedAt: number;
}

export type FollowUpEvent =
  | { type: 'RETRY'; at: number; gatewayTimeoutMs: number }
  | { type: 'SAMPLE_READY'; name: string }
  | { type: 'CLUSTER_VERIFIED'; name: string }
  | { type: 'REMOTE_REMOVED'; name: string };

export type ClusterChildEvent = { type: 'RETRY'; at: number; gatewayTimeoutMs: number } | { type: 'PEERS_READY' };
