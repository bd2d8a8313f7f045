// What the install steps share: the names of the objects they touch, what they depend on besides a runtime,
// how they wait for a rollout, and the revision and version their manifests carry.
import type { MeshConfig, RunMode } from '../../shared/model.js';
import type { Inventory } from './inventory.js';
import { commandTimeoutSeconds, ISTIO_SYSTEM, mustSucceed } from './kube-ops.js';
import { kubectl, type StepRuntime } from './step-runtime.js';

export { ISTIO_SYSTEM };
export const CONTROL_PLANE_ANNOTATION = 'topology.istio.io/controlPlaneClusters';
export const NETWORK_LABEL = 'topology.istio.io/network';
export const GATEWAY_SERVICE = 'istio-eastwestgateway';
export const CACERTS = 'cacerts';
// The service-account token secret istioctl create-remote-secret creates in a remote.
export const READER_TOKEN = 'istio-reader-service-account-istio-remote-secret-token';
// istioctl 1.15 introduced the istiodless remote and the controlPlaneClusters annotation this flow needs.
export const MIN_ISTIO_MINOR = 15;

export interface ActivityDeps {
  config: MeshConfig;
  // What existed before mesh-run acted, from the runs this one follows (uninstall).
  inventory?: Inventory;
  // uninstall --force: remove what existed before mesh-run too (each removal is reported).
  force?: boolean;
  // A rehearsal on a simulated world whose API server addresses are invented, not the kubeconfig's.
  rehearsal?: boolean;
  // Real clusters or a simulated world (a step that hands its runtime to reads written for tools says which).
  mode?: RunMode;
}

export async function waitForDeployment(rt: StepRuntime, context: string, name: string, deps: ActivityDeps): Promise<void> {
  await mustSucceed(
    rt,
    kubectl(context, ['-n', ISTIO_SYSTEM, 'rollout', 'status', `deployment/${name}`, `--timeout=${commandTimeoutSeconds(deps.config)}s`], 'verify'),
    `rollout of deployment ${name}`,
  );
}

export function opt(input: { revision?: string; istioVersion?: string }): { revision?: string; istioVersion?: string } {
  return { ...(input.revision ? { revision: input.revision } : {}), ...(input.istioVersion ? { istioVersion: input.istioVersion } : {}) };
}
