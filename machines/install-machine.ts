// The Istio "Install Primary-Remote" flow as one XState machine, top to bottom.
// Pure: no I/O here. Step actors and journal actions are placeholders bound by the engine with .provide().
import { and, assign, enqueueActions, sendParent, setup } from 'xstate';
import { placeholder } from './placeholders.js';
import { type FailureParams, failedOn, stepState, succeededOn } from './step-state.js';
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
  StepFailure,
  StepOutcomeParams,
  TrustOutcome,
} from './types.js';

// Bumped when a change makes older persisted snapshots unsafe to restore.
export const MACHINE_VERSION = 1;

// How often the gateway address is polled while waiting (the Istio doc test polls every second).
export const DEFAULT_GATEWAY_POLL_MS = 1000;

export function remoteActorId(name: string): string {
  return `remote-${name}`;
}

function formatWait(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000}m` : `${Math.round(ms / 1000)}s`;
}

// ---------------------------------------------------------------------------------------------
// One remote cluster: its namespace, the annotation, the remote profile, then the remote secret.
// ---------------------------------------------------------------------------------------------

const remoteStep = (context: RemoteContext, step: StepId): RemoteStepInput => ({
  runId: context.runId,
  step,
  cluster: context.remote.name,
  context: context.remote.context,
  primary: context.primary,
  network: context.network,
  ...(context.revision ? { revision: context.revision } : {}),
  ...(context.istioVersion ? { istioVersion: context.istioVersion } : {}),
  ...(context.discoveryAddress ? { discoveryAddress: context.discoveryAddress } : {}),
});

const onRemote = (context: RemoteContext) => context.remote.name;
const remoteSucceeded = (step: StepId) => succeededOn<RemoteContext>(step, onRemote);
const remoteFailed = (step: StepId) => failedOn<RemoteContext>(step, onRemote);

export const remoteMachine = setup({
  types: {} as { context: RemoteContext; input: RemoteInput; events: RemoteEvent },
  actors: {
    createRemoteNamespace: placeholder<StepDone, RemoteStepInput>('createRemoteNamespace'),
    annotateRemoteNamespace: placeholder<AnnotationObservation, RemoteStepInput>('annotateRemoteNamespace'),
    installRemote: placeholder<StepDone, RemoteStepInput>('installRemote'),
    attachRemote: placeholder<StepDone, RemoteStepInput>('attachRemote'),
  },
  actions: {
    recordStepSucceeded: (_, _params: StepOutcomeParams) => {},
    recordStepFailed: (_, _params: StepOutcomeParams) => {},
    rememberFailure: assign((_, params: FailureParams) => ({ lastFailure: { ...params.failure, step: params.step, cluster: params.cluster } })),
    announceAttached: sendParent(({ context }: { context: RemoteContext }) => ({ type: 'REMOTE_ATTACHED', name: context.remote.name })),
  },
  guards: {
    // The primary's east-west gateway has an IP the remote profile can point at.
    gatewayIpReady: ({ context }) => typeof context.discoveryAddress === 'string' && context.discoveryAddress.length > 0,
    // topology.istio.io/controlPlaneClusters=<primary> was observed on the remote's istio-system.
    remoteNamespaceAnnotated: ({ context }) => context.annotatedFor === context.primary.name,
  },
}).createMachine({
  id: 'remote',
  context: ({ input }) => ({ ...input }),
  // The address may arrive while this remote is still busy with its namespace: keep it for later.
  on: {
    DISCOVERY_ADDRESS_READY: { actions: assign({ discoveryAddress: ({ event }) => event.address }) },
  },
  initial: 'createRemoteNamespace',
  states: {
    createRemoteNamespace: {
      meta: { step: 'create-remote-namespace' },
      initial: 'running',
      states: {
        running: {
          tags: ['busy'],
          invoke: {
            src: 'createRemoteNamespace',
            input: ({ context }) => remoteStep(context, 'create-remote-namespace'),
            onDone: { target: '#remote.annotateRemoteNamespace', actions: remoteSucceeded('create-remote-namespace') },
            onError: { target: 'failed', actions: remoteFailed('create-remote-namespace') },
          },
        },
        failed: { tags: ['failed'], on: { RETRY: 'running' } },
      },
    },
    annotateRemoteNamespace: {
      meta: { step: 'annotate-remote-namespace' },
      initial: 'running',
      states: {
        running: {
          tags: ['busy'],
          invoke: {
            src: 'annotateRemoteNamespace',
            input: ({ context }) => remoteStep(context, 'annotate-remote-namespace'),
            onDone: {
              target: '#remote.awaitingDiscoveryAddress',
              actions: [assign({ annotatedFor: ({ event }) => event.output.controlPlaneClusters ?? undefined }), remoteSucceeded('annotate-remote-namespace')],
            },
            onError: { target: 'failed', actions: remoteFailed('annotate-remote-namespace') },
          },
        },
        failed: { tags: ['failed'], on: { RETRY: 'running' } },
      },
    },
    // install-remote starts only when both guards hold.
    awaitingDiscoveryAddress: {
      tags: ['waiting'],
      always: { guard: and(['gatewayIpReady', 'remoteNamespaceAnnotated']), target: 'installRemote' },
    },
    installRemote: {
      meta: { step: 'install-remote' },
      initial: 'running',
      states: {
        running: {
          tags: ['busy'],
          invoke: {
            src: 'installRemote',
            input: ({ context }) => remoteStep(context, 'install-remote'),
            onDone: { target: '#remote.attachRemote', actions: remoteSucceeded('install-remote') },
            onError: { target: 'failed', actions: remoteFailed('install-remote') },
          },
        },
        failed: { tags: ['failed'], on: { RETRY: 'running' } },
      },
    },
    attachRemote: {
      meta: { step: 'attach-remote' },
      initial: 'running',
      states: {
        running: {
          tags: ['busy'],
          invoke: {
            src: 'attachRemote',
            input: ({ context }) => remoteStep(context, 'attach-remote'),
            onDone: { target: '#remote.attached', actions: [remoteSucceeded('attach-remote'), 'announceAttached'] },
            onError: { target: 'failed', actions: remoteFailed('attach-remote') },
          },
        },
        failed: { tags: ['failed'], on: { RETRY: 'running' } },
      },
    },
    attached: { type: 'final' },
  },
});

// ---------------------------------------------------------------------------------------------
// The whole install: preflight, then the primary and every remote side by side.
// ---------------------------------------------------------------------------------------------

const primaryStep = (context: InstallContext, step: StepId): PrimaryStepInput => ({
  runId: context.runId,
  step,
  cluster: context.primary.name,
  context: context.primary.context,
  meshID: context.meshID,
  network: context.network,
  ...(context.revision ? { revision: context.revision } : {}),
  ...(context.istioVersion ? { istioVersion: context.istioVersion } : {}),
});

// preflight spans every cluster ('*'); the other steps of this region run on the primary.
const onInstallCluster = (step: StepId) => (context: InstallContext) => (step === 'preflight' ? '*' : context.primary.name);
const succeeded = (step: StepId) => succeededOn<InstallContext>(step, onInstallCluster(step));
const failedWith = (step: StepId, describe: (context: InstallContext, error: unknown) => StepFailure) =>
  failedOn<InstallContext>(step, onInstallCluster(step), describe);
const failed = (step: StepId) => failedOn<InstallContext>(step, onInstallCluster(step));

const gatewayHostnameOnly = (context: InstallContext): StepFailure => ({
  message: `the east-west gateway got the hostname ${context.gatewayObservation?.hostname ?? ''} and no IP: a hostname remotePilotAddress becomes an ExternalName service in ${context.remotes.map((r) => r.name).join(', ')}, which the injection webhook cannot call, so primary-remote does not work behind a hostname load balancer (as on AWS EKS)`,
  hint: 'give the gateway a load balancer that assigns an IP, or use the external control plane design with injectionURL (see Istio docs)',
  retryable: false,
});

const gatewayNoAddress = (context: InstallContext): StepFailure => ({
  message: `the east-west gateway service istio-eastwestgateway got no load-balancer IP within ${formatWait(context.gatewayTimeoutMs)}`,
  hint: `the primary cluster seems to have no LoadBalancer provider: install one (for example MetalLB on kind or bare metal), then run "mesh-run resume ${context.runId}"`,
  retryable: false,
});

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
    recordStepSucceeded: (_, _params: StepOutcomeParams) => {},
    recordStepFailed: (_, _params: StepOutcomeParams) => {},
    rememberFailure: assign((_, params: FailureParams) => ({ lastFailure: { ...params.failure, step: params.step, cluster: params.cluster } })),
    spawnRemotes: enqueueActions(({ context, enqueue }) => {
      for (const remote of context.remotes) {
        enqueue.spawnChild('remote', {
          id: remoteActorId(remote.name),
          input: {
            runId: context.runId,
            remote,
            primary: context.primary,
            network: context.network,
            ...(context.revision ? { revision: context.revision } : {}),
            ...(context.istioVersion ? { istioVersion: context.istioVersion } : {}),
          },
        });
      }
    }),
    announceDiscoveryAddress: enqueueActions(({ context, enqueue }) => {
      for (const remote of context.remotes) {
        if (context.attachedRemotes.includes(remote.name) || !context.discoveryAddress) continue;
        enqueue.sendTo(remoteActorId(remote.name), { type: 'DISCOVERY_ADDRESS_READY', address: context.discoveryAddress });
      }
    }),
    forwardRetry: enqueueActions(({ context, event, enqueue }) => {
      for (const remote of context.remotes) {
        if (context.attachedRemotes.includes(remote.name)) continue;
        enqueue.sendTo(remoteActorId(remote.name), event);
      }
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
    preflight: {
      meta: { step: 'preflight' },
      initial: 'running',
      states: {
        running: {
          tags: ['busy'],
          invoke: {
            src: 'preflight',
            input: ({ context }) => ({
              runId: context.runId,
              step: 'preflight' as const,
              cluster: '*',
              context: context.primary.context,
              clusters: [context.primary, ...context.remotes],
              checkRemoteServers: true,
              recordInventory: true,
            }),
            onDone: {
              target: '#install.installing',
              actions: [assign({ istioVersion: ({ event }) => event.output.istioVersion }), succeeded('preflight')],
            },
            onError: { target: 'failed', actions: failed('preflight') },
          },
        },
        failed: { tags: ['failed'], on: { RETRY: 'running' } },
      },
    },

    installing: {
      type: 'parallel',
      entry: 'spawnRemotes',
      states: {
        primary: {
          initial: 'trustDecision',
          states: {
            trustDecision: {
              always: [{ guard: 'trustConfigured', target: 'establishTrust' }, { target: 'installPrimary' }],
            },
            // Istio's plugin CA: the cacerts secret is read only when istiod starts.
            establishTrust: stepState({
              step: 'establish-trust',
              src: 'establishTrust',
              cluster: (context: InstallContext) => context.primary.name,
              input: ({ context }) => primaryStep(context, 'establish-trust'),
              target: '#install.installing.primary.installPrimary',
            }),
            installPrimary: {
              meta: { step: 'install-primary' },
              initial: 'running',
              states: {
                running: {
                  tags: ['busy'],
                  invoke: {
                    src: 'installPrimary',
                    input: ({ context }) => primaryStep(context, 'install-primary'),
                    onDone: { target: '#install.installing.primary.installEastwestGateway', actions: succeeded('install-primary') },
                    onError: { target: 'failed', actions: failed('install-primary') },
                  },
                },
                failed: { tags: ['failed'], on: { RETRY: 'running' } },
              },
            },
            installEastwestGateway: {
              meta: { step: 'install-eastwest-gateway' },
              initial: 'running',
              states: {
                running: {
                  tags: ['busy'],
                  invoke: {
                    src: 'installEastwestGateway',
                    input: ({ context }) => primaryStep(context, 'install-eastwest-gateway'),
                    onDone: {
                      target: '#install.installing.primary.awaitGatewayAddress',
                      // The wait's deadline lives in context, so it survives a restore (timers do not).
                      actions: [
                        assign({ gatewayDeadline: ({ context, event }) => event.output.finishedAt + context.gatewayTimeoutMs, gatewayObservation: undefined }),
                        succeeded('install-eastwest-gateway'),
                      ],
                    },
                    onError: { target: 'failed', actions: failed('install-eastwest-gateway') },
                  },
                },
                failed: { tags: ['failed'], on: { RETRY: 'running' } },
              },
            },
            awaitGatewayAddress: {
              meta: { step: 'await-gateway-address' },
              initial: 'probing',
              states: {
                probing: {
                  tags: ['busy'],
                  invoke: {
                    src: 'probeGatewayAddress',
                    input: ({ context }) => primaryStep(context, 'await-gateway-address'),
                    onDone: { target: 'judging', actions: assign({ gatewayObservation: ({ event }) => event.output }) },
                    onError: { target: 'failed', actions: failed('await-gateway-address') },
                  },
                },
                judging: {
                  always: [
                    {
                      guard: 'gatewayIpReady',
                      target: '#install.installing.primary.exposeIstiod',
                      actions: [
                        assign({ discoveryAddress: ({ context }) => context.gatewayObservation?.ip }),
                        'announceDiscoveryAddress',
                        succeeded('await-gateway-address'),
                      ],
                    },
                    { guard: 'gatewayHostnameOnly', target: 'failed', actions: failedWith('await-gateway-address', gatewayHostnameOnly) },
                    { guard: 'gatewayDeadlinePassed', target: 'failed', actions: failedWith('await-gateway-address', gatewayNoAddress) },
                    { target: 'waiting' },
                  ],
                },
                waiting: {
                  tags: ['busy'],
                  invoke: {
                    src: 'pause',
                    input: ({ context }) => ({
                      ms: context.gatewayPollMs ?? DEFAULT_GATEWAY_POLL_MS,
                      step: 'await-gateway-address' as const,
                      cluster: context.primary.name,
                    }),
                    onDone: 'probing',
                  },
                },
                failed: {
                  tags: ['failed'],
                  on: {
                    RETRY: {
                      target: 'probing',
                      actions: assign({
                        gatewayDeadline: ({ event }) => event.at + event.gatewayTimeoutMs,
                        gatewayTimeoutMs: ({ event }) => event.gatewayTimeoutMs,
                      }),
                    },
                  },
                },
              },
            },
            exposeIstiod: {
              meta: { step: 'expose-istiod' },
              initial: 'running',
              states: {
                running: {
                  tags: ['busy'],
                  invoke: {
                    src: 'exposeIstiod',
                    input: ({ context }) => primaryStep(context, 'expose-istiod'),
                    onDone: { target: '#install.installing.primary.ready', actions: succeeded('expose-istiod') },
                    onError: { target: 'failed', actions: failed('expose-istiod') },
                  },
                },
                failed: { tags: ['failed'], on: { RETRY: 'running' } },
              },
            },
            ready: { type: 'final' },
          },
        },

        // One child machine per remote (remoteMachine above), all running side by side.
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

export type InstallMachine = typeof installMachine;
export type RemoteMachine = typeof remoteMachine;
