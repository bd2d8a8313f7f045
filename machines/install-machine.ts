// Istio's multicluster install as one XState machine, for every topology: preflight, then one child per
// cluster, side by side. What each child does follows from the mesh's shape (machines/topology.ts): a primary
// labels its network, installs its control plane, its east-west gateway, and exposes istiod and services as
// the mesh needs; a remote prepares its namespace, waits for its primary's address, installs the remote profile
// and attaches; every cluster's secret reaches every other primary. The children are defined below the parent.
// Pure: no I/O and no prose. Step actors and journal actions are placeholders bound by the engine.
import { and, assign, enqueueActions, sendParent, setup } from 'xstate';
import { placeholder } from './placeholders.js';
import { journalActions, outputOf, pollingStepState, preflightInput, stepState, withValues } from './step-state.js';
import type { StepId } from './steps.js';
import { memberPlan, primariesOf } from './topology.js';
import type {
  AnnotationObservation,
  ExchangeStepInput,
  GatewayObservation,
  InstallContext,
  InstallEvent,
  InstallInput,
  MemberContext,
  MemberEvent,
  MemberInput,
  MemberStepInput,
  MeshCluster,
  PreflightInput,
  PreflightOutput,
  PrimaryStepInput,
  RemoteStepInput,
  StepDone,
  TrustOutcome,
} from './types.js';

// Bumped when a change makes older persisted snapshots unsafe to restore (2: one child per cluster).
export const INSTALL_MACHINE_VERSION = 2;

// How often a gateway address is polled while waiting (the Istio doc test polls every second).
export const DEFAULT_GATEWAY_POLL_MS = 1000;

export function memberActorId(name: string): string {
  return `member-${name}`;
}

// The two kinds of child (defined below the install).
export const primaryMachine = definePrimaryMachine();
export const remoteMachine = defineRemoteMachine();

// ---- The whole install: preflight, then every cluster's child. ----

export const installMachine = setup({
  types: {} as { context: InstallContext; input: InstallInput; events: InstallEvent },
  actors: { preflight: placeholder<PreflightOutput, PreflightInput>('preflight'), primary: primaryMachine, remote: remoteMachine },
  actions: {
    ...journalActions<InstallContext, InstallEvent>(),
    rememberIstioVersion: assign({ istioVersion: ({ event }) => outputOf<PreflightOutput>(event).istioVersion }),
    spawnMembers: enqueueActions(({ context, enqueue }) => {
      for (const member of context.members) {
        enqueue.spawnChild(member.role === 'primary' ? 'primary' : 'remote', { id: memberActorId(member.name), input: memberInput(context, member) });
      }
    }),
    // A primary's control plane is up: every child waiting to exchange secrets hears of it.
    announcePrimaryInstalled: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'PRIMARY_INSTALLED') return;
      for (const m of context.members) if (!context.finished.includes(m.name)) enqueue.sendTo(memberActorId(m.name), event);
    }),
    // A primary's address reaches the remotes it serves.
    announceAddress: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'DISCOVERY_ADDRESS_READY') return;
      for (const m of context.members) {
        if (m.role !== 'remote' || m.controlPlane !== event.primary || context.finished.includes(m.name)) continue;
        enqueue.sendTo(memberActorId(m.name), { type: 'DISCOVERY_ADDRESS_READY', address: event.address });
      }
    }),
    forwardRetry: enqueueActions(({ context, event, enqueue }) => {
      for (const m of context.members) if (!context.finished.includes(m.name)) enqueue.sendTo(memberActorId(m.name), event);
    }),
  },
  guards: {
    everyMemberDone: ({ context }) => context.members.every((m) => context.finished.includes(m.name)),
  },
}).createMachine({
  id: 'install',
  context: ({ input }) => ({ ...input, primariesInstalled: [], addresses: {}, finished: [] }),
  initial: 'preflight',
  states: {
    preflight: stepState({
      step: 'preflight',
      src: 'preflight',
      cluster: (_: InstallContext) => '*',
      input: ({ context }) => preflightInput(context, { checkRemoteServers: primariesOf(context).length > 0, recordInventory: true }),
      target: '#install.installing',
      onSuccess: ['rememberIstioVersion'],
    }),
    // One child per cluster (primaryMachine and remoteMachine below), all side by side.
    installing: {
      entry: 'spawnMembers',
      always: { guard: 'everyMemberDone', target: 'installed' },
      on: {
        PRIMARY_INSTALLED: {
          actions: [
            assign({ primariesInstalled: ({ context, event }) => [...new Set([...context.primariesInstalled, event.name])] }),
            'announcePrimaryInstalled',
          ],
        },
        DISCOVERY_ADDRESS_READY: {
          actions: [assign({ addresses: ({ context, event }) => ({ ...context.addresses, [event.primary]: event.address }) }), 'announceAddress'],
        },
        MEMBER_DONE: { actions: assign({ finished: ({ context, event }) => [...new Set([...context.finished, event.name])] }) },
        RETRY: { actions: 'forwardRetry' },
      },
    },
    installed: { type: 'final' },
  },
});

// One cluster's child input: its place in the mesh, decided from the mesh's shape.
export function memberInput(context: InstallInput & { istioVersion?: string }, member: MeshCluster): MemberInput {
  const shape = { members: context.members, trust: Boolean(context.trust) };
  const plane = member.role === 'remote' ? context.members.find((m) => m.name === member.controlPlane) : undefined;
  const ref = (m: MeshCluster) => ({ name: m.name, context: m.context, role: m.role, network: m.network });
  return {
    runId: context.runId,
    meshID: context.meshID,
    ...withValues({ revision: context.revision, istioVersion: context.istioVersion }),
    cluster: ref(member),
    ...(plane ? { controlPlane: ref(plane) } : {}),
    plan: memberPlan(shape, member.name),
    gatewayTimeoutMs: context.gatewayTimeoutMs,
    gatewayPollMs: context.gatewayPollMs,
  };
}

// ---- What both kinds of child share: the step inputs, the gateway wait, secrets to other primaries. ----

function memberStep(context: MemberContext, step: StepId): MemberStepInput {
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

function onMember(context: MemberContext): string {
  return context.cluster.name;
}

function memberActions() {
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

function memberGuards() {
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
function gatewayStates<const A extends string = never>(id: 'primary' | 'remote', then: string, onAddress: readonly A[]) {
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
function exchangeStates(id: 'primary' | 'remote') {
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

function memberActors() {
  return {
    installEastwestGateway: placeholder<StepDone, MemberStepInput>('installEastwestGateway'),
    probeGatewayAddress: placeholder<GatewayObservation, MemberStepInput>('probeGatewayAddress'),
    pause: placeholder<void, { ms: number; step: StepId; cluster: string }>('pause'),
    labelNetwork: placeholder<StepDone, MemberStepInput>('labelNetwork'),
    exchangeSecret: placeholder<StepDone, ExchangeStepInput>('exchangeSecret'),
  };
}

// ---- A primary: network label, cacerts, control plane, gateway, expose istiod and services. ----

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

// ---- A remote: its namespace, the annotation, its network, the remote profile, its secret, its gateway. ----

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

export type InstallMachine = typeof installMachine;
export type PrimaryMachine = typeof primaryMachine;
export type RemoteMachine = typeof remoteMachine;
