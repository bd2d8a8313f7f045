// A run kind's machine bound to its step activities, and the pieces the kinds share to bind theirs: the
// install's two children (a cluster add spawns them too) and the inputs built from a run's recorded config.
import { type AnyStateMachine, fromPromise } from 'xstate';
import { DEFAULT_GATEWAY_POLL_MS, primaryMachine, remoteMachine } from '../../machines/install-machine.js';
import type { RunKind, StepId } from '../../machines/steps.js';
import type { FollowUpInput, InstallInput, StepInput, StepOutcomeParams, UpgradeInput } from '../../machines/types.js';
import type { MeshConfig } from '../../shared/model.js';
import { sleep } from '../../shared/sleep.js';
import type { ActivityDeps } from '../activities/install.js';
import * as install from '../activities/install.js';
import type { StepRuntime } from '../activities/step-runtime.js';
import { establishTrust } from '../activities/trust/trust-activity.js';
import { membersOf } from '../config/mesh-shape.js';

export type Activity<I, O> = (rt: StepRuntime, input: I, deps: ActivityDeps) => Promise<O>;

// Turns an activity into a promise actor that runs it as a journaled, retried step.
export type StepBinder = <I extends StepInput, O>(activity: Activity<I, O>) => ReturnType<typeof fromPromise<O, I>>;

export interface JournalActions {
  recordStepSucceeded: (_: unknown, params: StepOutcomeParams) => void;
  recordStepFailed: (_: unknown, params: StepOutcomeParams) => void;
}

export interface Workflow {
  kind: RunKind;
  // Bumped when a change makes older persisted snapshots of this kind unsafe to restore.
  version: number;
  // The pure machine, for graphs and reports.
  machine: AnyStateMachine;
  // The child machines it spawns, the state each is spawned in, and what one child stands for (graphs).
  children: Array<{ machine: AnyStateMachine; spawnedIn: string; label: string }>;
  bind(step: StepBinder, journal: JournalActions): AnyStateMachine;
  input(runId: string, config: MeshConfig, gatewayPollMs: number): unknown;
}

export function installInput(runId: string, config: MeshConfig, gatewayPollMs = DEFAULT_GATEWAY_POLL_MS): InstallInput {
  return {
    gatewayPollMs,
    runId,
    meshID: config.meshID,
    ...(config.revision ? { revision: config.revision } : {}),
    ...(config.trust ? { trust: true } : {}),
    members: membersOf(config),
    gatewayTimeoutMs: config.timeouts.gatewayAddressMs,
  };
}

export function followUpInput(runId: string, config: MeshConfig): FollowUpInput {
  return { runId, members: membersOf(config), ...(config.revision ? { revision: config.revision } : {}) };
}

// An upgrade's or rollback's input: the revisions, as the run recorded them.
export function upgradeInput(runId: string, config: MeshConfig): UpgradeInput {
  const spec = config.upgrade;
  if (!spec) throw new Error('an upgrade run without its upgrade: section');
  return {
    runId,
    meshID: config.meshID,
    from: spec.from,
    to: spec.to,
    members: membersOf(config),
    keepOld: spec.keepOld,
    gateTimeoutMs: spec.gateTimeoutMs,
  };
}

// The cluster a cluster add or remove is about, as its run recorded it.
export function subjectOf(config: MeshConfig): string {
  if (!config.subject) throw new Error('a cluster-add or cluster-remove run without the cluster it is about');
  return config.subject;
}

export const pause = fromPromise<void, { ms: number; step: StepId; cluster: string }>(({ input, signal }) => sleep(input.ms, signal));

// The install's two kinds of child with their step activities (a cluster add spawns them too).
export function boundMembers(step: StepBinder, journal: JournalActions) {
  const shared = {
    installEastwestGateway: step(install.installEastwestGateway),
    probeGatewayAddress: step(install.probeGatewayAddress),
    labelNetwork: step(install.labelNetwork),
    exchangeSecret: step(install.exchangeSecret),
    pause,
  };
  const primary = primaryMachine.provide({
    actors: {
      ...shared,
      establishTrust: step(establishTrust),
      installPrimary: step(install.installPrimary),
      exposeIstiod: step(install.exposeIstiodStep),
      exposeServices: step(install.exposeServicesStep),
    },
    actions: journal,
  });
  const remote = remoteMachine.provide({
    actors: {
      ...shared,
      createRemoteNamespace: step(install.createRemoteNamespace),
      annotateRemoteNamespace: step(install.annotateRemoteNamespace),
      installRemote: step(install.installRemote),
      attachRemote: step(install.attachRemote),
    },
    actions: journal,
  });
  return { primary, remote };
}
