// The shape every step state shares: `running` invokes the step's actor, `failed` waits for RETRY.
// Pure data for createMachine; the journal actions it names are bound by the engine.
import type { EventObject } from 'xstate';
import type { StepId } from './steps.js';
import type { ClusterRef, ClusterRole, ClusterStepInput, FollowUpInput, StepFailure, StepOutcomeParams } from './types.js';

export type FailureParams = StepOutcomeParams & { failure: StepFailure };

// The failure a step actor rejected with: the engine rejects with the JSON-safe StepFailure it journals.
export function failureOf(error: unknown): StepFailure {
  const failure = error as Partial<StepFailure> | undefined;
  if (typeof failure?.message === 'string' && typeof failure.retryable === 'boolean') {
    return { message: failure.message, retryable: failure.retryable, ...(failure.hint ? { hint: failure.hint } : {}) };
  }
  return { message: String(error), retryable: false };
}

export function errorOf(event: EventObject): unknown {
  return (event as { error?: unknown }).error;
}

export const succeededOn = <C>(step: StepId, cluster: (context: C) => string) => ({
  type: 'recordStepSucceeded' as const,
  params: ({ context }: { context: C }): StepOutcomeParams => ({ step, cluster: cluster(context) }),
});

// `describe` turns what the actor threw (or what the context shows) into the failure recorded.
export const failedOn = <C>(
  step: StepId,
  cluster: (context: C) => string,
  describe: (context: C, error: unknown) => StepFailure = (_, error) => failureOf(error),
) => {
  const params = ({ context, event }: { context: C; event: EventObject }): FailureParams => ({
    step,
    cluster: cluster(context),
    failure: describe(context, errorOf(event)),
  });
  return [
    { type: 'rememberFailure' as const, params },
    { type: 'recordStepFailed' as const, params },
  ];
};

// A step state: invoke `src` with `input`; on success record it, run `onSuccess` and go to `target`.
export function stepState<C, S extends string, I, const A extends string = never>(spec: {
  step: StepId;
  src: S;
  cluster: (context: C) => string;
  input: (args: { context: C }) => I;
  target: string;
  onSuccess?: readonly A[];
}) {
  return {
    meta: { step: spec.step },
    initial: 'running' as const,
    states: {
      running: {
        tags: ['busy'],
        invoke: {
          src: spec.src,
          input: spec.input,
          onDone: { target: spec.target, actions: [succeededOn<C>(spec.step, spec.cluster), ...(spec.onSuccess ?? [])] },
          onError: { target: 'failed', actions: failedOn<C>(spec.step, spec.cluster) },
        },
      },
      failed: { tags: ['failed'], on: { RETRY: 'running' } },
    },
  };
}

// The input of a verify or uninstall step on one cluster (a child's own, or the primary for the parent).
export function clusterStepInput(context: FollowUpInput, step: StepId, cluster: ClusterRef, role: ClusterRole): ClusterStepInput {
  return {
    runId: context.runId,
    step,
    cluster: cluster.name,
    context: cluster.context,
    role,
    primary: context.primary,
    remotes: context.remotes,
    ...(context.revision ? { revision: context.revision } : {}),
  };
}
