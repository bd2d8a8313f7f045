// A cluster's network: the label on istio-system, the east-west gateway, and the address it gets.

import type { CommandPurpose } from '../../adapters/cluster-tools.js';
import type { DiscoveryAddress, GatewayObservation, MemberStepInput, StepDone } from '../../machines/types.js';
import { StepError } from '../../shared/errors.js';
import { commandFailed } from './failures.js';
import { type ActivityDeps, GATEWAY_SERVICE, NETWORK_LABEL, opt, waitForDeployment } from './install-common.js';
import { createNamespaceIfMissing, getJson, ISTIO_SYSTEM, isNotFound, mustSucceed, type NamespaceJson } from './kube-ops.js';
import { eastwestGatewayOperator } from './manifests.js';
import { istioctl, kubectl, type StepRuntime } from './step-runtime.js';

// install-eastwest-gateway: the gateway IstioOperator (gen-eastwest-gateway.sh's output), then its rollout.
export async function installEastwestGateway(rt: StepRuntime, input: MemberStepInput, deps: ActivityDeps): Promise<StepDone> {
  const manifest = eastwestGatewayOperator({ meshID: input.meshID, network: input.network, ...opt(input) });
  await mustSucceed(
    rt,
    istioctl(input.context, ['install', '-y', '-f', '-'], 'act', manifest),
    `istioctl install of the east-west gateway on ${input.cluster}`,
  );
  await waitForDeployment(rt, input.context, GATEWAY_SERVICE, deps);
  return { finishedAt: rt.now() };
}

interface ServiceJson {
  spec?: { type?: string };
  status?: { loadBalancer?: { ingress?: Array<{ ip?: string; hostname?: string }> } };
}

// The shell variable a plan script keeps a cluster's gateway address in: GATEWAY_ADDRESS_CLUSTER1.
export const addressVariable = (cluster: string) => `GATEWAY_ADDRESS_${cluster.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;

// One look at the gateway service's load-balancer status; the machine decides what it means.
export async function probeGatewayAddress(rt: StepRuntime, input: MemberStepInput, deps: ActivityDeps): Promise<GatewayObservation> {
  const probe = {
    ...kubectl(input.context, ['get', '-n', ISTIO_SYSTEM, 'service', GATEWAY_SERVICE, '-o', 'json'], 'wait'),
    waitFor: {
      jsonpath: '{.status.loadBalancer.ingress[0].ip}',
      variable: addressVariable(input.cluster),
      timeoutSeconds: Math.round(deps.config.timeouts.gatewayAddressMs / 1000),
    },
  };
  const result = await rt.run(probe);
  if (result.exitCode !== 0 && !isNotFound(result)) throw commandFailed(`kubectl get service ${GATEWAY_SERVICE}`, result);
  const svc = result.exitCode === 0 ? (JSON.parse(result.stdout) as ServiceJson) : undefined;
  if (!svc) {
    throw new StepError(`service ${GATEWAY_SERVICE} is missing from ${ISTIO_SYSTEM} on ${input.cluster}`, {
      hint: 'another istioctl install may have pruned it; run "mesh-run install" again to reinstall the gateway',
    });
  }
  if (svc.spec?.type !== 'LoadBalancer') {
    throw new StepError(
      `service ${GATEWAY_SERVICE} on ${input.cluster} is of type ${svc.spec?.type ?? 'unknown'}, not LoadBalancer; the other clusters reach this one through a load-balancer IP`,
    );
  }
  const ingress = svc.status?.loadBalancer?.ingress?.[0];
  const observation: GatewayObservation = { observedAt: rt.now() };
  if (ingress?.ip) observation.ip = ingress.ip;
  if (ingress?.hostname) observation.hostname = ingress.hostname;
  if (!observation.ip && !observation.hostname) rt.note('no load-balancer address yet');
  return observation;
}

// label-network: istio-system (created if missing, as mesh-run's) labelled with the cluster's network, before
// Istio is installed there; a different value it replaces is journaled first.
export async function labelNetwork(rt: StepRuntime, input: MemberStepInput): Promise<StepDone> {
  await createNamespaceIfMissing(rt, input.context, ISTIO_SYSTEM, input.cluster);
  const read = async (purpose: CommandPurpose) =>
    (await getJson<NamespaceJson>(rt, input.context, ['namespace', ISTIO_SYSTEM], `namespace ${ISTIO_SYSTEM}`, purpose))?.metadata?.labels?.[NETWORK_LABEL];
  const before = await read('observe');
  if (before !== undefined && before !== input.network) {
    await rt.report('overwrote', `label ${NETWORK_LABEL} on namespace ${ISTIO_SYSTEM} of ${input.cluster}: "${before}" -> "${input.network}"`);
  }
  if (before !== input.network) {
    await mustSucceed(
      rt,
      kubectl(input.context, ['label', 'namespace', ISTIO_SYSTEM, `${NETWORK_LABEL}=${input.network}`, '--overwrite'], 'act'),
      `kubectl label namespace ${ISTIO_SYSTEM} on ${input.cluster}`,
    );
  }
  const after = await read('verify');
  if (after !== input.network) {
    throw new StepError(`${NETWORK_LABEL} on ${input.cluster}'s ${ISTIO_SYSTEM} reads "${after ?? ''}" after labelling, expected "${input.network}"`, {
      retryable: true,
    });
  }
  return { finishedAt: rt.now() };
}

// read-discovery-address: the address of a primary's east-west gateway, which a joining remote points at.
// The gateway was there when the primary was installed: no address now is a failure, not a wait.
export async function readDiscoveryAddress(rt: StepRuntime, input: MemberStepInput, deps: ActivityDeps): Promise<DiscoveryAddress> {
  const seen = await probeGatewayAddress(rt, input, deps);
  if (seen.ip) return { address: seen.ip, finishedAt: rt.now() };
  throw new StepError(
    `the east-west gateway of ${input.cluster} has ${seen.hostname ? `only a hostname (${seen.hostname})` : 'no load-balancer address'}; a joining remote reaches istiod through its IP`,
    { retryable: true, hint: `check service ${GATEWAY_SERVICE} in ${ISTIO_SYSTEM} on ${input.cluster}, then resume` },
  );
}
