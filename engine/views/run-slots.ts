// The (step, cluster) slots of a recorded run, from its kind and the config it ran with.
import { isRunKind, type RunKind, type StepId, stepSlots } from '../../machines/steps.js';
import type { MeshConfig } from '../../shared/model.js';
import type { RunRecord } from '../../store/contract.js';
import { shapeOf } from '../config/mesh-shape.js';
import { maybeRunConfig } from './run-config.js';

export function slotsFor(kind: string, config: Pick<MeshConfig, 'clusters' | 'trust'>): Array<{ step: StepId; cluster: string }> {
  const known: RunKind = isRunKind(kind) ? kind : 'install';
  return stepSlots(known, shapeOf(config));
}

export function slotsOfRun(run: RunRecord): Array<{ step: StepId; cluster: string }> {
  const config = maybeRunConfig(run);
  return config ? slotsFor(run.kind, config) : [];
}
