// The (step, cluster) slots of a recorded run, from its kind and the config it ran with.
import { isRunKind, type RunKind, stepSlots, type StepId } from '../machines/steps.js';
import type { MeshConfig } from './config.js';

export function slotsFor(kind: string, config: Pick<MeshConfig, 'primary' | 'remotes' | 'trust'>): Array<{ step: StepId; cluster: string }> {
  const known: RunKind = isRunKind(kind) ? kind : 'install';
  return stepSlots(known, { primary: config.primary.name, remotes: config.remotes.map((r) => r.name), trust: Boolean(config.trust) });
}

export function slotsOfRun(run: { kind: string; configJson: string }): Array<{ step: StepId; cluster: string }> {
  return slotsFor(run.kind, JSON.parse(run.configJson) as MeshConfig);
}
