// A primary's steps: its control plane, then istiod and its services exposed through the east-west gateway.
import type { PrimaryStepInput, StepDone } from '../../machines/types.js';
import { type ActivityDeps, opt, waitForDeployment } from './install-common.js';
import { createNamespaceIfMissing, ISTIO_SYSTEM, mustSucceed } from './kube-ops.js';
import { exposeIstiod, exposeServices, istiodVirtualServiceName, primaryOperator } from './manifests.js';
import { istioctl, kubectl, type StepRuntime } from './step-runtime.js';

// install-primary: istioctl install is a convergent apply; the named IstioOperator keeps re-runs from pruning the gateway.
// `ingress: false`: the control plane alone (an upgrade's new revision; its gateways move later).
export async function installPrimary(rt: StepRuntime, input: PrimaryStepInput, deps: ActivityDeps, ingress = true): Promise<StepDone> {
  const manifest = primaryOperator(input.cluster, { meshID: input.meshID, network: input.network, ...opt(input) }, input.external, ingress);
  // istioctl would create istio-system unlabelled; created here, it says it is mesh-run's (uninstall may remove it).
  await createNamespaceIfMissing(rt, input.context, ISTIO_SYSTEM, input.cluster);
  await mustSucceed(rt, istioctl(input.context, ['install', '-y', '-f', '-'], 'act', manifest), `istioctl install on ${input.cluster}`);
  await waitForDeployment(rt, input.context, input.revision ? `istiod-${input.revision}` : 'istiod', deps);
  return { finishedAt: rt.now() };
}

// expose-istiod: Gateway istiod-gateway and VirtualService istiod-vs through kubectl apply (convergent).
export function exposeIstiodStep(rt: StepRuntime, input: PrimaryStepInput): Promise<StepDone> {
  const manifest = exposeIstiod({ meshID: input.meshID, network: input.network, ...opt(input) });
  const objects = ['gateway.networking.istio.io/istiod-gateway', `virtualservice.networking.istio.io/${istiodVirtualServiceName(input.revision)}`];
  return applyAndConfirm(rt, input, { what: 'expose-istiod', manifest, objects });
}

// expose-services: the cross-network Gateway (port 15443, AUTO_PASSTHROUGH, *.local) through kubectl apply.
export function exposeServicesStep(rt: StepRuntime, input: PrimaryStepInput): Promise<StepDone> {
  const manifest = exposeServices({ meshID: input.meshID, network: input.network, ...opt(input) });
  return applyAndConfirm(rt, input, { what: 'expose-services', manifest, objects: ['gateway.networking.istio.io/cross-network-gateway'] });
}

// Applies a manifest into istio-system (apply converges), then reads its objects back by name.
async function applyAndConfirm(rt: StepRuntime, input: PrimaryStepInput, step: { what: string; manifest: string; objects: string[] }): Promise<StepDone> {
  await mustSucceed(
    rt,
    kubectl(input.context, ['apply', '-n', ISTIO_SYSTEM, '-f', '-'], 'act', step.manifest),
    `kubectl apply of ${step.what} on ${input.cluster}`,
  );
  await mustSucceed(
    rt,
    kubectl(input.context, ['-n', ISTIO_SYSTEM, 'get', ...step.objects, '-o', 'name'], 'verify'),
    `verifying ${step.objects.map((o) => o.split('/')[1]).join(' and ')}`,
  );
  return { finishedAt: rt.now() };
}
