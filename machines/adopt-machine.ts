// Adopting a mesh mesh-run did not install: per cluster side by side, what the cluster runs is read and
// journaled as having existed before mesh-run (so uninstall keeps it unless --force, and names what --force
// deletes). Nothing on a cluster changes. Pure: the step actor and journal actions are bound with .provide().
import { assign, enqueueActions, sendParent, setup } from 'xstate';
import { placeholder } from './placeholders.js';
import { childInputs, childStepInput, journalActions, stepState } from './step-state.js';
import type { ClusterChildInput, ClusterStepInput, FailureMemory, FollowUpEvent, FollowUpInput, RetryEvent, StepDone } from './types.js';

export const ADOPT_MACHINE_VERSION = 1;

export interface RecordContext extends ClusterChildInput, FailureMemory {}

export interface AdoptContext extends FollowUpInput, FailureMemory {
  // Clusters whose existing Istio is journaled.
  recorded: string[];
}

export function recordActorId(name: string): string {
  return `record-${name}`;
}

const onCluster = (context: RecordContext) => context.cluster.name;

// One cluster: what it runs, recorded as mesh-run's starting point.
export const recordMachine = setup({
  types: {} as { context: RecordContext; input: ClusterChildInput; events: RetryEvent },
  actors: {
    recordExisting: placeholder<StepDone, ClusterStepInput>('recordExisting'),
  },
  actions: {
    ...journalActions<RecordContext, RetryEvent>(),
    announceRecorded: sendParent(({ context }: { context: RecordContext }) => ({ type: 'MEMBER_DONE', name: context.cluster.name })),
  },
}).createMachine({
  id: 'record',
  context: ({ input }) => ({ ...input }),
  initial: 'recordExisting',
  states: {
    recordExisting: stepState({
      step: 'record-existing',
      src: 'recordExisting',
      cluster: onCluster,
      input: ({ context }) => childStepInput(context, 'record-existing'),
      target: '#record.recorded',
    }),
    recorded: { type: 'final', entry: 'announceRecorded' },
  },
});

// The whole adoption: every cluster recorded, then the mesh is mesh-run's to run day-2 verbs on.
export const adoptMachine = setup({
  types: {} as { context: AdoptContext; input: FollowUpInput; events: FollowUpEvent },
  actors: { record: recordMachine },
  actions: {
    ...journalActions<AdoptContext, FollowUpEvent>(),
    spawnClusters: enqueueActions(({ context, enqueue }) => {
      for (const input of childInputs(context)) enqueue.spawnChild('record', { id: recordActorId(input.cluster.name), input });
    }),
    forwardRetry: enqueueActions(({ context, event, enqueue }) => {
      for (const m of context.members) if (!context.recorded.includes(m.name)) enqueue.sendTo(recordActorId(m.name), event);
    }),
  },
  guards: {
    allClustersRecorded: ({ context }) => context.members.every((m) => context.recorded.includes(m.name)),
  },
}).createMachine({
  id: 'adopt',
  context: ({ input }) => ({ ...input, recorded: [] }),
  initial: 'recording',
  states: {
    // One child per cluster (recordMachine above), side by side.
    recording: {
      entry: 'spawnClusters',
      on: {
        MEMBER_DONE: { actions: assign({ recorded: ({ context, event }) => [...new Set([...context.recorded, event.name])] }) },
        RETRY: { actions: 'forwardRetry' },
      },
      always: { guard: 'allClustersRecorded', target: 'adopted' },
    },
    adopted: { type: 'final' },
  },
});

export type AdoptMachine = typeof adoptMachine;
