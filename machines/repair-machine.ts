// Repairing what a drift check found: preflight, then per cluster side by side only the repairs its drift asks
// for (install's own steps: the network label, stale secrets deleted, the mesh's CA, the control plane, the
// control-plane annotation, the remote profile, the east-west gateway, the expose objects, the members' secrets,
// the default tag), then once every cluster is repaired the links checked as verify-links checks them. Where one
// cluster's repair needs another's, it waits as install's children do: a remote is installed again only once its
// primary's gateway and expose objects are back (their address is read then), and a primary writes a reinstalled
// remote's secret only once that remote is done. Pure: step actors and journal actions are bound by the engine.
import { assign, enqueueActions, sendParent, setup } from 'xstate';
import type { RepairAction, RepairItem } from '../shared/model.js';
import { linkCheckMachine } from './links-machine.js';
import { memberStep } from './member-states.js';
import { placeholder } from './placeholders.js';
import { childInputs, journalActions, preflightInput, stepState, withValues } from './step-state.js';
import type { StepId } from './steps.js';
import type {
  ClusterRef,
  ClusterRole,
  FailureMemory,
  FollowUpInput,
  MemberRef,
  MemberStepInput,
  PreflightInput,
  PreflightOutput,
  RetryEvent,
  StepDone,
} from './types.js';

export const REPAIR_MACHINE_VERSION = 2;

export interface RepairInput extends FollowUpInput {
  meshID: string;
  repairs: RepairItem[];
}

export interface RepairContext extends RepairInput, FailureMemory {
  // Clusters whose repairs are done, then clusters whose links are checked.
  repaired: string[];
  checked: string[];
}

// What a cluster's repair tells the others: its primary side is back (`exposed`: control plane, gateway, expose
// objects), or its remote profile is (`profiled`).
export type RepairPoint = 'exposed' | 'profiled';
export type ReadyEvent = { type: 'READY'; name: string; point: RepairPoint };
export type RepairEvent = RetryEvent | ReadyEvent | { type: 'REPAIRED'; name: string } | { type: 'MEMBER_DONE'; name: string };

// Every repair step's input: the cluster's place in the mesh and what its drift asks for there.
export interface RepairStepInput extends MemberStepInput {
  role: ClusterRole;
  // A remote: the primary whose name its annotation carries and whose gateway it points at.
  primary?: MemberRef;
  // repair-secret: the clusters whose remote secrets this primary gets again.
  sources: ClusterRef[];
  // remove-stale-secret: the secrets deleted here, by name.
  secrets: string[];
  exposesIstiod: boolean;
  exposesServices: boolean;
  // A primary that serves remotes (its istiod is an external one).
  external: boolean;
  // repair-trust: replace a cacerts holding another CA (repair --force).
  forceCacerts: boolean;
  // repair-tag: the default tag is not mesh-run's (repair --force): what it replaces is journaled as such.
  forceTag: boolean;
}

export interface RepairChildInput {
  runId: string;
  meshID: string;
  revision?: string;
  cluster: MemberRef;
  primary?: MemberRef;
  actions: RepairAction[];
  sources: ClusterRef[];
  secrets: string[];
  external: boolean;
  forceCacerts: boolean;
  forceTag: boolean;
  // What of the other clusters' repairs must be done first: before repair-remote, before repair-secret.
  awaits: { remote: string[]; secret: string[] };
}

export interface RepairChildContext extends RepairChildInput, FailureMemory {
  // What the other clusters announced (`<point>:<cluster>`).
  ready: string[];
}

export function repairActorId(name: string): string {
  return `repair-${name}`;
}

function checkActorId(name: string): string {
  return `links-${name}`;
}

const onCluster = (context: RepairChildContext) => context.cluster.name;
const readyKey = (point: RepairPoint, name: string) => `${point}:${name}`;

function stepInput(context: RepairChildContext, step: StepId): RepairStepInput {
  const has = (a: RepairAction) => context.actions.includes(a);
  return {
    ...memberStep(context, step),
    role: context.cluster.role,
    ...(context.primary ? { primary: context.primary } : {}),
    sources: context.sources,
    secrets: context.secrets,
    exposesIstiod: has('expose-istiod'),
    exposesServices: has('expose-services'),
    external: context.external,
    forceCacerts: context.forceCacerts,
    forceTag: context.forceTag,
  };
}

// Each cluster with repairs: what to do there, and what it waits for, from the run's repair list.
export function repairChildInputs(input: RepairInput): RepairChildInput[] {
  const byName = new Map(input.members.map((m) => [m.name, m]));
  const ref = (name: string): MemberRef | undefined => {
    const m = byName.get(name);
    return m ? { name: m.name, context: m.context, role: m.role, network: m.network } : undefined;
  };
  const repairing = new Set(input.repairs.map((r) => r.cluster));
  const reinstalled = new Set(input.repairs.filter((r) => r.action === 'remote').map((r) => r.cluster));
  return input.members.flatMap((m) => {
    const mine = input.repairs.filter((r) => r.cluster === m.name);
    if (mine.length === 0) return [];
    const actions = [...new Set(mine.map((r) => r.action))];
    const sourceNames = [...new Set(mine.filter((r) => r.action === 'secret').map((r) => r.source ?? ''))];
    const primary = m.role === 'remote' ? ref(m.controlPlane ?? '') : undefined;
    const awaitsPrimary = actions.includes('remote') && primary !== undefined && repairing.has(primary.name);
    return [
      {
        runId: input.runId,
        meshID: input.meshID,
        ...withValues({ revision: input.revision }),
        cluster: { name: m.name, context: m.context, role: m.role, network: m.network },
        ...(primary ? { primary } : {}),
        actions,
        sources: sourceNames.flatMap((s) => {
          const c = ref(s);
          return c ? [{ name: c.name, context: c.context }] : [];
        }),
        secrets: [...new Set(mine.flatMap((r) => (r.action === 'stale-secret' && r.secret ? [r.secret] : [])))],
        external: input.members.some((r) => r.role === 'remote' && r.controlPlane === m.name),
        forceCacerts: mine.some((r) => r.action === 'cacerts' && r.force === true),
        forceTag: mine.some((r) => r.action === 'default-tag' && r.force === true),
        awaits: {
          remote: awaitsPrimary && primary ? [readyKey('exposed', primary.name)] : [],
          secret: sourceNames.filter((s) => reinstalled.has(s)).map((s) => readyKey('profiled', s)),
        },
      },
    ];
  });
}

type Wait = keyof RepairChildInput['awaits'];
type RepairSrc =
  | 'repairLabel'
  | 'removeStaleSecrets'
  | 'repairTrust'
  | 'repairControlPlane'
  | 'repairAnnotation'
  | 'repairRemote'
  | 'repairGateway'
  | 'repairExpose'
  | 'repairSecret'
  | 'repairTag';

// The steps in the order a cluster takes them, each with the actions that ask for it; `announce`: what its gate
// tells the other clusters on the way (whether the step runs or not), `awaits`: what it waits for first.
const ORDER: ReadonlyArray<{ step: StepId; src: RepairSrc; state: string; when: readonly RepairAction[]; awaits?: Wait; announce?: RepairPoint }> = [
  { step: 'repair-label', src: 'repairLabel', state: 'label', when: ['label'] },
  { step: 'remove-stale-secret', src: 'removeStaleSecrets', state: 'stale', when: ['stale-secret'] },
  { step: 'repair-trust', src: 'repairTrust', state: 'trust', when: ['cacerts'] },
  { step: 'repair-control-plane', src: 'repairControlPlane', state: 'controlPlane', when: ['control-plane'] },
  { step: 'repair-annotation', src: 'repairAnnotation', state: 'annotation', when: ['annotation'] },
  { step: 'repair-remote', src: 'repairRemote', state: 'remote', when: ['remote'], awaits: 'remote' },
  { step: 'repair-gateway', src: 'repairGateway', state: 'gateway', when: ['gateway'], announce: 'profiled' },
  { step: 'repair-expose', src: 'repairExpose', state: 'expose', when: ['expose-istiod', 'expose-services'] },
  { step: 'repair-secret', src: 'repairSecret', state: 'secret', when: ['secret'], awaits: 'secret', announce: 'exposed' },
  { step: 'repair-tag', src: 'repairTag', state: 'tag', when: ['default-tag'] },
];

// A gate before each step (run it, wait for the others first, or skip to the next gate) and the step itself.
function repairStates() {
  const states: Record<string, unknown> = {};
  ORDER.forEach((o, i) => {
    const next = ORDER[i + 1] ? `#repairCluster.gate-${ORDER[i + 1]?.state}` : '#repairCluster.repaired';
    const run = o.awaits ? `#repairCluster.wait-${o.state}` : `#repairCluster.${o.state}`;
    states[`gate-${o.state}`] = {
      ...(o.announce ? { entry: o.announce === 'exposed' ? 'announceExposed' : 'announceProfiled' } : {}),
      always: [{ guard: { type: 'asks', params: { when: o.when } }, target: run }, { target: next }],
    };
    if (o.awaits)
      states[`wait-${o.state}`] = {
        tags: ['waiting'],
        always: { guard: { type: 'othersReady', params: { wait: o.awaits } }, target: o.state },
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

type ChildEvent = RetryEvent | ReadyEvent;
const announce = (point: RepairPoint) =>
  sendParent<RepairChildContext, ChildEvent, undefined, RepairEvent, ChildEvent>(({ context }) => ({ type: 'READY', name: context.cluster.name, point }));

// One cluster: its repairs in order, each only if its drift asks for it.
export const repairClusterMachine = setup({
  types: {} as { context: RepairChildContext; input: RepairChildInput; events: ChildEvent },
  actors: {
    repairLabel: placeholder<StepDone, RepairStepInput>('repairLabel'),
    removeStaleSecrets: placeholder<StepDone, RepairStepInput>('removeStaleSecrets'),
    repairTrust: placeholder<StepDone, RepairStepInput>('repairTrust'),
    repairControlPlane: placeholder<StepDone, RepairStepInput>('repairControlPlane'),
    repairAnnotation: placeholder<StepDone, RepairStepInput>('repairAnnotation'),
    repairRemote: placeholder<StepDone, RepairStepInput>('repairRemote'),
    repairGateway: placeholder<StepDone, RepairStepInput>('repairGateway'),
    repairExpose: placeholder<StepDone, RepairStepInput>('repairExpose'),
    repairSecret: placeholder<StepDone, RepairStepInput>('repairSecret'),
    repairTag: placeholder<StepDone, RepairStepInput>('repairTag'),
  },
  actions: {
    ...journalActions<RepairChildContext, ChildEvent>(),
    announceRepaired: sendParent(({ context }: { context: RepairChildContext }) => ({ type: 'REPAIRED', name: context.cluster.name })),
    announceExposed: announce('exposed'),
    announceProfiled: announce('profiled'),
    rememberReady: assign({
      ready: ({ context, event }) => (event.type === 'READY' ? [...new Set([...context.ready, readyKey(event.point, event.name)])] : context.ready),
    }),
  },
  guards: {
    asks: ({ context }, params: { when: readonly RepairAction[] }) => context.actions.some((a) => params.when.includes(a)),
    othersReady: ({ context }, params: { wait: Wait }) => context.awaits[params.wait].every((k) => context.ready.includes(k)),
  },
}).createMachine({
  id: 'repairCluster',
  context: ({ input }) => ({ ...input, ready: [] }),
  on: { READY: { actions: 'rememberReady' } },
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
    // What one cluster's repair announces, every cluster still repairing hears (it may be waiting for it).
    forwardReady: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'READY') return;
      for (const c of repairChildInputs(context)) if (!context.repaired.includes(c.cluster.name)) enqueue.sendTo(repairActorId(c.cluster.name), event);
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
        READY: { actions: 'forwardReady' },
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
