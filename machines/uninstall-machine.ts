// The cleanup sections of Istio's pages as one XState machine, for every topology: per cluster the sample
// namespace and its secrets on every primary first (nobody routes to a cluster on its way out), then the
// remotes' Istio, and the primaries' last, once every remote is gone (their istiod served the remotes).
// Pure: step actors and journal actions are bound by the engine with .provide().
import { assign, enqueueActions, sendParent, setup } from 'xstate';
import { placeholder } from './placeholders.js';
import { childInputs, childStepInput, journalActions, preflightInput, stepState } from './step-state.js';
import type {
  ClusterChildContext,
  ClusterChildEvent,
  ClusterChildInput,
  ClusterStepInput,
  FollowUpEvent,
  FollowUpInput,
  PreflightInput,
  PreflightOutput,
  StepDone,
  UninstallContext,
} from './types.js';

export const UNINSTALL_MACHINE_VERSION = 2;

export function removalActorId(name: string): string {
  return `removal-${name}`;
}

const onCluster = (context: ClusterChildContext) => context.cluster.name;

// ---------------------------------------------------------------------------------------------
// One cluster: its sample namespace, its secrets on every primary, then (when every secret is gone, and
// for a primary when every remote is gone) its Istio.
// ---------------------------------------------------------------------------------------------

export const removalMachine = setup({
  types: {} as { context: ClusterChildContext; input: ClusterChildInput; events: ClusterChildEvent },
  actors: {
    removeSample: placeholder<StepDone, ClusterStepInput>('removeSample'),
    detachRemote: placeholder<StepDone, ClusterStepInput>('detachRemote'),
    uninstallRemote: placeholder<StepDone, ClusterStepInput>('uninstallRemote'),
    uninstallPrimary: placeholder<StepDone, ClusterStepInput>('uninstallPrimary'),
  },
  actions: {
    ...journalActions<ClusterChildContext, ClusterChildEvent>(),
    announceDetached: sendParent(({ context }: { context: ClusterChildContext }) => ({ type: 'DETACHED', name: context.cluster.name })),
    announceRemoved: sendParent(({ context }: { context: ClusterChildContext }) => ({ type: 'REMOTE_REMOVED', name: context.cluster.name })),
    announceDone: sendParent(({ context }: { context: ClusterChildContext }) => ({ type: 'MEMBER_DONE', name: context.cluster.name })),
  },
  guards: {
    isRemote: ({ context }) => context.cluster.role === 'remote',
    hasHolders: ({ context }) => context.step.holders.length > 0,
    // No primary holds a secret of any cluster any more: no istiod routes into what is being removed.
    allSecretsRemoved: ({ context }) => context.detachers.every((d) => context.detached.includes(d)),
    // istioctl uninstall on a primary would cut remotes off from the istiod that serves them.
    allRemotesRemoved: ({ context }) => context.remotes.every((r) => context.removedRemotes.includes(r)),
  },
}).createMachine({
  id: 'removal',
  context: ({ input }) => ({ ...input, peersReady: false, detached: [], removedRemotes: [] }),
  on: {
    DETACHED: { actions: assign({ detached: ({ context, event }) => [...new Set([...context.detached, event.name])] }) },
    REMOTE_REMOVED: { actions: assign({ removedRemotes: ({ context, event }) => [...new Set([...context.removedRemotes, event.name])] }) },
  },
  initial: 'removeSample',
  states: {
    removeSample: stepState({
      step: 'remove-sample',
      src: 'removeSample',
      cluster: onCluster,
      input: ({ context }) => childStepInput(context, 'remove-sample'),
      target: '#removal.detachDecision',
    }),
    detachDecision: { always: [{ guard: 'hasHolders', target: 'detachRemote' }, { target: 'awaitingSecretsRemoved' }] },
    detachRemote: stepState({
      step: 'detach-remote',
      src: 'detachRemote',
      cluster: onCluster,
      input: ({ context }) => childStepInput(context, 'detach-remote'),
      target: '#removal.awaitingSecretsRemoved',
      onSuccess: ['announceDetached'],
    }),
    awaitingSecretsRemoved: {
      tags: ['waiting'],
      always: [{ guard: 'isRemote', target: 'secretsRemovedRemote' }, { target: 'secretsRemovedPrimary' }],
    },
    secretsRemovedRemote: { tags: ['waiting'], always: { guard: 'allSecretsRemoved', target: 'uninstallRemote' } },
    secretsRemovedPrimary: { tags: ['waiting'], always: { guard: 'allSecretsRemoved', target: 'awaitingRemotes' } },
    uninstallRemote: stepState({
      step: 'uninstall-remote',
      src: 'uninstallRemote',
      cluster: onCluster,
      input: ({ context }) => childStepInput(context, 'uninstall-remote'),
      target: '#removal.removed',
      onSuccess: ['announceRemoved'],
    }),
    awaitingRemotes: { tags: ['waiting'], always: { guard: 'allRemotesRemoved', target: 'uninstallPrimary' } },
    uninstallPrimary: stepState({
      step: 'uninstall-primary',
      src: 'uninstallPrimary',
      cluster: onCluster,
      input: ({ context }) => childStepInput(context, 'uninstall-primary'),
      target: '#removal.removed',
    }),
    removed: { type: 'final', entry: 'announceDone' },
  },
});

// ---------------------------------------------------------------------------------------------
// The whole uninstall run.
// ---------------------------------------------------------------------------------------------

export const uninstallMachine = setup({
  types: {} as { context: UninstallContext; input: FollowUpInput; events: FollowUpEvent },
  actors: {
    preflight: placeholder<PreflightOutput, PreflightInput>('preflight'),
    removal: removalMachine,
  },
  actions: {
    ...journalActions<UninstallContext, FollowUpEvent>(),
    spawnRemovals: enqueueActions(({ context, enqueue }) => {
      for (const input of childInputs(context)) enqueue.spawnChild('removal', { id: removalActorId(input.cluster.name), input });
    }),
    // What one child did, every other child hears.
    broadcast: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'DETACHED' && event.type !== 'REMOTE_REMOVED') return;
      for (const m of context.members) if (!context.finished.includes(m.name)) enqueue.sendTo(removalActorId(m.name), event);
    }),
    forwardRetry: enqueueActions(({ context, event, enqueue }) => {
      for (const m of context.members) if (!context.finished.includes(m.name)) enqueue.sendTo(removalActorId(m.name), event);
    }),
  },
  guards: {
    everyClusterDone: ({ context }) => context.members.every((m) => context.finished.includes(m.name)),
  },
}).createMachine({
  id: 'uninstall',
  context: ({ input }) => ({ ...input, detached: [], removedRemotes: [], finished: [] }),
  initial: 'preflight',
  states: {
    preflight: stepState({
      step: 'preflight',
      src: 'preflight',
      cluster: (_: UninstallContext) => '*',
      input: ({ context }) => preflightInput(context),
      target: '#uninstall.removing',
    }),
    // One removalMachine child per cluster, side by side.
    removing: {
      entry: 'spawnRemovals',
      always: { guard: 'everyClusterDone', target: 'removed' },
      on: {
        DETACHED: { actions: [assign({ detached: ({ context, event }) => [...new Set([...context.detached, event.name])] }), 'broadcast'] },
        REMOTE_REMOVED: { actions: [assign({ removedRemotes: ({ context, event }) => [...new Set([...context.removedRemotes, event.name])] }), 'broadcast'] },
        MEMBER_DONE: { actions: assign({ finished: ({ context, event }) => [...new Set([...context.finished, event.name])] }) },
        RETRY: { actions: 'forwardRetry' },
      },
    },
    removed: { type: 'final' },
  },
});

export type UninstallMachine = typeof uninstallMachine;
