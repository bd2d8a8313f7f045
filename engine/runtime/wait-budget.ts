// How long a step may wait for what it waits on (its deadline, for the progress display).
import type { StepId } from '../../machines/steps.js';
import type { MeshConfig } from '../../shared/model.js';

export function waitBudget(step: StepId, config: MeshConfig): number | undefined {
  if (step === 'await-gateway-address') return config.timeouts.gatewayAddressMs;
  if (['check-remote-clusters', 'check-injector-ca', 'await-sample', 'check-traffic'].includes(step)) return config.verify.timeoutMs;
  if (step === 'uninstall-primary' || step === 'uninstall-remote') return config.timeouts.commandMs;
  return undefined;
}
