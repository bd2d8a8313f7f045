// The Istio "Install Primary-Remote" flow as one XState machine, top to bottom: preflight, then the primary
// and every remote side by side; each remote is a child machine, defined after the whole install.
// Pure: no I/O and no prose. Step actors and journal actions are placeholders bound by the engine with
// .provide(); failures the machine decides are verdicts, which the engine words.
import { and, assign, enqueueActions, sendParent, setup } from 'xstate';
import { placeholder } from './placeholders.js';
import { journalActions, outputOf, pollingStepState, preflightInput, stepState, withValues } from './step-state.js';
import type { StepId } from './steps.js';
import type {
  AnnotationObservation,
  GatewayObservation,
  InstallContext,
  InstallEvent,
  InstallInput,
  PreflightInput,
  PreflightOutput,
  PrimaryStepInput,
  RemoteContext,
  RemoteEvent,
  RemoteInput,
  RemoteStepInput,
  StepDone,
  TrustOutcome,
} from './types.js';

// Bumped when a change makes older persisted snapshots unsafe to restore.
export const INSTALL_MACHINE_VERSION = 1;

// How often the gateway address is polled while waiting (the Istio doc test polls every second).
export const DEFAULT_GATEWAY_POLL_MS = 1000;

export function remoteActorId(name: string): string {
  return `remote-${name}`;
}

// The region each remote runs in (defineRemoteMachine, below the install).
export const remoteMachine = defineRemoteMachine();

// ---- The whole install: preflight, then the primary and every remote side by side. ----

const primaryStep = (context: InstallContext, step: StepId): PrimaryStepInput => ({
  runId: context.runId,
  step,
  cluster: context.primary.name,
  context: context.primary.context,
  meshID: context.meshID,
  network: context.network,
  ...withValues({ revision: context.revision, istioVersion: context.istioVersion }),
});

const onPrimary = (context: InstallContext) => context.primary.name;
const PRIMARY = '#install.installing.primary';

export const installMachine = setup({
  types: {} as { context: InstallContext; input: InstallInput; events: InstallEvent },
  actors: {
    preflight: placeholder<PreflightOutput, PreflightInput>('preflight'),
    installPrimary: placeholder<StepDone, PrimaryStepInput>('installPrimary'),
    installEastwestGateway: placeholder<StepDone, PrimaryStepInput>('installEastwestGateway'),
    probeGatewayAddress: placeholder<GatewayObservation, PrimaryStepInput>('probeGatewayAddress'),
    pause: placeholder<void, { ms: number; step: StepId; cluster: string }>('pause'),
    exposeIstiod: placeholder<StepDone, PrimaryStepInput>('exposeIstiod'),
    establishTrust: placeholder<TrustOutcome, PrimaryStepInput>('establishTrust'),
    remote: remoteMachine,
  },
  actions: {
    ...journalActions<InstallContext, InstallEvent>(),
    rememberIstioVersion: assign({ istioVersion: ({ event }) => outputOf<PreflightOutput>(event).istioVersion }),
    // The wait's deadline lives in context, so it survives a restore (timers do not).
    startGatewayDeadline: assign({
      gatewayDeadline: ({ context, event }) => outputOf<StepDone>(event).finishedAt + context.gatewayTimeoutMs,
      gatewayObservation: undefined,
    }),
    // A retry waits as long again, with the timeout in force when it was sent.
    restartGatewayDeadline: assign(({ context, event }) =>
      event.type === 'RETRY' ? { gatewayDeadline: event.at + event.gatewayTimeoutMs, gatewayTimeoutMs: event.gatewayTimeoutMs } : context,
    ),
    rememberGatewayObservation: assign({ gatewayObservation: ({ event }) => outputOf<GatewayObservation>(event) }),
    useGatewayIp: assign({ discoveryAddress: ({ context }) => context.gatewayObservation?.ip }),
    spawnRemotes: enqueueActions(({ context, enqueue }) => {
      const { runId, primary, network, revision, istioVersion } = context;
      for (const remote of context.remotes) {
        const input: RemoteInput = { runId, remote, primary, network, ...withValues({ revision, istioVersion }) };
        enqueue.spawnChild('remote', { id: remoteActorId(remote.name), input });
      }
    }),
    announceDiscoveryAddress: enqueueActions(({ context, enqueue }) => {
      for (const remote of context.remotes) {
        if (context.attachedRemotes.includes(remote.name) || !context.discoveryAddress) continue;
        enqueue.sendTo(remoteActorId(remote.name), { type: 'DISCOVERY_ADDRESS_READY', address: context.discoveryAddress });
      }
    }),
    forwardRetry: enqueueActions(({ context, event, enqueue }) => {
      for (const remote of context.remotes) if (!context.attachedRemotes.includes(remote.name)) enqueue.sendTo(remoteActorId(remote.name), event);
    }),
  },
  guards: {
    // The config has a trust: section: cacerts must exist before istiod starts.
    trustConfigured: ({ context }) => Boolean(context.trust),
    // status.loadBalancer.ingress[0].ip is set on the east-west gateway service.
    gatewayIpReady: ({ context }) => Boolean(context.gatewayObservation?.ip),
    // Only a hostname: the EKS case, which this topology cannot use.
    gatewayHostnameOnly: ({ context }) => !context.gatewayObservation?.ip && Boolean(context.gatewayObservation?.hostname),
    gatewayDeadlinePassed: ({ context }) => (context.gatewayObservation?.observedAt ?? 0) >= (context.gatewayDeadline ?? 0),
    allRemotesAttached: ({ context }) => context.remotes.every((r) => context.attachedRemotes.includes(r.name)),
  },
}).createMachine({
  id: 'install',
  context: ({ input }) => ({ ...input, attachedRemotes: [] }),
  initial: 'preflight',
  states: {
    preflight: stepState({
      step: 'preflight',
      src: 'preflight',
      cluster: (_: InstallContext) => '*',
      input: ({ context }) => preflightInput(context, { checkRemoteServers: true, recordInventory: true }),
      target: '#install.installing',
      onSuccess: ['rememberIstioVersion'],
    }),

    installing: {
      type: 'parallel',
      entry: 'spawnRemotes',
      states: {
        primary: {
          initial: 'trustDecision',
          states: {
            trustDecision: { always: [{ guard: 'trustConfigured', target: 'establishTrust' }, { target: 'installPrimary' }] },
            // Istio's plugin CA: the cacerts secret is read only when istiod starts.
            establishTrust: stepState({
              step: 'establish-trust',
              src: 'establishTrust',
              cluster: onPrimary,
              input: ({ context }) => primaryStep(context, 'establish-trust'),
              target: `${PRIMARY}.installPrimary`,
            }),
            installPrimary: stepState({
              step: 'install-primary',
              src: 'installPrimary',
              cluster: onPrimary,
              input: ({ context }) => primaryStep(context, 'install-primary'),
              target: `${PRIMARY}.installEastwestGateway`,
            }),
            installEastwestGateway: stepState({
              step: 'install-eastwest-gateway',
              src: 'installEastwestGateway',
              cluster: onPrimary,
              input: ({ context }) => primaryStep(context, 'install-eastwest-gateway'),
              target: `${PRIMARY}.awaitGatewayAddress`,
              onSuccess: ['startGatewayDeadline'],
            }),
            awaitGatewayAddress: pollingStepState({
              step: 'await-gateway-address',
              src: 'probeGatewayAddress',
              cluster: onPrimary,
              input: ({ context }) => primaryStep(context, 'await-gateway-address'),
              remember: 'rememberGatewayObservation',
              pause: 'pause',
              pauseInput: ({ context }) => ({
                ms: context.gatewayPollMs ?? DEFAULT_GATEWAY_POLL_MS,
                step: 'await-gateway-address' as const,
                cluster: context.primary.name,
              }),
              done: 'gatewayIpReady',
              target: `${PRIMARY}.exposeIstiod`,
              onSuccess: ['useGatewayIp', 'announceDiscoveryAddress'],
              verdicts: [
                {
                  guard: 'gatewayHostnameOnly',
                  verdict: (context) => ({
                    kind: 'gateway-hostname-only',
                    hostname: context.gatewayObservation?.hostname ?? '',
                    remotes: context.remotes.map((r) => r.name),
                  }),
                },
                { guard: 'gatewayDeadlinePassed', verdict: (context) => ({ kind: 'gateway-no-address', waitedMs: context.gatewayTimeoutMs }) },
              ],
              onRetry: ['restartGatewayDeadline'],
            }),
            exposeIstiod: stepState({
              step: 'expose-istiod',
              src: 'exposeIstiod',
              cluster: onPrimary,
              input: ({ context }) => primaryStep(context, 'expose-istiod'),
              target: `${PRIMARY}.ready`,
            }),
            ready: { type: 'final' },
          },
        },

        // One child machine per remote (remoteMachine below), all running side by side.
        remotes: {
          initial: 'attaching',
          states: {
            attaching: {
              always: { guard: 'allRemotesAttached', target: 'attached' },
              on: {
                REMOTE_ATTACHED: { actions: assign({ attachedRemotes: ({ context, event }) => [...new Set([...context.attachedRemotes, event.name])] }) },
                RETRY: { actions: 'forwardRetry' },
              },
            },
            attached: { type: 'final' },
          },
        },
      },
      onDone: 'installed',
    },

    installed: { type: 'final' },
  },
});

// ---- One remote cluster: its namespace, the annotation, the remote profile, then the remote secret. ----
// (Function declarations: remoteMachine is built at the top of the module, before the install.)

function remoteStep(context: RemoteContext, step: StepId): RemoteStepInput {
  return {
    runId: context.runId,
    step,
    cluster: context.remote.name,
    context: context.remote.context,
    primary: context.primary,
    network: context.network,
    ...withValues({ revision: context.revision, istioVersion: context.istioVersion, discoveryAddress: context.discoveryAddress }),
  };
}

function onRemote(context: RemoteContext): string {
  return context.remote.name;
}

function defineRemoteMachine() {
  return setup({
    types: {} as { context: RemoteContext; input: RemoteInput; events: RemoteEvent },
    actors: {
      createRemoteNamespace: placeholder<StepDone, RemoteStepInput>('createRemoteNamespace'),
      annotateRemoteNamespace: placeholder<AnnotationObservation, RemoteStepInput>('annotateRemoteNamespace'),
      installRemote: placeholder<StepDone, RemoteStepInput>('installRemote'),
      attachRemote: placeholder<StepDone, RemoteStepInput>('attachRemote'),
    },
    actions: {
      ...journalActions<RemoteContext, RemoteEvent>(),
      rememberAnnotation: assign({ annotatedFor: ({ event }) => outputOf<AnnotationObservation>(event).controlPlaneClusters ?? undefined }),
      announceAttached: sendParent(({ context }: { context: RemoteContext }) => ({ type: 'REMOTE_ATTACHED', name: context.remote.name })),
    },
    guards: {
      // The primary's east-west gateway address reached this remote: the remote profile can point at it.
      discoveryAddressKnown: ({ context }) => typeof context.discoveryAddress === 'string' && context.discoveryAddress.length > 0,
      // topology.istio.io/controlPlaneClusters=<primary> was observed on the remote's istio-system.
      remoteNamespaceAnnotated: ({ context }) => context.annotatedFor === context.primary.name,
    },
  }).createMachine({
    id: 'remote',
    context: ({ input }) => ({ ...input }),
    // The address may arrive while this remote is still busy with its namespace: keep it for later.
    on: { DISCOVERY_ADDRESS_READY: { actions: assign({ discoveryAddress: ({ event }) => event.address }) } },
    initial: 'createRemoteNamespace',
    states: {
      createRemoteNamespace: stepState({
        step: 'create-remote-namespace',
        src: 'createRemoteNamespace',
        cluster: onRemote,
        input: ({ context }) => remoteStep(context, 'create-remote-namespace'),
        target: '#remote.annotateRemoteNamespace',
      }),
      annotateRemoteNamespace: stepState({
        step: 'annotate-remote-namespace',
        src: 'annotateRemoteNamespace',
        cluster: onRemote,
        input: ({ context }) => remoteStep(context, 'annotate-remote-namespace'),
        target: '#remote.awaitingDiscoveryAddress',
        onSuccess: ['rememberAnnotation'],
      }),
      // install-remote starts only when both guards hold.
      awaitingDiscoveryAddress: {
        tags: ['waiting'],
        always: { guard: and(['discoveryAddressKnown', 'remoteNamespaceAnnotated']), target: 'installRemote' },
      },
      installRemote: stepState({
        step: 'install-remote',
        src: 'installRemote',
        cluster: onRemote,
        input: ({ context }) => remoteStep(context, 'install-remote'),
        target: '#remote.attachRemote',
      }),
      attachRemote: stepState({
        step: 'attach-remote',
        src: 'attachRemote',
        cluster: onRemote,
        input: ({ context }) => remoteStep(context, 'attach-remote'),
        target: '#remote.attached',
        onSuccess: ['announceAttached'],
      }),
      attached: { type: 'final' },
    },
  });
}

export type InstallMachine = typeof installMachine;
export type RemoteMachine = typeof remoteMachine;
