// Rotating the remote secrets' tokens as one XState machine: per cluster whose secret primaries hold, a new
// token for its reader service account, the remote secret replaced on every holder (same name, so istiod
// swaps the credentials it reads that cluster with), a gate on every holding istiod reporting the cluster
// synced, and only then the old token revoked and seen refused. There is no moment when istiod lacks a
// working token: the old one stays valid until the new one is in use. Pure: actors and journal actions are
// placeholders bound by the engine.
import { assign, enqueueActions, sendParent, setup } from 'xstate';
import { placeholder } from './placeholders.js';
import { journalActions, outputOf, preflightInput, stepState, withValues } from './step-state.js';
import { primariesOf, secretHoldersOf } from './topology.js';
import type {
  MintedToken,
  PreflightInput,
  PreflightOutput,
  RotateContext,
  RotateEvent,
  RotateInput,
  RotationChildContext,
  RotationChildInput,
  RotationStepInput,
  StepDone,
} from './types.js';

export const ROTATION_MACHINE_VERSION = 1;

export function rotationActorId(name: string): string {
  return `rotation-${name}`;
}

// The clusters whose secrets are rotated: every one some primary holds, or the one asked for.
export function rotatedClusters(input: Pick<RotateInput, 'members' | 'subject'>) {
  return input.members.filter((m) => secretHoldersOf(input, m.name).length > 0 && (input.subject === undefined || m.name === input.subject));
}

const onCluster = (context: RotationChildContext) => context.cluster.name;

function rotationStep(context: RotationChildContext, step: RotationStepInput['step']): RotationStepInput {
  return {
    runId: context.runId,
    step,
    cluster: context.cluster.name,
    context: context.cluster.context,
    holders: context.holders,
    syncTimeoutMs: context.syncTimeoutMs,
    ...(context.minted ? { minted: context.minted } : {}),
    ...withValues({ revision: context.revision }),
  };
}

// ---- One cluster's token: mint, swap, gate, revoke. ----

export const rotationMachine = setup({
  types: {} as { context: RotationChildContext; input: RotationChildInput; events: RotateEvent },
  actors: {
    mintToken: placeholder<MintedToken, RotationStepInput>('mintToken'),
    swapSecret: placeholder<StepDone, RotationStepInput>('swapSecret'),
    awaitSynced: placeholder<StepDone, RotationStepInput>('awaitSynced'),
    revokeToken: placeholder<StepDone, RotationStepInput>('revokeToken'),
  },
  actions: {
    ...journalActions<RotationChildContext, RotateEvent>(),
    // The new token's secret and the old tokens' fingerprints: later steps act on exactly these.
    rememberMinted: assign({ minted: ({ event }) => outputOf<MintedToken>(event) }),
    announceDone: sendParent(({ context }: { context: RotationChildContext }) => ({ type: 'MEMBER_DONE', name: context.cluster.name })),
  },
}).createMachine({
  id: 'rotation',
  context: ({ input }) => input,
  initial: 'mintToken',
  states: {
    mintToken: stepState({
      step: 'mint-token',
      src: 'mintToken',
      cluster: onCluster,
      input: ({ context }) => rotationStep(context, 'mint-token'),
      target: '#rotation.swapSecret',
      onSuccess: ['rememberMinted'],
    }),
    swapSecret: stepState({
      step: 'swap-secret',
      src: 'swapSecret',
      cluster: onCluster,
      input: ({ context }) => rotationStep(context, 'swap-secret'),
      target: '#rotation.awaitSynced',
    }),
    // The gate: the old token is revoked only once every holder's istiod reads the cluster with the new one.
    awaitSynced: stepState({
      step: 'await-synced',
      src: 'awaitSynced',
      cluster: onCluster,
      input: ({ context }) => rotationStep(context, 'await-synced'),
      target: '#rotation.revokeToken',
    }),
    revokeToken: stepState({
      step: 'revoke-token',
      src: 'revokeToken',
      cluster: onCluster,
      input: ({ context }) => rotationStep(context, 'revoke-token'),
      target: '#rotation.rotated',
    }),
    rotated: { type: 'final', entry: 'announceDone' },
  },
});

// ---- The whole rotation: preflight, then every cluster's child side by side. ----

export const rotateMachine = setup({
  types: {} as { context: RotateContext; input: RotateInput; events: RotateEvent },
  actors: { preflight: placeholder<PreflightOutput, PreflightInput>('preflight'), rotation: rotationMachine },
  actions: {
    ...journalActions<RotateContext, RotateEvent>(),
    spawnRotations: enqueueActions(({ context, enqueue }) => {
      for (const member of rotatedClusters(context)) {
        const input: RotationChildInput = {
          runId: context.runId,
          ...withValues({ revision: context.revision }),
          cluster: { name: member.name, context: member.context },
          holders: secretHoldersOf(context, member.name).map((h) => ({ name: h.name, context: h.context })),
          syncTimeoutMs: context.syncTimeoutMs,
        };
        enqueue.spawnChild('rotation', { id: rotationActorId(member.name), input });
      }
    }),
    forwardRetry: enqueueActions(({ context, event, enqueue }) => {
      for (const m of rotatedClusters(context)) if (!context.finished.includes(m.name)) enqueue.sendTo(rotationActorId(m.name), event);
    }),
  },
  guards: {
    everyClusterDone: ({ context }) => rotatedClusters(context).every((m) => context.finished.includes(m.name)),
  },
}).createMachine({
  id: 'secrets-rotate',
  context: ({ input }) => ({ ...input, finished: [] }),
  initial: 'preflight',
  states: {
    preflight: stepState({
      step: 'preflight',
      src: 'preflight',
      cluster: (_: RotateContext) => '*',
      input: ({ context }) => {
        const rotated = rotatedClusters(context);
        const holders = primariesOf(context).filter((p) => !rotated.some((r) => r.name === p.name));
        return preflightInput({ runId: context.runId, members: [...rotated, ...holders] });
      },
      target: '#secrets-rotate.rotating',
    }),
    rotating: {
      entry: 'spawnRotations',
      always: { guard: 'everyClusterDone', target: 'rotated' },
      on: {
        MEMBER_DONE: { actions: assign({ finished: ({ context, event }) => [...new Set([...context.finished, event.name])] }) },
        RETRY: { actions: 'forwardRetry' },
      },
    },
    rotated: { type: 'final' },
  },
});

export type RotateMachine = typeof rotateMachine;
