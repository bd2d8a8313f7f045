// An install's child for a primary: network label, cacerts, control plane, gateway, expose istiod and services.
// Pure: no I/O and no prose. Step actors and journal actions are placeholders bound by the engine.

import { assign, sendParent, setup } from 'xstate';
import { exchangeStates, gatewayStates, memberActions, memberActors, memberGuards, memberStep, onMember } from './member-states.js';
import { placeholder } from './placeholders.js';
import { stepState } from './step-state.js';
import type { StepId } from './steps.js';
import type { InstallEvent, MemberContext, MemberEvent, MemberInput, PrimaryStepInput, StepDone, TrustOutcome } from './types.js';

function definePrimaryMachine() {
  const primaryStep = (context: MemberContext, step: StepId): PrimaryStepInput => ({ ...memberStep(context, step), external: context.plan.remotes.length > 0 });
  return setup({
    types: {} as { context: MemberContext; input: MemberInput; events: MemberEvent },
    actors: {
      ...memberActors(),
      establishTrust: placeholder<TrustOutcome, PrimaryStepInput>('establishTrust'),
      installPrimary: placeholder<StepDone, PrimaryStepInput>('installPrimary'),
      exposeIstiod: placeholder<StepDone, PrimaryStepInput>('exposeIstiod'),
      exposeServices: placeholder<StepDone, PrimaryStepInput>('exposeServices'),
    },
    actions: {
      ...memberActions(),
      announcePrimaryInstalled: sendParent<MemberContext, MemberEvent, undefined, InstallEvent, MemberEvent>(({ context }) => ({
        type: 'PRIMARY_INSTALLED',
        name: context.cluster.name,
      })),
      useGatewayIp: assign({ discoveryAddress: ({ context }) => context.gatewayObservation?.ip }),
      announceAddress: sendParent<MemberContext, MemberEvent, undefined, InstallEvent, MemberEvent>(({ context }) => ({
        type: 'DISCOVERY_ADDRESS_READY',
        primary: context.cluster.name,
        address: context.gatewayObservation?.ip ?? '',
      })),
    },
    guards: {
      ...memberGuards(),
      labelsNetwork: ({ context }) => context.plan.labelsNetwork,
      establishesTrust: ({ context }) => context.plan.establishesTrust,
      needsGateway: ({ context }) => context.plan.needsGateway,
      exposesIstiod: ({ context }) => context.plan.exposesIstiod,
      exposesServices: ({ context }) => context.plan.exposesServices,
      exchangesSecret: ({ context }) => context.plan.exchangeTargets.length > 0,
    },
  }).createMachine({
    id: 'primary',
    context: ({ input }) => ({ ...input, primariesInstalled: input.primariesInstalled ?? [] }),
    on: { PRIMARY_INSTALLED: { actions: 'rememberPrimaryInstalled' } },
    initial: 'labelDecision',
    states: {
      labelDecision: { always: [{ guard: 'labelsNetwork', target: 'labelNetwork' }, { target: 'trustDecision' }] },
      // topology.istio.io/network on istio-system before the control plane starts.
      labelNetwork: stepState({
        step: 'label-network',
        src: 'labelNetwork',
        cluster: onMember,
        input: ({ context }) => memberStep(context, 'label-network'),
        target: '#primary.trustDecision',
      }),
      trustDecision: { always: [{ guard: 'establishesTrust', target: 'establishTrust' }, { target: 'installPrimary' }] },
      // Istio's plugin CA: the cacerts secret is read only when istiod starts.
      establishTrust: stepState({
        step: 'establish-trust',
        src: 'establishTrust',
        cluster: onMember,
        input: ({ context }) => primaryStep(context, 'establish-trust'),
        target: '#primary.installPrimary',
      }),
      installPrimary: stepState({
        step: 'install-primary',
        src: 'installPrimary',
        cluster: onMember,
        input: ({ context }) => primaryStep(context, 'install-primary'),
        target: '#primary.gatewayDecision',
        onSuccess: ['announcePrimaryInstalled'],
      }),
      gatewayDecision: { always: [{ guard: 'needsGateway', target: 'installEastwestGateway' }, { target: 'exposeIstiodDecision' }] },
      ...gatewayStates('primary', 'exposeIstiodDecision', ['useGatewayIp', 'announceAddress']),
      exposeIstiodDecision: { always: [{ guard: 'exposesIstiod', target: 'exposeIstiod' }, { target: 'exposeServicesDecision' }] },
      exposeIstiod: stepState({
        step: 'expose-istiod',
        src: 'exposeIstiod',
        cluster: onMember,
        input: ({ context }) => primaryStep(context, 'expose-istiod'),
        target: '#primary.exposeServicesDecision',
      }),
      exposeServicesDecision: { always: [{ guard: 'exposesServices', target: 'exposeServices' }, { target: 'exchangeDecision' }] },
      exposeServices: stepState({
        step: 'expose-services',
        src: 'exposeServices',
        cluster: onMember,
        input: ({ context }) => primaryStep(context, 'expose-services'),
        target: '#primary.exchangeDecision',
      }),
      ...exchangeStates('primary'),
    },
  });
}

export const primaryMachine = definePrimaryMachine();

export type PrimaryMachine = typeof primaryMachine;
