// A drift check as a run: one step across every cluster ('*') that reads the clusters, compares them with the
// journal and records what differs. One step, not one per cluster: the comparison needs every cluster's facts
// at once (a remote secret on one primary is judged against the member it names). Nothing on a cluster
// changes, so a re-run (a resume) only checks again. Pure: the step actor and journal actions are bound by the
// engine with .provide().
import { setup } from 'xstate';
import { placeholder } from './placeholders.js';
import { journalActions, stepState } from './step-state.js';
import { ALL_CLUSTERS } from './steps.js';
import type { FailureMemory, FollowUpInput, RetryEvent, StepDone, StepInput } from './types.js';

export const DRIFT_MACHINE_VERSION = 1;

export interface DriftCheckContext extends FollowUpInput, FailureMemory {}

// What the check step returns besides its end: how many drift items it recorded, and how many reads failed.
export interface DriftCheckDone extends StepDone {
  found: number;
  unread: number;
}

const everywhere = (_: DriftCheckContext) => ALL_CLUSTERS;

export function driftStepInput(context: DriftCheckContext): StepInput {
  return { runId: context.runId, step: 'check-drift', cluster: ALL_CLUSTERS, context: context.members[0]?.context ?? '' };
}

export const driftMachine = setup({
  types: {} as { context: DriftCheckContext; input: FollowUpInput; events: RetryEvent },
  actors: {
    checkDrift: placeholder<DriftCheckDone, StepInput>('checkDrift'),
  },
  actions: journalActions<DriftCheckContext, RetryEvent>(),
}).createMachine({
  id: 'drift',
  context: ({ input }) => ({ ...input }),
  initial: 'checking',
  states: {
    checking: stepState({
      step: 'check-drift',
      src: 'checkDrift',
      cluster: everywhere,
      input: ({ context }) => driftStepInput(context),
      target: '#drift.checked',
    }),
    checked: { type: 'final' },
  },
});

export type DriftMachine = typeof driftMachine;
