// The cleanup section of the Istio pages as one XState machine: per remote, the sample namespace, its
// secret on the primary and its Istio; the primary's Istio only once every remote is gone.
// Pure: step actors and journal actions are bound by the engine with .provide().
import { and, assign, enqueueActions, sendParent, setup } from 'xstate';
import { placeholder } from './placeholders.js';
import { clusterStepInput, journalActions, preflightInput, stepState, withValues } from './step-state.js';
import type { StepId } from './steps.js';
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

export const UNINSTALL_MACHINE_VERSION = 1;

export function removalActorId(name: string): string {
  return `removal-${name}`;
}

const childStep = (context: ClusterChildContext, step: StepId): ClusterStepInput => clusterStepInput(context, step, context.cluster, context.role);
const primaryStep = (context: UninstallContext, step: StepId): ClusterStepInput => clusterStepInput(context, step, context.primary, 'primary');

const onCluster = (context: ClusterChildContext) => context.cluster.name;
const onPrimary = (context: UninstallContext) => context.primary.name;

// ---------------------------------------------------------------------------------------------
// One remote: its sample namespace, then its secret on the primary, then Istio itself.
// ---------------------------------------------------------------------------------------------

export const remoteRemovalMachine = setup({
  types: {} as { context: ClusterChildContext; input: ClusterChildInput; events: ClusterChildEvent },
  actors: {
    removeSample: placeholder<StepDone, ClusterStepInput>('removeSample'),
    detachRemote: placeholder<StepDone, ClusterStepInput>('detachRemote'),
    uninstallRemote: placeholder<StepDone, ClusterStepInput>('uninstallRemote'),
  },
  actions: {
    ...journalActions<ClusterChildContext, ClusterChildEvent>(),
    announceRemoved: sendParent(({ context }: { context: ClusterChildContext }) => ({ type: 'REMOTE_REMOVED', name: context.cluster.name })),
  },
}).createMachine({
  id: 'removal',
  context: ({ input }) => ({ ...input, peersReady: false }),
  initial: 'removeSample',
  states: {
    removeSample: stepState({
      step: 'remove-sample',
      src: 'removeSample',
      cluster: onCluster,
      input: ({ context }) => childStep(context, 'remove-sample'),
      target: '#removal.detachRemote',
    }),
    detachRemote: stepState({
      step: 'detach-remote',
      src: 'detachRemote',
      cluster: onCluster,
      input: ({ context }) => childStep(context, 'detach-remote'),
      target: '#removal.uninstallRemote',
    }),
    uninstallRemote: stepState({
      step: 'uninstall-remote',
      src: 'uninstallRemote',
      cluster: onCluster,
      input: ({ context }) => childStep(context, 'uninstall-remote'),
      target: '#removal.removed',
      onSuccess: ['announceRemoved'],
    }),
    removed: { type: 'final' },
  },
});

// ---------------------------------------------------------------------------------------------
// The whole uninstall run: remotes first, the primary last.
// ---------------------------------------------------------------------------------------------

export const uninstallMachine = setup({
  types: {} as { context: UninstallContext; input: FollowUpInput; events: FollowUpEvent },
  actors: {
    preflight: placeholder<PreflightOutput, PreflightInput>('preflight'),
    removeSample: placeholder<StepDone, ClusterStepInput>('removeSample'),
    uninstallPrimary: placeholder<StepDone, ClusterStepInput>('uninstallPrimary'),
    remoteRemoval: remoteRemovalMachine,
  },
  actions: {
    ...journalActions<UninstallContext, FollowUpEvent>(),
    spawnRemovals: enqueueActions(({ context, enqueue }) => {
      for (const remote of context.remotes) {
        enqueue.spawnChild('remoteRemoval', {
          id: removalActorId(remote.name),
          input: {
            runId: context.runId,
            primary: context.primary,
            remotes: context.remotes,
            cluster: remote,
            role: 'remote',
            ...withValues({ revision: context.revision }),
          },
        });
      }
    }),
    forwardRetry: enqueueActions(({ context, event, enqueue }) => {
      for (const remote of context.remotes) if (!context.removedRemotes.includes(remote.name)) enqueue.sendTo(removalActorId(remote.name), event);
    }),
  },
  guards: {
    // istioctl uninstall on the primary would cut remotes off from the istiod that serves them.
    allRemotesRemoved: ({ context }) => context.remotes.every((r) => context.removedRemotes.includes(r.name)),
  },
}).createMachine({
  id: 'uninstall',
  context: ({ input }) => ({ ...input, removedRemotes: [] }),
  initial: 'preflight',
  states: {
    preflight: stepState({
      step: 'preflight',
      src: 'preflight',
      cluster: (_: UninstallContext) => '*',
      input: ({ context }) => preflightInput(context),
      target: '#uninstall.removing',
    }),
    removing: {
      type: 'parallel',
      entry: 'spawnRemovals',
      on: {
        REMOTE_REMOVED: { actions: assign({ removedRemotes: ({ context, event }) => [...new Set([...context.removedRemotes, event.name])] }) },
        RETRY: { actions: 'forwardRetry' },
      },
      states: {
        primary: {
          initial: 'removeSample',
          states: {
            removeSample: stepState({
              step: 'remove-sample',
              src: 'removeSample',
              cluster: onPrimary,
              input: ({ context }) => primaryStep(context, 'remove-sample'),
              target: '#uninstall.removing.primary.awaitingRemotes',
            }),
            awaitingRemotes: { tags: ['waiting'], always: { guard: 'allRemotesRemoved', target: 'uninstallPrimary' } },
            uninstallPrimary: stepState({
              step: 'uninstall-primary',
              src: 'uninstallPrimary',
              cluster: onPrimary,
              input: ({ context }) => primaryStep(context, 'uninstall-primary'),
              target: '#uninstall.removing.primary.removed',
            }),
            removed: { type: 'final' },
          },
        },
        // One remoteRemovalMachine child per remote, side by side.
        remotes: {
          initial: 'removing',
          states: {
            removing: { always: { guard: and(['allRemotesRemoved']), target: 'removed' } },
            removed: { type: 'final' },
          },
        },
      },
      onDone: 'removed',
    },
    removed: { type: 'final' },
  },
});

export type UninstallMachine = typeof uninstallMachine;
