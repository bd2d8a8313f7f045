// Istio's multicluster install as one XState machine, for every topology: preflight, then one child per
// cluster, side by side. What each child does follows from the mesh's shape (machines/topology.ts): a primary
// labels its network, installs its control plane, its east-west gateway, and exposes istiod and services as
// the mesh needs; a remote prepares its namespace, waits for its primary's address, installs the remote profile
// and attaches; every cluster's secret reaches every other primary. The children have modules of their own.
// Pure: no I/O and no prose. Step actors and journal actions are placeholders bound by the engine.
import { assign, enqueueActions, setup } from 'xstate';
import { placeholder } from './placeholders.js';
import { primaryMachine } from './primary-machine.js';
import { remoteMachine } from './remote-machine.js';
import { journalActions, outputOf, preflightInput, stepState, withValues } from './step-state.js';
import { memberPlan, primariesOf } from './topology.js';
import type { InstallContext, InstallEvent, InstallInput, MemberInput, MeshCluster, PreflightInput, PreflightOutput } from './types.js';

export { DEFAULT_GATEWAY_POLL_MS } from './member-states.js';
export { type PrimaryMachine, primaryMachine } from './primary-machine.js';
export { type RemoteMachine, remoteMachine } from './remote-machine.js';

// Bumped when a change makes older persisted snapshots unsafe to restore (2: one child per cluster).
export const INSTALL_MACHINE_VERSION = 2;

export function memberActorId(name: string): string {
  return `member-${name}`;
}

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
    // One child per cluster (primaryMachine and remoteMachine, in modules of their own), all side by side.
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

export type InstallMachine = typeof installMachine;
