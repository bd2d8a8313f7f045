// Istio's verify page as one XState machine, for every topology: each primary's istiod sees every other
// cluster synced, each remote's injector has a CA, then per cluster the helloworld sample (a version per
// cluster, so that each must reach one that runs elsewhere) and curl; requests go out only once every cluster
// runs its sample. Pure: step actors and journal actions are bound by the engine with .provide().
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
  TrafficOutcome,
  VerifyContext,
} from './types.js';

export const VERIFY_MACHINE_VERSION = 2;

export function sampleActorId(name: string): string {
  return `sample-${name}`;
}

const onCluster = (context: ClusterChildContext) => context.cluster.name;

// ---------------------------------------------------------------------------------------------
// One cluster: (a primary: its istiod sees the others; a remote: its injector has a CA), deploy the
// sample, wait for it, then send requests once every cluster runs its own.
// ---------------------------------------------------------------------------------------------

export const sampleClusterMachine = setup({
  types: {} as { context: ClusterChildContext; input: ClusterChildInput; events: ClusterChildEvent },
  actors: {
    checkRemoteClusters: placeholder<StepDone, ClusterStepInput>('checkRemoteClusters'),
    checkInjectorCa: placeholder<StepDone, ClusterStepInput>('checkInjectorCa'),
    deploySample: placeholder<StepDone, ClusterStepInput>('deploySample'),
    awaitSample: placeholder<StepDone, ClusterStepInput>('awaitSample'),
    checkTraffic: placeholder<TrafficOutcome, ClusterStepInput>('checkTraffic'),
  },
  actions: {
    ...journalActions<ClusterChildContext, ClusterChildEvent>(),
    announceSampleReady: sendParent(({ context }: { context: ClusterChildContext }) => ({ type: 'SAMPLE_READY', name: context.cluster.name })),
    announceVerified: sendParent(({ context }: { context: ClusterChildContext }) => ({ type: 'CLUSTER_VERIFIED', name: context.cluster.name })),
  },
  guards: {
    isRemote: ({ context }) => context.cluster.role === 'remote',
    // A primary that serves or peers with other clusters: its istiod must see them.
    watchesOthers: ({ context }) => context.cluster.role === 'primary' && context.step.watches.length > 0,
    // Every cluster runs its sample: requests can now reach every version.
    peersReady: ({ context }) => context.peersReady,
  },
}).createMachine({
  id: 'sample',
  context: ({ input }) => ({ ...input, peersReady: false, detached: [], removedRemotes: [] }),
  on: { PEERS_READY: { actions: assign({ peersReady: true }) } },
  initial: 'start',
  states: {
    start: {
      always: [{ guard: 'watchesOthers', target: 'checkRemoteClusters' }, { guard: 'isRemote', target: 'checkInjectorCa' }, { target: 'deploySample' }],
    },
    checkRemoteClusters: stepState({
      step: 'check-remote-clusters',
      src: 'checkRemoteClusters',
      cluster: onCluster,
      input: ({ context }) => childStepInput(context, 'check-remote-clusters'),
      target: '#sample.deploySample',
    }),
    checkInjectorCa: stepState({
      step: 'check-injector-ca',
      src: 'checkInjectorCa',
      cluster: onCluster,
      input: ({ context }) => childStepInput(context, 'check-injector-ca'),
      target: '#sample.deploySample',
    }),
    deploySample: stepState({
      step: 'deploy-sample',
      src: 'deploySample',
      cluster: onCluster,
      input: ({ context }) => childStepInput(context, 'deploy-sample'),
      target: '#sample.awaitSample',
    }),
    awaitSample: stepState({
      step: 'await-sample',
      src: 'awaitSample',
      cluster: onCluster,
      input: ({ context }) => childStepInput(context, 'await-sample'),
      target: '#sample.awaitingPeers',
      onSuccess: ['announceSampleReady'],
    }),
    awaitingPeers: { tags: ['waiting'], always: { guard: 'peersReady', target: 'checkTraffic' } },
    checkTraffic: stepState({
      step: 'check-traffic',
      src: 'checkTraffic',
      cluster: onCluster,
      input: ({ context }) => childStepInput(context, 'check-traffic'),
      target: '#sample.verified',
      onSuccess: ['announceVerified'],
    }),
    verified: { type: 'final' },
  },
});

// ---------------------------------------------------------------------------------------------
// The whole verify run.
// ---------------------------------------------------------------------------------------------

export const verifyMachine = setup({
  types: {} as { context: VerifyContext; input: FollowUpInput; events: FollowUpEvent },
  actors: {
    preflight: placeholder<PreflightOutput, PreflightInput>('preflight'),
    sampleCluster: sampleClusterMachine,
  },
  actions: {
    ...journalActions<VerifyContext, FollowUpEvent>(),
    spawnClusters: enqueueActions(({ context, enqueue }) => {
      for (const input of childInputs(context)) enqueue.spawnChild('sampleCluster', { id: sampleActorId(input.cluster.name), input });
    }),
    announcePeersReady: enqueueActions(({ context, enqueue }) => {
      for (const m of context.members) enqueue.sendTo(sampleActorId(m.name), { type: 'PEERS_READY' });
    }),
    forwardRetry: enqueueActions(({ context, event, enqueue }) => {
      for (const m of context.members) if (!context.verified.includes(m.name)) enqueue.sendTo(sampleActorId(m.name), event);
    }),
  },
  guards: {
    allSamplesReady: ({ context }) => context.members.every((m) => context.samplesReady.includes(m.name)),
    allClustersVerified: ({ context }) => context.members.every((m) => context.verified.includes(m.name)),
  },
}).createMachine({
  id: 'verify',
  context: ({ input }) => ({ ...input, samplesReady: [], verified: [] }),
  initial: 'preflight',
  states: {
    preflight: stepState({
      step: 'preflight',
      src: 'preflight',
      cluster: (_: VerifyContext) => '*',
      input: ({ context }) => preflightInput(context),
      target: '#verify.sampling',
    }),
    // One child per cluster (sampleClusterMachine above), side by side.
    sampling: {
      entry: 'spawnClusters',
      on: {
        SAMPLE_READY: { actions: assign({ samplesReady: ({ context, event }) => [...new Set([...context.samplesReady, event.name])] }) },
        CLUSTER_VERIFIED: { actions: assign({ verified: ({ context, event }) => [...new Set([...context.verified, event.name])] }) },
        RETRY: { actions: 'forwardRetry' },
      },
      initial: 'deploying',
      states: {
        deploying: { always: { guard: 'allSamplesReady', target: 'requesting' } },
        requesting: { entry: 'announcePeersReady', always: { guard: 'allClustersVerified', target: '#verify.verified' } },
      },
    },
    verified: { type: 'final' },
  },
});

export type VerifyMachine = typeof verifyMachine;
