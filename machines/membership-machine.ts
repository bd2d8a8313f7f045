// Day 2 on an installed mesh, as two XState machines: one cluster joins (cluster add) or leaves (cluster
// remove). A join runs only the steps the joining cluster needs, with the install's own child machine for its
// role; the clusters already there are touched only where the topology says their secrets must meet it. A
// leave takes the cluster's secrets off every primary before anything else, so no istiod routes into a
// cluster being emptied, then uninstalls it as uninstall does. Pure: step actors and journal actions are
// placeholders bound by the engine.
import { assign, enqueueActions, setup } from 'xstate';
import { memberActorId, memberInput, primaryMachine, remoteMachine } from './install-machine.js';
import { placeholder } from './placeholders.js';
import { childInputs, childStepInput, journalActions, outputOf, preflightInput, stepState, withValues } from './step-state.js';
import { controlPlaneOf, memberNamed, primariesOf, secretHoldersOf, secretsHeldBy } from './topology.js';
import type {
  ClusterChildInput,
  ClusterStepInput,
  DiscoveryAddress,
  FollowUpEvent,
  InstallEvent,
  JoinContext,
  JoinInput,
  LeaveContext,
  LeaveInput,
  MemberStepInput,
  PreflightInput,
  PreflightOutput,
  ReceiveStepInput,
  ReleaseStepInput,
  StepDone,
} from './types.js';

export const MEMBERSHIP_MACHINE_VERSION = 1;

const ref = (m: { name: string; context: string }) => ({ name: m.name, context: m.context });

// The joining cluster (the config the run recorded always names it).
function joiningOf(context: JoinInput) {
  const member = memberNamed(context, context.subject);
  if (!member) throw new Error(`cluster-add: ${context.subject} is not a member of the mesh it joins`);
  return member;
}

// The clusters a join reads or writes: the joining one and every primary (its secret's holders, its own).
function joinClusters(context: JoinInput) {
  const joining = joiningOf(context);
  return [joining, ...primariesOf(context).filter((p) => p.name !== joining.name)];
}

function stepOn(context: JoinContext, step: MemberStepInput['step'], cluster: { name: string; context: string; network: string }): MemberStepInput {
  return {
    runId: context.runId,
    step,
    cluster: cluster.name,
    context: cluster.context,
    meshID: context.meshID,
    network: cluster.network,
    ...withValues({ revision: context.revision, istioVersion: context.istioVersion }),
  };
}

// ---- cluster add ----

export const joinMachine = setup({
  types: {} as { context: JoinContext; input: JoinInput; events: InstallEvent },
  actors: {
    preflight: placeholder<PreflightOutput, PreflightInput>('preflight'),
    readDiscoveryAddress: placeholder<DiscoveryAddress, MemberStepInput>('readDiscoveryAddress'),
    receiveSecrets: placeholder<StepDone, ReceiveStepInput>('receiveSecrets'),
    primary: primaryMachine,
    remote: remoteMachine,
  },
  actions: {
    ...journalActions<JoinContext, InstallEvent>(),
    rememberIstioVersion: assign({ istioVersion: ({ event }) => outputOf<PreflightOutput>(event).istioVersion }),
    rememberAddress: assign({ discoveryAddress: ({ event }) => outputOf<DiscoveryAddress>(event).address }),
    // The install's child for the joining cluster's role, told that every primary already runs.
    spawnJoining: enqueueActions(({ context, enqueue }) => {
      const joining = joiningOf(context);
      const input = {
        ...memberInput(context, joining),
        primariesInstalled: primariesOf(context)
          .filter((p) => p.name !== joining.name)
          .map((p) => p.name),
        ...withValues({ discoveryAddress: context.discoveryAddress }),
      };
      enqueue.spawnChild(joining.role === 'primary' ? 'primary' : 'remote', { id: memberActorId(joining.name), input });
    }),
    forwardRetry: enqueueActions(({ context, event, enqueue }) => {
      if (!context.finished.includes(context.subject)) enqueue.sendTo(memberActorId(context.subject), event);
    }),
  },
  guards: {
    joiningRemote: ({ context }) => joiningOf(context).role === 'remote',
    joiningDone: ({ context }) => context.finished.includes(context.subject),
    // A joining primary holds every other cluster's secret, as every primary of the mesh does.
    receivesSecrets: ({ context }) => secretsHeldBy(context, context.subject).length > 0,
  },
}).createMachine({
  id: 'cluster-add',
  context: ({ input }) => ({ ...input, finished: [] }),
  initial: 'preflight',
  states: {
    preflight: stepState({
      step: 'preflight',
      src: 'preflight',
      cluster: (_: JoinContext) => '*',
      input: ({ context }) =>
        preflightInput(
          { runId: context.runId, members: joinClusters(context) },
          { checkRemoteServers: true, recordInventory: true, inventoryOf: [context.subject] },
        ),
      target: '#cluster-add.addressDecision',
      onSuccess: ['rememberIstioVersion'],
    }),
    addressDecision: { always: [{ guard: 'joiningRemote', target: 'readDiscoveryAddress' }, { target: 'joining' }] },
    // The remote profile points at its primary's east-west gateway, there since that primary was installed.
    readDiscoveryAddress: stepState({
      step: 'read-discovery-address',
      src: 'readDiscoveryAddress',
      cluster: (context: JoinContext) => joiningOf(context).controlPlane ?? '',
      input: ({ context }) => {
        const plane = controlPlaneOf(context, context.subject);
        return stepOn(context, 'read-discovery-address', plane ?? joiningOf(context));
      },
      target: '#cluster-add.joining',
      onSuccess: ['rememberAddress'],
    }),
    // The joining cluster's child: the install's steps for its role, and its secret on every primary.
    joining: {
      entry: 'spawnJoining',
      always: { guard: 'joiningDone', target: 'receiveDecision' },
      on: {
        MEMBER_DONE: { actions: assign({ finished: ({ context, event }) => [...new Set([...context.finished, event.name])] }) },
        RETRY: { actions: 'forwardRetry' },
      },
    },
    receiveDecision: { always: [{ guard: 'receivesSecrets', target: 'receiveSecrets' }, { target: 'joined' }] },
    receiveSecrets: stepState({
      step: 'receive-secrets',
      src: 'receiveSecrets',
      cluster: (context: JoinContext) => context.subject,
      input: ({ context }): ReceiveStepInput => ({
        ...stepOn(context, 'receive-secrets', joiningOf(context)),
        sources: secretsHeldBy(context, context.subject).map(ref),
      }),
      target: '#cluster-add.joined',
    }),
    joined: { type: 'final' },
  },
});

// ---- cluster remove ----

function leavingOf(context: LeaveInput): ClusterChildInput {
  const child = childInputs(context).find((c) => c.cluster.name === context.subject);
  if (!child) throw new Error(`cluster-remove: ${context.subject} is not a member of the mesh it leaves`);
  return child;
}

const leaveStep =
  (step: ClusterStepInput['step']) =>
  ({ context }: { context: LeaveContext }) =>
    childStepInput(leavingOf(context), step);
const onLeaving = (context: LeaveContext) => context.subject;

export const leaveMachine = setup({
  types: {} as { context: LeaveContext; input: LeaveInput; events: FollowUpEvent },
  actors: {
    preflight: placeholder<PreflightOutput, PreflightInput>('preflight'),
    removeSample: placeholder<StepDone, ClusterStepInput>('removeSample'),
    detachRemote: placeholder<StepDone, ClusterStepInput>('detachRemote'),
    releaseSecrets: placeholder<StepDone, ReleaseStepInput>('releaseSecrets'),
    uninstallRemote: placeholder<StepDone, ClusterStepInput>('uninstallRemote'),
    uninstallPrimary: placeholder<StepDone, ClusterStepInput>('uninstallPrimary'),
  },
  actions: journalActions<LeaveContext, FollowUpEvent>(),
  guards: {
    hasHolders: ({ context }) => secretHoldersOf(context, context.subject).length > 0,
    holdsSecrets: ({ context }) => secretsHeldBy(context, context.subject).length > 0,
    isRemote: ({ context }) => memberNamed(context, context.subject)?.role === 'remote',
  },
}).createMachine({
  id: 'cluster-remove',
  initial: 'preflight',
  context: ({ input }) => input,
  states: {
    preflight: stepState({
      step: 'preflight',
      src: 'preflight',
      cluster: (_: LeaveContext) => '*',
      input: ({ context }) => {
        const leaving = leavingOf(context);
        return preflightInput({ runId: context.runId, members: [leaving.cluster, ...leaving.step.holders] });
      },
      target: '#cluster-remove.removeSample',
    }),
    removeSample: stepState({
      step: 'remove-sample',
      src: 'removeSample',
      cluster: onLeaving,
      input: leaveStep('remove-sample'),
      target: '#cluster-remove.detachDecision',
    }),
    detachDecision: { always: [{ guard: 'hasHolders', target: 'detachRemote' }, { target: 'releaseDecision' }] },
    // Its secret leaves every primary before its Istio goes: nobody routes to it any more.
    detachRemote: stepState({
      step: 'detach-remote',
      src: 'detachRemote',
      cluster: onLeaving,
      input: leaveStep('detach-remote'),
      target: '#cluster-remove.releaseDecision',
    }),
    releaseDecision: { always: [{ guard: 'holdsSecrets', target: 'releaseSecrets' }, { target: 'uninstallDecision' }] },
    // A leaving primary's copies of the other clusters' credentials go, even where its istio-system stays.
    releaseSecrets: stepState({
      step: 'release-secrets',
      src: 'releaseSecrets',
      cluster: onLeaving,
      input: ({ context }): ReleaseStepInput => ({
        ...childStepInput(leavingOf(context), 'release-secrets'),
        sources: secretsHeldBy(context, context.subject).map(ref),
      }),
      target: '#cluster-remove.uninstallDecision',
    }),
    uninstallDecision: { always: [{ guard: 'isRemote', target: 'uninstallRemote' }, { target: 'uninstallPrimary' }] },
    uninstallRemote: stepState({
      step: 'uninstall-remote',
      src: 'uninstallRemote',
      cluster: onLeaving,
      input: leaveStep('uninstall-remote'),
      target: '#cluster-remove.removed',
    }),
    uninstallPrimary: stepState({
      step: 'uninstall-primary',
      src: 'uninstallPrimary',
      cluster: onLeaving,
      input: leaveStep('uninstall-primary'),
      target: '#cluster-remove.removed',
    }),
    removed: { type: 'final' },
  },
});

export type JoinMachine = typeof joinMachine;
export type LeaveMachine = typeof leaveMachine;
