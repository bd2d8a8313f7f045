// Repairing what a drift check found: preflight, then per cluster side by side only the repairs its drift asks
// for (install's own steps: the network label, stale secrets deleted, the members' secrets written again, the
// control-plane annotation, the expose objects), then once every cluster is repaired the links checked as
// verify-links checks them. Pure: step actors and journal actions are bound by the engine with .provide().
import { assign, enqueueActions, sendParent, setup } from 'xstate';
import type { RepairAction, RepairItem } from '../shared/model.js';
import { linkCheckMachine } from './links-machine.js';
import { memberStep } from './member-states.js';
import { placeholder } from './placeholders.js';
import { childInputs, journalActions, preflightInput, stepState, withValues } from './step-state.js';
import type { StepId } from './steps.js';
import type { ClusterRef, FailureMemory, FollowUpInput, MemberRef, MemberStepInput, PreflightInput, PreflightOutput, RetryEvent, StepDone } from './types.js';

export const REPAIR_MACHINE_VERSION = 1;

export interface RepairInput extends FollowUpInput {
  meshID: string;
  repairs: RepairItem[];
}

export interface RepairContext extends RepairInput, FailureMemory {
  // Clusters whose repairs are done, then clusters whose links are checked.
  repaired: string[];
  checked: string[];
}

export type RepairEvent = RetryEvent | { type: 'REPAIRED'; name: string } | { type: 'MEMBER_DONE'; name: string };

// Every repair step's input: the cluster's place in the mesh and what its drift asks for there.
export interface RepairStepInput extends MemberStepInput {
  // A remote: the primary whose name its annotation carries.
  primary?: ClusterRef;
  // repair-secret: the clusters whose remote secrets this primary gets again.
  sources: ClusterRef[];
  // remove-stale-secret: the secrets deleted here, by name.
  secrets: string[];
  exposesIstiod: boolean;
  exposesServices: boolean;
  // A primary that exposes istiod serves remotes (its istiod is an external one).
  external: boolean;
}

export interface RepairChildInput {
  runId: string;
  meshID: string;
  revision?: string;
  cluster: MemberRef;
  primary?: ClusterRef;
  actions: RepairAction[];
  sources: ClusterRef[];
  secrets: string[];
}

export interface RepairChildContext extends RepairChildInput, FailureMemory {}

export function repairActorId(name: string): string {
  return `repair-${name}`;
}

function checkActorId(name: string): string {
  return `links-${name}`;
}

const onCluster = (context: RepairChildContext) => context.cluster.name;

function stepInput(context: RepairChildContext, step: StepId): RepairStepInput {
  const has = (a: RepairAction) => context.actions.includes(a);
  return {
    ...memberStep(context, step),
    ...(context.primary ? { primary: context.primary } : {}),
    sources: context.sources,
    secrets: context.secrets,
    exposesIstiod: has('expose-istiod'),
    exposesServices: has('expose-services'),
    external: has('expose-istiod'),
  };
}

// Each cluster with repairs: what to do there, from the run's repair list.
export function repairChildInputs(input: RepairInput): RepairChildInput[] {
  const byName = new Map(input.members.map((m) => [m.name, m]));
  const ref = (name: string): ClusterRef | undefined => {
    const m = byName.get(name);
    return m ? { name: m.name, context: m.context } : undefined;
  };
  return input.members.flatMap((m) => {
    const mine = input.repairs.filter((r) => r.cluster === m.name);
    if (mine.length === 0) return [];
    const sources = [...new Set(mine.filter((r) => r.action === 'secret').map((r) => r.source ?? ''))].flatMap((s) => ref(s) ?? []);
    const primary = m.role === 'remote' ? ref(m.controlPlane ?? '') : undefined;
    return [
      {
        runId: input.runId,
        meshID: input.meshID,
        ...withValues({ revision: input.revision }),
        cluster: { name: m.name, context: m.context, role: m.role, network: m.network },
        ...(primary ? { primary } : {}),
        actions: [...new Set(mine.map((r) => r.action))],
        sources,
        secrets: [...new Set(mine.flatMap((r) => (r.action === 'stale-secret' && r.secret ? [r.secret] : [])))],
      },
    ];
  });
}

// The steps in the order a cluster takes them, each with the actions that ask for it.
const ORDER: ReadonlyArray<{ step: StepId; src: RepairSrc; state: string; when: readonly RepairAction[] }> = [
  { step: 'repair-label', src: 'repairLabel', state: 'label', when: ['label'] },
  { step: 'remove-stale-secret', src: 'removeStaleSecrets', state: 'stale', when: ['stale-secret'] },
  { step: 'repair-secret', src: 'repairSecret', state: 'secret', when: ['secret'] },
  { step: 'repair-annotation', src: 'repairAnnotation', state: 'annotation', when: ['annotation'] },
  { step: 'repair-expose', src: 'repairExpose', state: 'expose', when: ['expose-istiod', 'expose-services'] },
];
type RepairSrc = 'repairLabel' | 'removeStaleSecrets' | 'repairSecret' | 'repairAnnotation' | 'repairExpose';

// A gate before each step (run it, or skip to the next gate) and the step itself.
function repairStates() {
  const states: Record<string, unknown> = {};
  ORDER.forEach((o, i) => {
    const next = ORDER[i + 1] ? `#repairCluster.gate-${ORDER[i + 1]?.state}` : '#repairCluster.repaired';
    states[`gate-${o.state}`] = {
      always: [{ guard: { type: 'asks', params: { when: o.when } }, target: o.state }, { target: next }],
    };
    states[o.state] = stepState({
      step: o.step,
      src: o.src,
      cluster: onCluster,
      input: ({ context }: { context: RepairChildContext }) => stepInput(context, o.step),
      target: next,
    });
  });
  return states;
}

// One cluster: its repairs in order, each only if its drift asks for it.
export const repairClusterMachine = setup({
  types: {} as { context: RepairChildContext; input: RepairChildInput; events: RetryEvent },
  actors: {
    repairLabel: placeholder<StepDone, RepairStepInput>('repairLabel'),
    removeStaleSecrets: placeholder<StepDone, RepairStepInput>('removeStaleSecrets'),
    repairSecret: placeholder<StepDone, RepairStepInput>('repairSecret'),
    repairAnnotation: placeholder<StepDone, RepairStepInput>('repairAnnotation'),
    repairExpose: placeholder<StepDone, RepairStepInput>('repairExpose'),
  },
  actions: {
    ...journalActions<RepairChildContext, RetryEvent>(),
    announceRepaired: sendParent(({ context }: { context: RepairChildContext }) => ({ type: 'REPAIRED', name: context.cluster.name })),
  },
  guards: {
    asks: ({ context }, params: { when: readonly RepairAction[] }) => context.actions.some((a) => params.when.includes(a)),
  },
}).createMachine({
  id: 'repairCluster',
  context: ({ input }) => ({ ...input }),
  initial: `gate-${ORDER[0]?.state}`,
  states: {
    ...(repairStates() as Record<string, never>),
    repaired: { type: 'final', entry: 'announceRepaired' },
  },
});

// The whole repair run.
export const repairMachine = setup({
  types: {} as { context: RepairContext; input: RepairInput; events: RepairEvent },
  actors: {
    preflight: placeholder<PreflightOutput, PreflightInput>('preflight'),
    repairCluster: repairClusterMachine,
    linkCheck: linkCheckMachine,
  },
  actions: {
    ...journalActions<RepairContext, RepairEvent>(),
    spawnRepairs: enqueueActions(({ context, enqueue }) => {
      for (const input of repairChildInputs(context)) enqueue.spawnChild('repairCluster', { id: repairActorId(input.cluster.name), input });
    }),
    spawnChecks: enqueueActions(({ context, enqueue }) => {
      for (const input of childInputs(context)) enqueue.spawnChild('linkCheck', { id: checkActorId(input.cluster.name), input });
    }),
    forwardRepairRetry: enqueueActions(({ context, event, enqueue }) => {
      for (const c of repairChildInputs(context)) if (!context.repaired.includes(c.cluster.name)) enqueue.sendTo(repairActorId(c.cluster.name), event);
    }),
    forwardCheckRetry: enqueueActions(({ context, event, enqueue }) => {
      for (const m of context.members) if (!context.checked.includes(m.name)) enqueue.sendTo(checkActorId(m.name), event);
    }),
  },
  guards: {
    allRepaired: ({ context }) => repairChildInputs(context).every((c) => context.repaired.includes(c.cluster.name)),
    allChecked: ({ context }) => context.members.every((m) => context.checked.includes(m.name)),
  },
}).createMachine({
  id: 'repair',
  context: ({ input }) => ({ ...input, repaired: [], checked: [] }),
  initial: 'preflight',
  states: {
    preflight: stepState({
      step: 'preflight',
      src: 'preflight',
      cluster: (_: RepairContext) => '*',
      input: ({ context }) => preflightInput(context),
      target: '#repair.repairing',
    }),
    // One child per cluster with repairs (repairClusterMachine above), side by side.
    repairing: {
      entry: 'spawnRepairs',
      on: {
        REPAIRED: { actions: assign({ repaired: ({ context, event }) => [...new Set([...context.repaired, event.name])] }) },
        RETRY: { actions: 'forwardRepairRetry' },
      },
      always: { guard: 'allRepaired', target: 'checking' },
    },
    // Then every cluster's links, as verify-links checks them (linkCheckMachine).
    checking: {
      entry: 'spawnChecks',
      on: {
        MEMBER_DONE: { actions: assign({ checked: ({ context, event }) => [...new Set([...context.checked, event.name])] }) },
        RETRY: { actions: 'forwardCheckRetry' },
      },
      always: { guard: 'allChecked', target: 'repaired' },
    },
    repaired: { type: 'final' },
  },
});

export type RepairMachine = typeof repairMachine;
