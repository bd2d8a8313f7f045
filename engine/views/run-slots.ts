// The (step, cluster) slots of a recorded run, from its kind and the config it ran with.
import {
  clusterFromLabel,
  clusterLabel,
  isRunKind,
  type RunKind,
  type StepId,
  slotLabel,
  stepSlots,
  WORKFLOW_STEPS,
  waveNumber,
} from '../../machines/steps.js';
import { UnknownFilterError } from '../../shared/errors.js';
import type { MeshConfig } from '../../shared/model.js';
import type { RunRecord } from '../../store/contract.js';
import { shapeOf } from '../config/mesh-shape.js';
import { maybeRunConfig } from './run-config.js';

// `attempts`: the run's journal, which says how many waves an upgrade cut (they are known once it ran).
export function slotsFor(
  kind: string,
  config: Pick<MeshConfig, 'clusters' | 'trust' | 'upgrade'>,
  attempts: ReadonlyArray<{ cluster: string }> = [],
): Array<{ step: StepId; cluster: string }> {
  const known: RunKind = isRunKind(kind) ? kind : 'install';
  const waves = Math.max(0, ...attempts.map((a) => waveNumber(a.cluster) ?? 0));
  return stepSlots(known, shapeOf(config), waves);
}

export function slotsOfRun(run: RunRecord): Array<{ step: StepId; cluster: string }> {
  const config = maybeRunConfig(run);
  return config ? slotsFor(run.kind, config) : [];
}

// A run's attempts by (step, cluster), each slot's in journal order: asked per slot, a scan of every attempt
// made a view of a 1024-remote run quadratic.
export function attemptsBySlot<A extends { step: string; cluster: string }>(attempts: readonly A[]): (step: string, cluster: string) => A[] {
  const bySlot = new Map<string, A[]>();
  for (const a of attempts) {
    const key = `${a.step}\u0000${a.cluster}`;
    const list = bySlot.get(key);
    if (list) list.push(a);
    else bySlot.set(key, [a]);
  }
  return (step, cluster) => bySlot.get(`${step}\u0000${cluster}`) ?? [];
}

// What a run's --step and --cluster filters may name: the steps of its slots and the clusters (as typed:
// "all" for the steps that span every cluster, wave-<n> for an upgrade's waves), in page order; slots the
// journal holds beyond its config (a damaged row) count too.
export function runNames(run: RunRecord, attempts: ReadonlyArray<{ step: string; cluster: string }>): { steps: string[]; clusters: string[] } {
  const config = maybeRunConfig(run);
  const slots = [...(config ? slotsFor(run.kind, config, attempts) : []), ...attempts];
  const clusters = new Set(config?.clusters.map((c) => c.name) ?? []);
  for (const s of slots) clusters.add(clusterLabel(s.cluster));
  return { steps: [...new Set(slots.map((s) => s.step))], clusters: [...clusters] };
}

// What resume --from takes for this run: each step (on every cluster it runs on), then each of its slots.
export function rerunForms(run: RunRecord, attempts: ReadonlyArray<{ cluster: string }>): string[] {
  const config = maybeRunConfig(run);
  if (!config) return [];
  const forms = new Set<string>();
  for (const slot of slotsFor(run.kind, config, attempts)) {
    forms.add(slot.step);
    forms.add(slotLabel(slot.step, slot.cluster));
  }
  return [...forms];
}

// --step and --cluster as typed (a cluster as its label: "all" for the steps that span every cluster).
export interface SlotFilter {
  step?: string;
  cluster?: string;
}

// The one rule of every read verb's filters: a step or cluster the run does not have is bad input (exit 2),
// named with its flag, the nearest known value and the known ones; a known one that matches nothing is not.
// An upgrade's waves are known once it has cut them, so any wave-<n> passes while it runs.
export function checkRunFilter(run: RunRecord, attempts: ReadonlyArray<{ step: string; cluster: string }>, filter: SlotFilter): void {
  if (filter.step === undefined && filter.cluster === undefined) return;
  const names = runNames(run, attempts);
  if (filter.step !== undefined && !names.steps.includes(filter.step))
    throw new UnknownFilterError('--step', filter.step, `${run.kind} run ${run.id}`, 'step', names.steps);
  const cutsWaves = isRunKind(run.kind) && WORKFLOW_STEPS[run.kind].some((s) => s.scope === 'wave');
  if (filter.cluster !== undefined && !names.clusters.includes(filter.cluster) && !(cutsWaves && waveNumber(filter.cluster) !== undefined))
    throw new UnknownFilterError('--cluster', filter.cluster, `run ${run.id}`, 'cluster', names.clusters);
}

// Whether a slot passes the filter.
export function matchesFilter(filter: SlotFilter, slot: { step: string; cluster: string }): boolean {
  return (filter.step === undefined || slot.step === filter.step) && (filter.cluster === undefined || slot.cluster === clusterFromLabel(filter.cluster));
}
