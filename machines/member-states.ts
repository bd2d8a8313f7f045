// What both kinds of install child (a primary, a remote) share: the step inputs, the gateway wait, secrets to
// other primaries. Pure: no I/O and no prose.
import { assign, sendParent } from 'xstate';
import { placeholder } from './placeholders.js';
import { journalActions, outputOf, pollingStepState, stepState, withValues } from './step-state.js';
import type { StepId } from './steps.js';
import type { ExchangeStepInput, GatewayObservation, InstallEvent, MemberContext, MemberEvent, MemberStepInput, StepDone } from './types.js';

// How often a gateway address is polled while waiting (the Istio doc test polls every second).
export const DEFAULT_GATEWAY_POLL_MS = 1000;

// A step's input from a cluster's place in the mesh (an install's or cluster add's member, a repair's cluster).
export function memberStep(context: Pick<MemberContext, 'runId' | 'cluster' | 'meshID' | 'revision' | 'istioVersion'>, step: StepId): MemberStepInput {
  return {
    runId: context.runId,
    step,
    cluster: context.cluster.name,
    context: context.cluster.context,
    meshID: context.meshID,
    network: context.cluster.network,
    ...withValues({ revision: context.revision, istioVersion: context.istioVersion }),
  };
}

export function onMember(context: MemberContext): string {
  return context.cluster.name;
}

export function memberActions() {
  return {
    ...journalActions<MemberContext, MemberEvent>(),
    // A gateway wait's deadline lives in context, so it survives a restore (timers do not).
    startGatewayDeadline: assign<MemberContext, MemberEvent, undefined, MemberEvent, never>(({ context, event }) => ({
      gatewayDeadline: outputOf<StepDone>(event).finishedAt + context.gatewayTimeoutMs,
      gatewayObservation: undefined,
    })),
    restartGatewayDeadline: assign<MemberContext, MemberEvent, undefined, MemberEvent, never>(({ context, event }) =>
      event.type === 'RETRY' ? { gatewayDeadline: event.at + event.gatewayTimeoutMs, gatewayTimeoutMs: event.gatewayTimeoutMs } : context,
    ),
    rememberGatewayObservation: assign<MemberContext, MemberEvent, undefined, MemberEvent, never>(({ event }) => ({
      gatewayObservation: outputOf<GatewayObservation>(event),
    })),
    rememberPrimaryInstalled: assign<MemberContext, MemberEvent, undefined, MemberEvent, never>(({ context, event }) =>
      event.type === 'PRIMARY_INSTALLED' ? { primariesInstalled: [...new Set([...context.primariesInstalled, event.name])] } : context,
    ),
    announceDone: sendParent<MemberContext, MemberEvent, undefined, InstallEvent, MemberEvent>(({ context }) => ({
      type: 'MEMBER_DONE',
      name: context.cluster.name,
    })),
  };
}

export function memberGuards() {
  return {
    // status.loadBalancer.ingress[0].ip is set on this cluster's east-west gateway service.
    gatewayIpReady: ({ context }: { context: MemberContext }) => Boolean(context.gatewayObservation?.ip),
    // Only a hostname: the EKS case, which remotes and cross-network traffic cannot use.
    gatewayHostnameOnly: ({ context }: { context: MemberContext }) => !context.gatewayObservation?.ip && Boolean(context.gatewayObservation?.hostname),
    gatewayDeadlinePassed: ({ context }: { context: MemberContext }) => (context.gatewayObservation?.observedAt ?? 0) >= (context.gatewayDeadline ?? 0),
    // The primaries this cluster's secret goes to run their control planes (istio-system is theirs).
    secretHoldersInstalled: ({ context }: { context: MemberContext }) => context.plan.exchangeTargets.every((t) => context.primariesInstalled.includes(t.name)),
  };
}

// install-eastwest-gateway and the wait for its address, as both kinds of child run them; `then` follows.
export function gatewayStates<const A extends string = never>(id: 'primary' | 'remote', then: string, onAddress: readonly A[]) {
  return {
    installEastwestGateway: stepState({
      step: 'install-eastwest-gateway',
      src: 'installEastwestGateway',
      cluster: onMember,
      input: ({ context }: { context: MemberContext }) => memberStep(context, 'install-eastwest-gateway'),
      target: `#${id}.awaitGatewayAddress`,
      onSuccess: ['startGatewayDeadline'],
    }),
    awaitGatewayAddress: pollingStepState({
      step: 'await-gateway-address',
      src: 'probeGatewayAddress',
      cluster: onMember,
      input: ({ context }: { context: MemberContext }) => memberStep(context, 'await-gateway-address'),
      remember: 'rememberGatewayObservation',
      pause: 'pause',
      pauseInput: ({ context }: { context: MemberContext }) => ({
        ms: context.gatewayPollMs ?? DEFAULT_GATEWAY_POLL_MS,
        step: 'await-gateway-address' as const,
        cluster: context.cluster.name,
      }),
      done: 'gatewayIpReady',
      target: `#${id}.${then}`,
      onSuccess: onAddress,
      verdicts: [
        {
          guard: 'gatewayHostnameOnly',
          verdict: (context: MemberContext) => ({
            kind: 'gateway-hostname-only',
            cluster: context.cluster.name,
            hostname: context.gatewayObservation?.hostname ?? '',
            remotes: context.plan.remotes,
          }),
        },
        {
          guard: 'gatewayDeadlinePassed',
          verdict: (context: MemberContext) => ({ kind: 'gateway-no-address', cluster: context.cluster.name, waitedMs: context.gatewayTimeoutMs }),
        },
      ],
      onRetry: ['restartGatewayDeadline'],
    }),
  };
}

// exchange-secret once the primaries it goes to run their control planes; then the child is done.
export function exchangeStates(id: 'primary' | 'remote') {
  return {
    exchangeDecision: { always: [{ guard: 'exchangesSecret' as const, target: 'awaitingSecretHolders' }, { target: 'done' }] },
    awaitingSecretHolders: { tags: ['waiting'], always: { guard: 'secretHoldersInstalled' as const, target: 'exchangeSecret' } },
    exchangeSecret: stepState({
      step: 'exchange-secret',
      src: 'exchangeSecret',
      cluster: onMember,
      input: ({ context }: { context: MemberContext }): ExchangeStepInput => ({
        ...memberStep(context, 'exchange-secret'),
        holders: context.plan.exchangeTargets,
      }),
      target: `#${id}.done`,
    }),
    done: { type: 'final' as const, entry: 'announceDone' as const },
  };
}

export function memberActors() {
  return {
    installEastwestGateway: placeholder<StepDone, MemberStepInput>('installEastwestGateway'),
    probeGatewayAddress: placeholder<GatewayObservation, MemberStepInput>('probeGatewayAddress'),
    pause: placeholder<void, { ms: number; step: StepId; cluster: string }>('pause'),
    labelNetwork: placeholder<StepDone, MemberStepInput>('labelNetwork'),
    exchangeSecret: placeholder<StepDone, ExchangeStepInput>('exchangeSecret'),
  };
}
