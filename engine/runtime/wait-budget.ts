// How long a step may wait for what it waits on (its deadline, for the progress display): the budget the
// step table names for it, read from the run's config.
import { STEP_WAITS, type StepId, type WaitBudget } from '../../machines/steps.js';
import type { MeshConfig } from '../../shared/model.js';

const BUDGETS: Readonly<Record<WaitBudget, (config: MeshConfig) => number | undefined>> = {
  none: () => undefined,
  'gateway-address': (config) => config.timeouts.gatewayAddressMs,
  verify: (config) => config.verify.timeoutMs,
  command: (config) => config.timeouts.commandMs,
  // A rotation waits for istiod as long as verify would (its machine input's syncTimeoutMs).
  sync: (config) => config.verify.timeoutMs,
  'upgrade-gate': (config) => config.upgrade?.gateTimeoutMs,
};

export function waitBudget(step: StepId, config: MeshConfig): number | undefined {
  return BUDGETS[STEP_WAITS[step]](config);
}
