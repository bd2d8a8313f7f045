// What every step state shares: `running` invokes the step's actor and records its outcome, `failed` waits
// for RETRY; a polling step probes, judges what it saw, pauses and probes again. Pure data for
// createMachine, plus the journal actions every machine declares and the engine binds.
import { assign, type EventObject } from 'xstate';
import type { StepId } from './steps.js';
import { followUpPlan } from './topology.js';
import type {
  ClusterChildInput,
  ClusterRef,
  ClusterStepInput,
  FailureMemory,
  FollowUpInput,
  MachineFailure,
  PreflightInput,
  StepFailure,
  StepOutcomeParams,
  Verdict,
} from './types.js';

export type FailureParams = StepOutcomeParams & { failure: MachineFailure };

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

// What the step actor finished with, for the named actions of its success transition.
export function outputOf<T>(event: EventObject): T {
  return (event as { output?: T }).output as T;
}

// The journal actions of every machine: the engine binds the two record actions; rememberFailure keeps
// the failure in context, so a restored run still knows where and why it stopped.
export function journalActions<C extends FailureMemory, E extends EventObject>() {
  return {
    recordStepSucceeded: (_: unknown, _params: StepOutcomeParams) => {},
    recordStepFailed: (_: unknown, _params: StepOutcomeParams) => {},
    rememberFailure: assign<C, E, FailureParams, E, never>(
      (_, params) => ({ lastFailure: { ...params.failure, step: params.step, cluster: params.cluster } }) as Partial<C>,
    ),
  };
}

export const succeededOn = <C>(step: StepId, cluster: (context: C) => string) => ({
  type: 'recordStepSucceeded' as const,
  params: ({ context }: { context: C }): StepOutcomeParams => ({ step, cluster: cluster(context) }),
});

// `describe` turns what the actor threw (or what the context shows) into the failure recorded.
export const failedOn = <C>(
  step: StepId,
  cluster: (context: C) => string,
  describe: (context: C, error: unknown) => MachineFailure = (_, error) => failureOf(error),
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

interface StepSpec<C, S extends string, I, A extends string> {
  step: StepId;
  // The actor that does the step's work.
  src: S;
  cluster: (context: C) => string;
  input: (args: { context: C }) => I;
  target: string;
  // Named actions run after success is recorded (they read the actor's output with outputOf).
  onSuccess?: readonly A[];
}

// A step state: invoke `src` with `input`; on success record it, run `onSuccess` and go to `target`.
export function stepState<C, S extends string, I, const A extends string = never>(spec: StepSpec<C, S, I, A>) {
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

interface PollSpec<C, S extends string, I, A extends string, P extends string, PI, G extends string, R extends string, T extends string>
  extends StepSpec<C, S, I, A> {
  // Named action that keeps what the probe saw, for the guards to judge.
  remember: R;
  // The actor that waits between probes, and its input.
  pause: P;
  pauseInput: (args: { context: C }) => PI;
  // The guard that ends the wait in success; `target` and `onSuccess` apply to it.
  done: G;
  // Guards that end the wait in failure, each with the verdict it records.
  verdicts: ReadonlyArray<{ guard: G; verdict: (context: C) => Verdict }>;
  // Named actions a RETRY runs before probing again (a new deadline).
  onRetry: readonly T[];
}

// A step that waits for something to appear: probe, judge (done, a failing verdict, or not yet), pause, probe.
export function pollingStepState<
  C,
  S extends string,
  I,
  const A extends string,
  P extends string,
  PI,
  const G extends string,
  const R extends string,
  const T extends string,
>(spec: PollSpec<C, S, I, A, P, PI, G, R, T>) {
  return {
    meta: { step: spec.step },
    initial: 'probing' as const,
    states: {
      probing: {
        tags: ['busy'],
        invoke: {
          src: spec.src,
          input: spec.input,
          onDone: { target: 'judging', actions: [spec.remember] },
          onError: { target: 'failed', actions: failedOn<C>(spec.step, spec.cluster) },
        },
      },
      judging: {
        always: [
          { guard: spec.done, target: spec.target, actions: [...(spec.onSuccess ?? []), succeededOn<C>(spec.step, spec.cluster)] },
          ...spec.verdicts.map((v) => ({
            guard: v.guard,
            target: 'failed',
            actions: failedOn<C>(spec.step, spec.cluster, (context) => ({ verdict: v.verdict(context), retryable: false })),
          })),
          { target: 'waiting' },
        ],
      },
      waiting: { tags: ['busy'], invoke: { src: spec.pause, input: spec.pauseInput, onDone: 'probing' } },
      failed: { tags: ['failed'], on: { RETRY: { target: 'probing', actions: [...spec.onRetry] } } },
    },
  };
}

// The fields that have a value: optional inputs are left out, never set to undefined or ''.
export function withValues<T extends Record<string, string | undefined>>(fields: T): { [K in keyof T]?: string } {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined && v !== '')) as { [K in keyof T]?: string };
}

// The input of preflight, which spans every cluster ('*').
export function preflightInput(
  context: { runId: string; members: readonly ClusterRef[] },
  checks: Pick<PreflightInput, 'checkRemoteServers' | 'recordInventory' | 'inventoryOf'> = {},
): PreflightInput {
  const clusters = context.members.map((m) => ({ name: m.name, context: m.context }));
  return { runId: context.runId, step: 'preflight', cluster: '*', context: clusters[0]?.context ?? '', clusters, ...checks };
}

// The input of a verify or uninstall step on a cluster's child.
export function childStepInput(context: ClusterChildInput, step: StepId): ClusterStepInput {
  return {
    runId: context.runId,
    step,
    cluster: context.cluster.name,
    context: context.cluster.context,
    role: context.cluster.role,
    ...withValues({ revision: context.revision }),
    ...context.step,
  };
}

// Each member's child input of a verify or uninstall run, from the mesh's shape.
export function childInputs(input: FollowUpInput): ClusterChildInput[] {
  const shape = { members: input.members };
  const detachers = input.members.filter((m) => followUpPlan(shape, m.name).holders.length > 0).map((m) => m.name);
  // A primary waits for the remotes its istiod serves (uninstalling it first would strand them).
  const remotesOf = (primary: string) => input.members.filter((m) => m.role === 'remote' && m.controlPlane === primary).map((m) => m.name);
  return input.members.map((m) => ({
    runId: input.runId,
    ...withValues({ revision: input.revision }),
    cluster: { name: m.name, context: m.context, role: m.role, network: m.network },
    step: followUpPlan(shape, m.name),
    detachers,
    remotes: m.role === 'primary' ? remotesOf(m.name) : [],
  }));
}
