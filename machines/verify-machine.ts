// The Istio verify page as one XState machine: the control plane sees every remote, then per cluster the
// helloworld sample (v1 on the primary, v2 on remotes) and curl, then traffic from every cluster must
// reach both versions. Pure: step actors and journal actions are bound by the engine with .provide().
import { assign, enqueueActions, sendParent, setup } from 'xstate';
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
  TrafficOutcome,
  VerifyContext,
} from './types.js';

export const VERIFY_MACHINE_VERSION = 1;

export function sampleActorId(name: string): string {
  return `sample-${name}`;
}

const clusterStep = (context: ClusterChildContext, step: StepId): ClusterStepInput => clusterStepInput(context, step, context.cluster, context.role);
const onCluster = (context: ClusterChildContext) => context.cluster.name;

// ---------------------------------------------------------------------------------------------
// One cluster: (remote: the injector has a CA), deploy the sample, wait for it, then send requests.
// ---------------------------------------------------------------------------------------------

export const sampleClusterMachine = setup({
  types: {} as { context: ClusterChildContext; input: ClusterChildInput; events: ClusterChildEvent },
  actors: {
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
    isRemote: ({ context }) => context.role === 'remote',
    // Every cluster runs its sample: requests can now reach both versions.
    peersReady: ({ context }) => context.peersReady,
  },
}).createMachine({
  id: 'sample',
  context: ({ input }) => ({ ...input, peersReady: false }),
  on: { PEERS_READY: { actions: assign({ peersReady: true }) } },
  initial: 'start',
  states: {
    start: { always: [{ guard: 'isRemote', target: 'checkInjectorCa' }, { target: 'deploySample' }] },
    checkInjectorCa: stepState({
      step: 'check-injector-ca',
      src: 'checkInjectorCa',
      cluster: onCluster,
      input: ({ context }) => clusterStep(context, 'check-injector-ca'),
      target: '#sample.deploySample',
    }),
    deploySample: stepState({
      step: 'deploy-sample',
      src: 'deploySample',
      cluster: onCluster,
      input: ({ context }) => clusterStep(context, 'deploy-sample'),
      target: '#sample.awaitSample',
    }),
    awaitSample: stepState({
      step: 'await-sample',
      src: 'awaitSample',
      cluster: onCluster,
      input: ({ context }) => clusterStep(context, 'await-sample'),
      target: '#sample.awaitingPeers',
      onSuccess: ['announceSampleReady'],
    }),
    awaitingPeers: { tags: ['waiting'], always: { guard: 'peersReady', target: 'checkTraffic' } },
    checkTraffic: stepState({
      step: 'check-traffic',
      src: 'checkTraffic',
      cluster: onCluster,
      input: ({ context }) => clusterStep(context, 'check-traffic'),
      target: '#sample.verified',
      onSuccess: ['announceVerified'],
    }),
    verified: { type: 'final' },
  },
});

// ---------------------------------------------------------------------------------------------
// The whole verify run.
// ---------------------------------------------------------------------------------------------

const clustersOf = (context: VerifyContext) => [context.primary, ...context.remotes];

export const verifyMachine = setup({
  types: {} as { context: VerifyContext; input: FollowUpInput; events: FollowUpEvent },
  actors: {
    preflight: placeholder<PreflightOutput, PreflightInput>('preflight'),
    checkRemoteClusters: placeholder<StepDone, ClusterStepInput>('checkRemoteClusters'),
    sampleCluster: sampleClusterMachine,
  },
  actions: {
    ...journalActions<VerifyContext, FollowUpEvent>(),
    spawnClusters: enqueueActions(({ context, enqueue }) => {
      for (const cluster of clustersOf(context)) {
        const role = cluster.name === context.primary.name ? ('primary' as const) : ('remote' as const);
        enqueue.spawnChild('sampleCluster', {
          id: sampleActorId(cluster.name),
          input: {
            runId: context.runId,
            primary: context.primary,
            remotes: context.remotes,
            cluster,
            role,
            ...withValues({ revision: context.revision }),
          },
        });
      }
    }),
    announcePeersReady: enqueueActions(({ context, enqueue }) => {
      for (const cluster of clustersOf(context)) enqueue.sendTo(sampleActorId(cluster.name), { type: 'PEERS_READY' });
    }),
    forwardRetry: enqueueActions(({ context, event, enqueue }) => {
      for (const cluster of clustersOf(context)) if (!context.verified.includes(cluster.name)) enqueue.sendTo(sampleActorId(cluster.name), event);
    }),
  },
  guards: {
    allSamplesReady: ({ context }) => clustersOf(context).every((c) => context.samplesReady.includes(c.name)),
    allClustersVerified: ({ context }) => clustersOf(context).every((c) => context.verified.includes(c.name)),
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
      target: '#verify.checkRemoteClusters',
    }),
    checkRemoteClusters: stepState({
      step: 'check-remote-clusters',
      src: 'checkRemoteClusters',
      cluster: (context: VerifyContext) => context.primary.name,
      input: ({ context }) => clusterStepInput(context, 'check-remote-clusters', context.primary, 'primary'),
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
