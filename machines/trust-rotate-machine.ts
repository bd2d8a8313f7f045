// trust rotate --intermediate as one XState machine: preflight, then the primaries one at a time, each through
// four steps before the next begins: a new intermediate of the same root (mint), cacerts replaced (plug), istiod
// made to load it (load), and the gate: istiod serving the new chain (await). One primary at a time keeps every
// other control plane as it was while one changes, so a failure stops the rotation with at most one primary
// between two intermediates (both under the same root: mTLS holds either way). The cursor and the minted
// intermediate's public facts live in context, so a resumed run restarts the step in flight and never a
// finished primary. Pure: actors and journal actions are placeholders bound by the engine.
import { assign, setup } from 'xstate';
import { placeholder } from './placeholders.js';
import { journalActions, outputOf, preflightInput, stepState, withValues } from './step-state.js';
import { ALL_CLUSTERS, type StepId } from './steps.js';
import { primariesOf } from './topology.js';
import type { MintedIntermediate, TrustRotateContext, TrustRotateEvent, TrustRotateInput, TrustRotateStepInput } from './trust-rotate-types.js';
import type { MeshCluster, PreflightInput, PreflightOutput, StepDone } from './types.js';

export const TRUST_ROTATE_MACHINE_VERSION = 1;

// The primaries rotated, in the config's order.
export function rotatedPrimaries(input: Pick<TrustRotateInput, 'members'>): MeshCluster[] {
  return primariesOf({ members: input.members });
}

function current(context: TrustRotateContext): MeshCluster {
  const primary = rotatedPrimaries(context)[context.cursor];
  if (!primary) throw new Error(`trust rotate has no primary ${context.cursor}`);
  return primary;
}

const onPrimary = (context: TrustRotateContext) => current(context).name;

function turnInput(context: TrustRotateContext, step: StepId): TrustRotateStepInput {
  const primary = current(context);
  return {
    runId: context.runId,
    step,
    cluster: primary.name,
    context: primary.context,
    gateTimeoutMs: context.gateTimeoutMs,
    ...(context.minted ? { minted: context.minted } : {}),
    ...withValues({ revision: context.revision }),
  };
}

const turnStep = <const S extends string>(step: StepId, src: S, target: string, onSuccess: readonly 'rememberMinted'[] = []) =>
  stepState({
    step,
    src,
    cluster: onPrimary,
    input: ({ context }: { context: TrustRotateContext }) => turnInput(context, step),
    target,
    onSuccess,
  });

export const trustRotateMachine = setup({
  types: {} as { context: TrustRotateContext; input: TrustRotateInput; events: TrustRotateEvent },
  actors: {
    preflight: placeholder<PreflightOutput, PreflightInput>('preflight'),
    mintIntermediate: placeholder<MintedIntermediate, TrustRotateStepInput>('mintIntermediate'),
    plugIntermediate: placeholder<StepDone, TrustRotateStepInput>('plugIntermediate'),
    loadIntermediate: placeholder<StepDone, TrustRotateStepInput>('loadIntermediate'),
    awaitIstiodChain: placeholder<StepDone, TrustRotateStepInput>('awaitIstiodChain'),
  },
  actions: {
    ...journalActions<TrustRotateContext, TrustRotateEvent>(),
    // The new intermediate's public facts: the later steps of this primary act on exactly this one.
    rememberMinted: assign({ minted: ({ event }) => outputOf<MintedIntermediate>(event) }),
    // The next primary starts from nothing minted.
    advance: assign(({ context }) => ({ cursor: context.cursor + 1, minted: undefined })),
  },
  guards: {
    primaryLeft: ({ context }) => context.cursor < rotatedPrimaries(context).length,
  },
}).createMachine({
  id: 'trust-rotate',
  context: ({ input }) => ({ ...input, cursor: 0 }),
  initial: 'preflight',
  states: {
    preflight: stepState({
      step: 'preflight',
      src: 'preflight',
      cluster: (_: TrustRotateContext) => ALL_CLUSTERS,
      input: ({ context }) => preflightInput({ runId: context.runId, members: rotatedPrimaries(context) }),
      target: '#trust-rotate.rotating',
    }),
    rotating: {
      initial: 'choosing',
      states: {
        choosing: {
          always: [{ guard: 'primaryLeft', target: 'mint' }, { target: '#trust-rotate.rotated' }],
        },
        mint: turnStep('mint-intermediate', 'mintIntermediate', '#trust-rotate.rotating.plug', ['rememberMinted']),
        plug: turnStep('plug-intermediate', 'plugIntermediate', '#trust-rotate.rotating.load'),
        load: turnStep('load-intermediate', 'loadIntermediate', '#trust-rotate.rotating.gate'),
        // The gate: the next primary begins only once this one's istiod serves the new chain.
        gate: turnStep('await-istiod-chain', 'awaitIstiodChain', '#trust-rotate.rotating.advancing'),
        advancing: { entry: 'advance', always: 'choosing' },
      },
    },
    rotated: { type: 'final' },
  },
});

export type TrustRotateMachine = typeof trustRotateMachine;
