// A repair's network steps: the east-west gateway installed again (and its address awaited), and a remote's
// profile installed again pointed at its primary's gateway as it is now. Both are install's own steps behind an
// observation: nothing is installed where the cluster already is as the journal wants it.
import { DEFAULT_GATEWAY_POLL_MS } from '../../machines/member-states.js';
import type { RepairStepInput } from '../../machines/repair-machine.js';
import type { MemberStepInput, StepDone } from '../../machines/types.js';
import { StepError } from '../../shared/errors.js';
import { sleep } from '../../shared/sleep.js';
import { addressesOf, itemsOf } from './discovery-reads.js';
import { type ActivityDeps, GATEWAY_SERVICE } from './install-common.js';
import { getJson, ISTIO_SYSTEM, mustSucceed } from './kube-ops.js';
import { injectorWebhookName } from './manifests.js';
import { installEastwestGateway, probeGatewayAddress, readDiscoveryAddress } from './network-steps.js';
import { installRemote } from './remote-steps.js';
import { kubectl, type StepRuntime } from './step-runtime.js';

interface ServiceJson {
  status?: { loadBalancer?: { ingress?: Array<{ ip?: string }> } };
}

// repair-gateway: install-eastwest-gateway unless its Deployment runs and its Service has a load-balancer IP;
// then the address awaited as await-gateway-address awaits it (an IP: remotes and other networks dial it).
export async function repairGateway(rt: StepRuntime, input: RepairStepInput, deps: ActivityDeps): Promise<StepDone> {
  const svc = await getJson<ServiceJson>(rt, input.context, ['-n', ISTIO_SYSTEM, 'service', GATEWAY_SERVICE], `service ${GATEWAY_SERVICE}`);
  const running = await getJson<object>(rt, input.context, ['-n', ISTIO_SYSTEM, 'deployment', GATEWAY_SERVICE], `deployment ${GATEWAY_SERVICE}`);
  const ip = svc?.status?.loadBalancer?.ingress?.[0]?.ip;
  if (running && ip) {
    rt.note(`the east-west gateway on ${input.cluster} runs at ${ip}: nothing to install`, 'info');
    return { finishedAt: rt.now() };
  }
  await installEastwestGateway(rt, input, deps);
  const address = await awaitAddress(rt, input, deps);
  rt.note(`the east-west gateway on ${input.cluster} is at ${address}`, 'info');
  return { finishedAt: rt.now() };
}

// The gateway's load-balancer IP, polled until the config's gateway-address budget runs out.
async function awaitAddress(rt: StepRuntime, input: MemberStepInput, deps: ActivityDeps): Promise<string> {
  const deadline = rt.now() + deps.config.timeouts.gatewayAddressMs;
  for (;;) {
    const seen = await probeGatewayAddress(rt, input, deps);
    if (seen.ip) return seen.ip;
    if (seen.hostname)
      throw new StepError(`the east-west gateway of ${input.cluster} got the hostname ${seen.hostname} and no IP; remotes and other networks reach it by IP`, {
        hint: 'give the load balancer an IP address (on EKS: an NLB with static addresses), then resume',
      });
    if (rt.now() >= deadline)
      throw new StepError(
        `the east-west gateway of ${input.cluster} got no load-balancer IP within ${Math.round(deps.config.timeouts.gatewayAddressMs / 1000)}s`,
        {
          retryable: true,
          hint: `check that a load-balancer provider (a cloud's, or MetalLB) serves ${input.cluster}, then resume`,
        },
      );
    await sleep(DEFAULT_GATEWAY_POLL_MS, rt.signal);
  }
}

// Where a remote reaches its control plane now (remotePilotAddress as installed: the istiod Service's endpoints
// or ExternalName, the injector's URL), and whether the remote profile's injector is there at all.
async function remoteProfile(rt: StepRuntime, input: RepairStepInput, purpose: 'observe' | 'verify'): Promise<{ injector: boolean; addresses: string[] }> {
  const read = async (args: string[], what: string) =>
    itemsOf((await mustSucceed(rt, kubectl(input.context, ['get', ...args, '-o', 'json'], purpose), `kubectl get ${what} on ${input.cluster}`)).stdout);
  const services = await read(['services', '-n', ISTIO_SYSTEM], 'services');
  const slices = await read(['endpointslices', '-n', ISTIO_SYSTEM], 'endpointslices');
  const hooks = await read(['mutatingwebhookconfigurations'], 'mutatingwebhookconfigurations');
  const injector = hooks.some((h) => h.metadata?.name === injectorWebhookName(input.revision));
  return { injector, addresses: addressesOf(services, slices, hooks) };
}

// repair-remote: install's install-remote with the address its primary's east-west gateway has now (read now,
// not the journal's), unless the remote's injector is there and it already points there and only there.
export async function repairRemote(rt: StepRuntime, input: RepairStepInput, deps: ActivityDeps): Promise<StepDone> {
  const primary = input.primary;
  if (!primary) throw new StepError(`repair-remote on ${input.cluster}: it is not a remote with a primary (internal error)`);
  const { address } = await readDiscoveryAddress(rt, { ...input, cluster: primary.name, context: primary.context, network: primary.network }, deps);
  const wanted = address.toLowerCase();
  const before = await remoteProfile(rt, input, 'observe');
  if (before.injector && before.addresses.length > 0 && before.addresses.every((a) => a === wanted)) {
    rt.note(`${input.cluster} already reaches its control plane at ${address}: nothing to install`, 'info');
    return { finishedAt: rt.now() };
  }
  const old = before.addresses.filter((a) => a !== wanted);
  if (old.length > 0)
    await rt.report('overwrote', `remotePilotAddress of ${input.cluster}: ${old.join(', ')} -> ${address} (${primary.name}'s east-west gateway now)`);
  await installRemote(rt, { ...input, primary, discoveryAddress: address });
  const after = await remoteProfile(rt, input, 'verify');
  if (!after.addresses.includes(wanted) || after.addresses.some((a) => a !== wanted))
    throw new StepError(
      `${input.cluster} reaches its control plane at ${after.addresses.join(', ') || 'no address'} after installing it again, not ${address}`,
      {
        retryable: true,
      },
    );
  return { finishedAt: rt.now() };
}
