// An install's child for a remote: its namespace, the annotation, its network, the remote profile, its secret,
// its gateway. Pure: no I/O and no prose. Step actors and journal actions are placeholders bound by the engine.

import { and, assign, setup } from 'xstate';
import { exchangeStates, gatewayStates, memberActions, memberActors, memberGuards, memberStep, onMember } from './member-states.js';
import { placeholder } from './placeholders.js';
import { outputOf, stepState, withValues } from './step-state.js';
import type { StepId } from './steps.js';
import type { AnnotationObservation, MemberContext, MemberEvent, MemberInput, RemoteStepInput, StepDone } from './types.js';

function defineRemoteMachine() {
  const remoteStep = (context: MemberContext, step: StepId): RemoteStepInput => ({
    ...memberStep(context, step),
    primary: { name: context.controlPlane?.name ?? '', context: context.controlPlane?.context ?? '' },
    ...withValues({ discoveryAddress: context.discoveryAddress }),
  });
  return setup({
    types: {} as { context: MemberContext; input: MemberInput; events: MemberEvent },
    actors: {
      ...memberActors(),
      createRemoteNamespace: placeholder<StepDone, RemoteStepInput>('createRemoteNamespace'),
      annotateRemoteNamespace: placeholder<AnnotationObservation, RemoteStepInput>('annotateRemoteNamespace'),
      installRemote: placeholder<StepDone, RemoteStepInput>('installRemote'),
      attachRemote: placeholder<StepDone, RemoteStepInput>('attachRemote'),
    },
    actions: {
      ...memberActions(),
      rememberAnnotation: assign({ annotatedFor: ({ event }) => outputOf<AnnotationObservation>(event).controlPlaneClusters ?? undefined }),
    },
    guards: {
      ...memberGuards(),
      labelsNetwork: ({ context }) => context.plan.labelsNetwork,
      needsGateway: ({ context }) => context.plan.needsGateway,
      exchangesSecret: ({ context }) => context.plan.exchangeTargets.length > 0,
      // Its primary's east-west gateway address reached this remote: the remote profile can point at it.
      discoveryAddressKnown: ({ context }) => typeof context.discoveryAddress === 'string' && context.discoveryAddress.length > 0,
      // topology.istio.io/controlPlaneClusters=<its primary> was observed on the remote's istio-system.
      remoteNamespaceAnnotated: ({ context }) => context.annotatedFor === context.controlPlane?.name,
    },
  }).createMachine({
    id: 'remote',
    context: ({ input }) => ({ ...input, primariesInstalled: input.primariesInstalled ?? [] }),
    // The address may arrive while this remote is still busy with its namespace: keep it for later.
    on: {
      DISCOVERY_ADDRESS_READY: { actions: assign({ discoveryAddress: ({ event }) => event.address }) },
      PRIMARY_INSTALLED: { actions: 'rememberPrimaryInstalled' },
    },
    initial: 'createRemoteNamespace',
    states: {
      createRemoteNamespace: stepState({
        step: 'create-remote-namespace',
        src: 'createRemoteNamespace',
        cluster: onMember,
        input: ({ context }) => remoteStep(context, 'create-remote-namespace'),
        target: '#remote.annotateRemoteNamespace',
      }),
      annotateRemoteNamespace: stepState({
        step: 'annotate-remote-namespace',
        src: 'annotateRemoteNamespace',
        cluster: onMember,
        input: ({ context }) => remoteStep(context, 'annotate-remote-namespace'),
        target: '#remote.labelDecision',
        onSuccess: ['rememberAnnotation'],
      }),
      labelDecision: { always: [{ guard: 'labelsNetwork', target: 'labelNetwork' }, { target: 'awaitingDiscoveryAddress' }] },
      labelNetwork: stepState({
        step: 'label-network',
        src: 'labelNetwork',
        cluster: onMember,
        input: ({ context }) => memberStep(context, 'label-network'),
        target: '#remote.awaitingDiscoveryAddress',
      }),
      // install-remote starts only when both guards hold.
      awaitingDiscoveryAddress: {
        tags: ['waiting'],
        always: { guard: and(['discoveryAddressKnown', 'remoteNamespaceAnnotated']), target: 'installRemote' },
      },
      installRemote: stepState({
        step: 'install-remote',
        src: 'installRemote',
        cluster: onMember,
        input: ({ context }) => remoteStep(context, 'install-remote'),
        target: '#remote.attachRemote',
      }),
      attachRemote: stepState({
        step: 'attach-remote',
        src: 'attachRemote',
        cluster: onMember,
        input: ({ context }) => remoteStep(context, 'attach-remote'),
        target: '#remote.gatewayDecision',
      }),
      // On another network than its primary, the remote carries its own gateway, once its primary sees it.
      gatewayDecision: { always: [{ guard: 'needsGateway', target: 'installEastwestGateway' }, { target: 'exchangeDecision' }] },
      ...gatewayStates('remote', 'exchangeDecision', []),
      ...exchangeStates('remote'),
    },
  });
}

export const remoteMachine = defineRemoteMachine();

export type RemoteMachine = typeof remoteMachine;
