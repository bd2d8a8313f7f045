// A canary upgrade of the whole mesh as one XState machine, and its rollback as another. The upgrade goes
// phase by phase in the order of Istio's canary page, carried to every cluster: precheck; the new revision's
// control plane on each primary and its istiod exposed; the remotes' profile of the new revision, gated on the
// new istiod reporting every cluster synced; the data plane wave by wave, each wave gated on its proxies
// connecting to the new revision; the east-west gateways and the default tag moved; the old revision removed
// (unless kept). Within a phase the clusters go one at a time: an upgrade is a deliberate walk, and a failure
// stops it with every other cluster as it was. Pure: actors and journal actions are placeholders.
import { assign, setup } from 'xstate';
import { placeholder } from './placeholders.js';
import { journalActions, outputOf, preflightInput, stepState } from './step-state.js';
import { ALL_CLUSTERS, type StepId, waveLabel } from './steps.js';
import { exposesIstiod, needsGateway, primariesOf, remotesOf, watchedBy } from './topology.js';
import type {
  MeshCluster,
  PreflightInput,
  PreflightOutput,
  RollbackContext,
  RollbackInput,
  StepDone,
  UpgradeContext,
  UpgradeEvent,
  UpgradeInput,
  UpgradeStepInput,
  WaveNamespace,
  WavePlan,
} from './types.js';

export const UPGRADE_MACHINE_VERSION = 1;

// One turn of a phase: the cluster (or wave) it runs on.
interface Turn {
  label: string;
  member?: MeshCluster;
  wave?: WaveNamespace[];
}

type Phase =
  | 'installRevision'
  | 'exposeIstiodRevision'
  | 'installRemoteRevision'
  | 'awaitRevisionSynced'
  | 'waves'
  | 'upgradeGateway'
  | 'flipTag'
  | 'removeOldRevision'
  | 'restoreTag'
  | 'restoreGateway'
  | 'removeRemoteRevision'
  | 'removeNewRevision';

const onMember = (m: MeshCluster): Turn => ({ label: m.name, member: m });

// Which clusters (or waves) each phase visits, in order.
export function turnsOf(context: UpgradeInput & { waves?: WaveNamespace[][] }, phase: Phase): Turn[] {
  const shape = { members: context.members };
  const primaries = primariesOf(shape);
  const remotes = remotesOf(shape);
  switch (phase) {
    case 'installRevision':
    case 'removeNewRevision':
      return primaries.map(onMember);
    case 'exposeIstiodRevision':
      return primaries.filter((p) => exposesIstiod(shape, p.name)).map(onMember);
    case 'installRemoteRevision':
    case 'removeRemoteRevision':
      return remotes.map(onMember);
    case 'awaitRevisionSynced':
      return primaries.filter((p) => watchedBy(shape, p.name).length > 0).map(onMember);
    case 'waves':
      return (context.waves ?? []).map((wave, i) => ({ label: waveLabel(i + 1), wave }));
    case 'upgradeGateway':
    case 'restoreGateway':
      return context.members.filter((m) => m.role === 'primary' || needsGateway(shape, m.name)).map(onMember);
    case 'flipTag':
    case 'restoreTag':
      return context.members.map(onMember);
    // Remotes first: a remote's old injector goes before the istiod it points at.
    case 'removeOldRevision':
      return context.keepOld ? [] : [...remotes, ...primaries].map(onMember);
  }
}

function turnOf(context: UpgradeContext | RollbackContext, phase: Phase): Turn {
  const turn = turnsOf(context, phase)[context.cursor];
  if (!turn) throw new Error(`phase ${phase} has no turn ${context.cursor}`);
  return turn;
}

export function upgradeStepInput(context: UpgradeInput, step: StepId, turn?: Turn): UpgradeStepInput {
  const shape = { members: context.members };
  return {
    runId: context.runId,
    step,
    cluster: turn?.label ?? ALL_CLUSTERS,
    context: turn?.member?.context ?? turn?.wave?.[0]?.context ?? context.members[0]?.context ?? '',
    meshID: context.meshID,
    from: context.from,
    to: context.to,
    members: context.members,
    gateTimeoutMs: context.gateTimeoutMs,
    ...(turn?.member ? { member: turn.member, external: remotesOf(shape, turn.member.name).length > 0 } : {}),
    ...(turn?.wave ? { wave: turn.wave } : {}),
  };
}

// A phase that runs `step` once per turn, one turn at a time, then goes to `next`.
function phaseState<C extends UpgradeContext | RollbackContext, const S extends string>(machine: string, phase: Phase, step: StepId, src: S, next: string) {
  return {
    initial: 'choosing' as const,
    states: {
      choosing: {
        always: [
          { guard: { type: 'turnLeft' as const, params: { phase } }, target: 'working' },
          { target: `#${machine}.${next}`, actions: 'rewind' as const },
        ],
      },
      working: stepState({
        step,
        src,
        cluster: (context: C) => turnOf(context, phase).label,
        input: ({ context }: { context: C }) => upgradeStepInput(context, step, turnOf(context, phase)),
        target: `#${machine}.${phase}.advancing`,
      }),
      advancing: { entry: 'advance' as const, always: 'choosing' },
    },
  };
}

const upgradePhase = <const S extends string>(phase: Phase, step: StepId, src: S, next: string) =>
  phaseState<UpgradeContext, S>('upgrade', phase, step, src, next);
const rollbackPhase = <const S extends string>(phase: Phase, step: StepId, src: S, next: string) =>
  phaseState<RollbackContext, S>('upgrade-rollback', phase, step, src, next);

const turnLeft = ({ context }: { context: UpgradeContext | RollbackContext }, params: { phase: Phase }) =>
  context.cursor < turnsOf(context, params.phase).length;

export const upgradeMachine = setup({
  types: {} as { context: UpgradeContext; input: UpgradeInput; events: UpgradeEvent },
  actors: {
    preflight: placeholder<PreflightOutput, PreflightInput>('preflight'),
    precheckUpgrade: placeholder<StepDone, UpgradeStepInput>('precheckUpgrade'),
    installRevision: placeholder<StepDone, UpgradeStepInput>('installRevision'),
    exposeIstiodRevision: placeholder<StepDone, UpgradeStepInput>('exposeIstiodRevision'),
    installRemoteRevision: placeholder<StepDone, UpgradeStepInput>('installRemoteRevision'),
    awaitRevisionSynced: placeholder<StepDone, UpgradeStepInput>('awaitRevisionSynced'),
    selectNamespaces: placeholder<WavePlan, UpgradeStepInput>('selectNamespaces'),
    moveWave: placeholder<StepDone, UpgradeStepInput>('moveWave'),
    awaitWave: placeholder<StepDone, UpgradeStepInput>('awaitWave'),
    upgradeGateway: placeholder<StepDone, UpgradeStepInput>('upgradeGateway'),
    flipTag: placeholder<StepDone, UpgradeStepInput>('flipTag'),
    removeOldRevision: placeholder<StepDone, UpgradeStepInput>('removeOldRevision'),
  },
  actions: {
    ...journalActions<UpgradeContext, UpgradeEvent>(),
    advance: assign({ cursor: ({ context }) => context.cursor + 1 }),
    rewind: assign({ cursor: 0 }),
    // The waves as select-namespaces cut them: every later wave step acts on exactly these namespaces.
    rememberWaves: assign({ waves: ({ event }) => outputOf<WavePlan>(event).waves }),
  },
  guards: { turnLeft },
}).createMachine({
  id: 'upgrade',
  context: ({ input }) => ({ ...input, cursor: 0, waves: [] }),
  initial: 'preflight',
  states: {
    preflight: stepState({
      step: 'preflight',
      src: 'preflight',
      cluster: (_: UpgradeContext) => ALL_CLUSTERS,
      input: ({ context }) => preflightInput({ runId: context.runId, members: context.members }),
      target: '#upgrade.precheck',
    }),
    precheck: stepState({
      step: 'precheck-upgrade',
      src: 'precheckUpgrade',
      cluster: (_: UpgradeContext) => ALL_CLUSTERS,
      input: ({ context }) => upgradeStepInput(context, 'precheck-upgrade'),
      target: '#upgrade.installRevision',
    }),
    // Control planes: the new revision beside the old on every primary, then its istiod on the gateway.
    installRevision: upgradePhase('installRevision', 'install-revision', 'installRevision', 'exposeIstiodRevision'),
    exposeIstiodRevision: upgradePhase('exposeIstiodRevision', 'expose-istiod-revision', 'exposeIstiodRevision', 'installRemoteRevision'),
    // Remotes: their injector and validation of the new revision; gate: the new istiod reads every cluster.
    installRemoteRevision: upgradePhase('installRemoteRevision', 'install-remote-revision', 'installRemoteRevision', 'awaitRevisionSynced'),
    awaitRevisionSynced: upgradePhase('awaitRevisionSynced', 'await-revision-synced', 'awaitRevisionSynced', 'selectNamespaces'),
    // Data plane: which namespaces move, recorded; then wave by wave, each gated on its proxies.
    selectNamespaces: stepState({
      step: 'select-namespaces',
      src: 'selectNamespaces',
      cluster: (_: UpgradeContext) => ALL_CLUSTERS,
      input: ({ context }) => upgradeStepInput(context, 'select-namespaces'),
      target: '#upgrade.waves',
      onSuccess: ['rememberWaves'],
    }),
    waves: {
      initial: 'choosing',
      states: {
        choosing: {
          always: [
            { guard: { type: 'turnLeft', params: { phase: 'waves' } }, target: 'moving' },
            { target: '#upgrade.upgradeGateway', actions: 'rewind' },
          ],
        },
        moving: stepState({
          step: 'move-wave',
          src: 'moveWave',
          cluster: (context: UpgradeContext) => turnOf(context, 'waves').label,
          input: ({ context }) => upgradeStepInput(context, 'move-wave', turnOf(context, 'waves')),
          target: '#upgrade.waves.gating',
        }),
        gating: stepState({
          step: 'await-wave',
          src: 'awaitWave',
          cluster: (context: UpgradeContext) => turnOf(context, 'waves').label,
          input: ({ context }) => upgradeStepInput(context, 'await-wave', turnOf(context, 'waves')),
          target: '#upgrade.waves.advancing',
        }),
        advancing: { entry: 'advance', always: 'choosing' },
      },
    },
    upgradeGateway: upgradePhase('upgradeGateway', 'upgrade-gateway', 'upgradeGateway', 'flipTag'),
    flipTag: upgradePhase('flipTag', 'flip-tag', 'flipTag', 'removeOldRevision'),
    // Only after every gate held; with --keep-old the phase has no turns.
    removeOldRevision: upgradePhase('removeOldRevision', 'remove-old-revision', 'removeOldRevision', 'upgraded'),
    upgraded: { type: 'final' },
  },
});

// The rollback: the upgrade's phases undone in reverse, from what it journaled before each change.
export const rollbackMachine = setup({
  types: {} as { context: RollbackContext; input: RollbackInput; events: UpgradeEvent },
  actors: {
    preflight: placeholder<PreflightOutput, PreflightInput>('preflight'),
    restoreTag: placeholder<StepDone, UpgradeStepInput>('restoreTag'),
    restoreGateway: placeholder<StepDone, UpgradeStepInput>('restoreGateway'),
    restoreNamespaces: placeholder<StepDone, UpgradeStepInput>('restoreNamespaces'),
    removeRemoteRevision: placeholder<StepDone, UpgradeStepInput>('removeRemoteRevision'),
    removeNewRevision: placeholder<StepDone, UpgradeStepInput>('removeNewRevision'),
  },
  actions: {
    ...journalActions<RollbackContext, UpgradeEvent>(),
    advance: assign({ cursor: ({ context }) => context.cursor + 1 }),
    rewind: assign({ cursor: 0 }),
  },
  guards: { turnLeft },
}).createMachine({
  id: 'upgrade-rollback',
  context: ({ input }) => ({ ...input, cursor: 0 }),
  initial: 'preflight',
  states: {
    preflight: stepState({
      step: 'preflight',
      src: 'preflight',
      cluster: (_: RollbackContext) => ALL_CLUSTERS,
      input: ({ context }) => preflightInput({ runId: context.runId, members: context.members }),
      target: '#upgrade-rollback.restoreTag',
    }),
    restoreTag: rollbackPhase('restoreTag', 'restore-tag', 'restoreTag', 'restoreGateway'),
    restoreGateway: rollbackPhase('restoreGateway', 'restore-gateway', 'restoreGateway', 'restoreNamespaces'),
    restoreNamespaces: stepState({
      step: 'restore-namespaces',
      src: 'restoreNamespaces',
      cluster: (_: RollbackContext) => ALL_CLUSTERS,
      input: ({ context }) => upgradeStepInput(context, 'restore-namespaces'),
      target: '#upgrade-rollback.removeRemoteRevision',
    }),
    removeRemoteRevision: rollbackPhase('removeRemoteRevision', 'remove-remote-revision', 'removeRemoteRevision', 'removeNewRevision'),
    removeNewRevision: rollbackPhase('removeNewRevision', 'remove-new-revision', 'removeNewRevision', 'rolledBack'),
    rolledBack: { type: 'final' },
  },
});

export type UpgradeMachine = typeof upgradeMachine;
export type RollbackMachine = typeof rollbackMachine;
