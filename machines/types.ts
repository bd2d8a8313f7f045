// Context, input, event and actor I/O types of the install machine. JSON-safe only: they are persisted.
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

export interface InstallInput {
  runId: string;
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
}

export interface InstallContext extends InstallInput {
  istioVersion?: string;
  discoveryAddress?: string;
  gatewayDeadline?: number;
  gatewayObservation?: GatewayObservation | undefined;
  attachedRemotes: string[];
  lastFailure?: StepFailure & { step: StepId; cluster: string };
}

// RETRY carries the time it was sent and the gateway timeout in force, so the machine never reads a clock.
export type InstallEvent =
  | { type: 'RETRY'; at: number; gatewayTimeoutMs: number }
  | { type: 'REMOTE_ATTACHED'; name: string };

export interface RemoteInput {
  runId: string;
  remote: ClusterRef;
  primary: ClusterRef;
  network: string;
  revision?: string;
  istioVersion?: string;
}

export interface RemoteContext extends RemoteInput {
  discoveryAddress?: string;
  annotatedFor?: string;
  lastFailure?: StepFailure & { step: StepId; cluster: string };
}

export type RemoteEvent =
  | { type: 'DISCOVERY_ADDRESS_READY'; address: string }
  | { type: 'RETRY'; at: number; gatewayTimeoutMs: number };

// The parameters of the journal actions a transition fires.
export interface StepOutcomeParams {
  step: StepId;
  cluster: string;
  failure?: StepFailure;
}
