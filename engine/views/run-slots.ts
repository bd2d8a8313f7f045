// The (step, cluster) slots of a recorded run, from its kind and the config it ran with.
import { isRunKind, type RunKind, type StepId, stepSlots, waveNumber } from '../../machines/steps.js';
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
