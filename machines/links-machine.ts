// The links between the clusters, checked without deploying anything (verify-links): preflight, then per
// cluster side by side, a primary that watches other clusters sees each of them synced and a remote's injector
// has a CA. Verify's first checks, so safe on production clusters. Pure: step actors and journal actions are
// bound by the engine with .provide().
import { assign, enqueueActions, sendParent, setup } from 'xstate';
import { placeholder } from './placeholders.js';
import { childInputs, childStepInput, journalActions, preflightInput, stepState } from './step-state.js';
import type {
  ClusterChildInput,
  ClusterStepInput,
  FailureMemory,
  FollowUpEvent,
  FollowUpInput,
  PreflightInput,
  PreflightOutput,
  RetryEvent,
  StepDone,
} from './types.js';

export const LINKS_MACHINE_VERSION = 1;

export interface LinkCheckContext extends ClusterChildInput, FailureMemory {}

export interface LinksContext extends FollowUpInput, FailureMemory {
  // Clusters whose link check passed (or that have none to pass).
  checked: string[];
}

export function linkActorId(name: string): string {
  return `links-${name}`;
}

const onCluster = (context: LinkCheckContext) => context.cluster.name;

// ---------------------------------------------------------------------------------------------
// One cluster: a primary's istiod sees the clusters it watches; a remote's injector has a CA; a lone primary
// has nothing to check.
// ---------------------------------------------------------------------------------------------

export const linkCheckMachine = setup({
  types: {} as { context: LinkCheckContext; input: ClusterChildInput; events: RetryEvent },
  actors: {
    checkRemoteClusters: placeholder<StepDone, ClusterStepInput>('checkRemoteClusters'),
    checkInjectorCa: placeholder<StepDone, ClusterStepInput>('checkInjectorCa'),
  },
  actions: {
    ...journalActions<LinkCheckContext, RetryEvent>(),
    announceChecked: sendParent(({ context }: { context: LinkCheckContext }) => ({ type: 'MEMBER_DONE', name: context.cluster.name })),
  },
  guards: {
    isRemote: ({ context }) => context.cluster.role === 'remote',
    // A primary that serves or peers with other clusters: its istiod must see them.
    watchesOthers: ({ context }) => context.cluster.role === 'primary' && context.step.watches.length > 0,
  },
}).createMachine({
  id: 'link',
  context: ({ input }) => ({ ...input }),
  initial: 'start',
  states: {
    start: {
      always: [{ guard: 'watchesOthers', target: 'checkRemoteClusters' }, { guard: 'isRemote', target: 'checkInjectorCa' }, { target: 'checked' }],
    },
    checkRemoteClusters: stepState({
      step: 'check-remote-clusters',
      src: 'checkRemoteClusters',
      cluster: onCluster,
      input: ({ context }) => childStepInput(context, 'check-remote-clusters'),
      target: '#link.checked',
    }),
    checkInjectorCa: stepState({
      step: 'check-injector-ca',
      src: 'checkInjectorCa',
      cluster: onCluster,
      input: ({ context }) => childStepInput(context, 'check-injector-ca'),
      target: '#link.checked',
    }),
    checked: { type: 'final', entry: 'announceChecked' },
  },
});

// ---------------------------------------------------------------------------------------------
// The whole verify-links run.
// ---------------------------------------------------------------------------------------------

export const linksMachine = setup({
  types: {} as { context: LinksContext; input: FollowUpInput; events: FollowUpEvent },
  actors: {
    preflight: placeholder<PreflightOutput, PreflightInput>('preflight'),
    linkCheck: linkCheckMachine,
  },
  actions: {
    ...journalActions<LinksContext, FollowUpEvent>(),
    spawnClusters: enqueueActions(({ context, enqueue }) => {
      for (const input of childInputs(context)) enqueue.spawnChild('linkCheck', { id: linkActorId(input.cluster.name), input });
    }),
    forwardRetry: enqueueActions(({ context, event, enqueue }) => {
      for (const m of context.members) if (!context.checked.includes(m.name)) enqueue.sendTo(linkActorId(m.name), event);
    }),
  },
  guards: {
    allClustersChecked: ({ context }) => context.members.every((m) => context.checked.includes(m.name)),
  },
}).createMachine({
  id: 'verify-links',
  context: ({ input }) => ({ ...input, checked: [] }),
  initial: 'preflight',
  states: {
    preflight: stepState({
      step: 'preflight',
      src: 'preflight',
      cluster: (_: LinksContext) => '*',
      input: ({ context }) => preflightInput(context),
      target: '#verify-links.checking',
    }),
    // One child per cluster (linkCheckMachine above), side by side.
    checking: {
      entry: 'spawnClusters',
      on: {
        MEMBER_DONE: { actions: assign({ checked: ({ context, event }) => [...new Set([...context.checked, event.name])] }) },
        RETRY: { actions: 'forwardRetry' },
      },
      always: { guard: 'allClustersChecked', target: 'verified' },
    },
    verified: { type: 'final' },
  },
});

export type LinksMachine = typeof linksMachine;
