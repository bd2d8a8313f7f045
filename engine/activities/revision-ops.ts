// What an upgrade and its rollback both do to a cluster, each idempotent: relabel a namespace and restart what is
// not on the wanted revision, move a gateway, point the default tag, remove a revision's control plane.
import { needsGateway } from '../../machines/topology.js';
import type { MemberStepInput, MeshCluster, StepDone, UpgradeAddress, UpgradeStepInput, WaveNamespace } from '../../machines/types.js';
import { StepError } from '../../shared/errors.js';
import { configuredRevision, DEFAULT_REVISION, namedOrNone } from '../../shared/revisions.js';
import { sleep } from '../../shared/sleep.js';
import { type ActivityDeps, GATEWAY_SERVICE, ISTIO_SYSTEM, installEastwestGateway, installPrimary, installRemote, probeGatewayAddress } from './install.js';
import { UPGRADE_SUBJECTS } from './inventory.js';
import { commandTimeoutSeconds, getJson, mustSucceed } from './kube-ops.js';
import { INGRESS_GATEWAY, injectorWebhookName, istiodVirtualServiceName } from './manifests.js';
import { MESH_RUN_OWNER, removeUnpruned, unpruned } from './mesh-inventory.js';
import { istioctl, kubectl, type StepRuntime } from './step-runtime.js';

export const REV = 'istio.io/rev';
// How long a removed revision's istiod Deployment may take to disappear from the API server.
const GONE_WAIT_MS = 60_000;
export const INJECTION = 'istio-injection';
const NEVER_MATCH_LABEL = 'istio.io/deactivated';

export interface NamespaceItem {
  metadata?: { name?: string; labels?: Record<string, string> };
}

export interface DeploymentItem {
  metadata?: { name?: string };
  spec?: { selector?: { matchLabels?: Record<string, string> } };
}

export interface PodItem {
  metadata?: { name?: string; labels?: Record<string, string> };
  spec?: { containers?: Array<{ name: string }> };
  status?: { phase?: string };
}

export const memberOf = (input: UpgradeStepInput): MeshCluster => {
  if (!input.member) throw new StepError(`${input.step} on ${input.cluster} started without its cluster (internal error)`);
  return input.member;
};

// The install step input of this cluster at a given revision (the install's activities do the work; the default
// revision is their unrevisioned install).
export function asMember(input: UpgradeStepInput, revision: string): MemberStepInput & { external: boolean } {
  const member = memberOf(input);
  return {
    runId: input.runId,
    step: input.step,
    cluster: member.name,
    context: member.context,
    meshID: input.meshID,
    network: member.network,
    ...configuredRevision(revision),
    external: input.external ?? false,
  };
}

// A revision's istiod Deployment: istiod-<rev>, or istiod for the default revision.
export function istiodName(revision: string): string {
  const named = namedOrNone(revision);
  return named ? `istiod-${named}` : 'istiod';
}

// The address a remote's revision points at: its primary's east-west gateway, as it is now.
export async function readPrimaryAddress(rt: StepRuntime, input: UpgradeStepInput, deps: ActivityDeps): Promise<UpgradeAddress> {
  const seen = await probeGatewayAddress(rt, asMember(input, input.to), deps);
  if (seen.ip) return { address: seen.ip, finishedAt: rt.now() };
  throw new StepError(`the east-west gateway of ${input.cluster} has no load-balancer IP; its remotes reach the new istiod through it`, {
    retryable: true,
    hint: `check service ${GATEWAY_SERVICE} in ${ISTIO_SYSTEM} on ${input.cluster}, then resume`,
  });
}

// A revision's control plane installed on this cluster (a convergent istioctl install): a primary's istiod
// (`ingress`: with the ingress gateway its IstioOperator carries), a remote's profile pointed at its primary's gateway.
export async function installRevisionOn(rt: StepRuntime, input: UpgradeStepInput, deps: ActivityDeps, revision: string, ingress: boolean): Promise<StepDone> {
  const member = memberOf(input);
  if (member.role === 'primary') return installPrimary(rt, asMember(input, revision), deps, ingress);
  const primary = input.members.find((m) => m.name === member.controlPlane);
  if (!primary) throw new StepError(`remote ${member.name} has no primary in the mesh (internal error)`);
  const { address } = await readPrimaryAddress(rt, { ...input, cluster: primary.name, context: primary.context, member: primary }, deps);
  return installRemote(rt, { ...asMember(input, revision), primary: { name: primary.name, context: primary.context }, discoveryAddress: address });
}

export async function podsOf(rt: StepRuntime, where: WaveNamespace): Promise<PodItem[]> {
  const listed = await getJson<{ items?: PodItem[] }>(rt, where.context, ['pods', '-n', where.namespace], `pods in ${where.namespace}`, 'observe');
  return (listed?.items ?? []).filter((p) => p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed');
}

// Relabels a namespace (only what differs) and restarts its deployments unless every pod already runs the
// revision wanted; then waits for the rollouts. Returns what it changed, in words ('' when nothing).
export async function relabelAndRestart(
  rt: StepRuntime,
  where: WaveNamespace,
  labels: Record<string, string | undefined>,
  revision: string,
  deps: ActivityDeps,
): Promise<string> {
  const ns = await getJson<NamespaceItem>(rt, where.context, ['namespace', where.namespace], `namespace ${where.namespace}`, 'observe');
  if (!ns) {
    rt.note(`namespace ${where.namespace} is gone from ${where.cluster}; nothing to move`, 'info');
    return '';
  }
  const current = ns.metadata?.labels ?? {};
  const changes = Object.entries(labels)
    .filter(([key, value]) => current[key] !== value)
    .map(([key, value]) => (value === undefined ? `${key}-` : `${key}=${value}`));
  if (changes.length > 0) {
    await mustSucceed(
      rt,
      kubectl(where.context, ['label', 'namespace', where.namespace, ...changes, '--overwrite'], 'act'),
      `kubectl label namespace ${where.namespace} on ${where.cluster}`,
    );
  }
  // Only the deployments whose pods do not all run the revision yet: a re-run restarts none twice.
  const pods = await podsOf(rt, where);
  const deployments = await getJson<{ items?: DeploymentItem[] }>(rt, where.context, ['deployments', '-n', where.namespace], 'deployments', 'observe');
  const stale = (deployments?.items ?? []).filter((d) => {
    const selector = Object.entries(d.spec?.selector?.matchLabels ?? {});
    const own = pods.filter((p) => selector.length > 0 && selector.every(([k, v]) => p.metadata?.labels?.[k] === v));
    return own.length > 0 && !own.every((p) => p.metadata?.labels?.[REV] === revision);
  });
  for (const d of stale) {
    const name = d.metadata?.name ?? '';
    await mustSucceed(
      rt,
      kubectl(where.context, ['-n', where.namespace, 'rollout', 'restart', `deployment/${name}`], 'act'),
      `restart of ${where.namespace}/${name}`,
    );
  }
  for (const d of stale) {
    const name = d.metadata?.name ?? '';
    await mustSucceed(
      rt,
      kubectl(where.context, ['-n', where.namespace, 'rollout', 'status', `deployment/${name}`, `--timeout=${commandTimeoutSeconds(deps.config)}s`], 'verify'),
      `rollout of ${where.namespace}/${name} on ${where.cluster}`,
    );
  }
  const said = [
    ...(changes.length > 0 ? [`labels ${changes.join(' ')}`] : []),
    ...(stale.length > 0 ? [`restarted ${stale.map((d) => d.metadata?.name).join(', ')}`] : []),
  ];
  return said.length > 0 ? `namespace ${where.namespace} on ${where.cluster}: ${said.join('; ')}` : '';
}

export interface GatewayJson {
  metadata?: { labels?: Record<string, string> };
}

// The revision a gateway Deployment runs (undefined: there is none).
export async function gatewayRevision(rt: StepRuntime, context: string, name: string): Promise<string | undefined> {
  const found = await getJson<GatewayJson>(rt, context, ['-n', ISTIO_SYSTEM, 'deployment', name], `deployment ${name}`, 'observe');
  return found ? (found.metadata?.labels?.[REV] ?? DEFAULT_REVISION) : undefined;
}

// The gateways of a cluster, each with the install that puts it on a revision: the ingress gateway of a
// primary comes with its control plane's IstioOperator, the east-west gateway with its own.
export function gatewaysOf(rt: StepRuntime, input: UpgradeStepInput, deps: ActivityDeps) {
  const member = memberOf(input);
  const shape = { members: input.members };
  const found: Array<{ name: string; subject: string; install: (revision: string) => Promise<StepDone> }> = [];
  if (member.role === 'primary')
    found.push({ name: INGRESS_GATEWAY, subject: UPGRADE_SUBJECTS.gateway(INGRESS_GATEWAY), install: (r) => installPrimary(rt, asMember(input, r), deps) });
  if (needsGateway(shape, member.name))
    found.push({
      name: GATEWAY_SERVICE,
      subject: UPGRADE_SUBJECTS.gateway(GATEWAY_SERVICE),
      install: (r) => installEastwestGateway(rt, asMember(input, r), deps),
    });
  return found;
}

export interface TagJson {
  tag: string;
  revision: string;
}

export async function defaultTag(rt: StepRuntime, member: MeshCluster): Promise<string | undefined> {
  const listed = await mustSucceed(rt, istioctl(member.context, ['tag', 'list', '-o', 'json'], 'observe'), `istioctl tag list on ${member.name}`);
  let tags: TagJson[] = [];
  try {
    tags = (JSON.parse(listed.stdout || '[]') as TagJson[] | null) ?? [];
  } catch {
    throw new StepError(`istioctl tag list on ${member.name} printed no JSON: ${listed.stdout.slice(0, 200)}`);
  }
  return tags.find((t) => t.tag === 'default')?.revision;
}

// Points the default tag at `revision` (or removes it: undefined), unless it already is so; then checks.
export async function setDefaultTag(rt: StepRuntime, member: MeshCluster, revision: string | undefined): Promise<void> {
  const now = await defaultTag(rt, member);
  if (now === revision) return;
  if (revision === undefined) {
    await mustSucceed(rt, istioctl(member.context, ['tag', 'remove', 'default', '-y'], 'act'), `istioctl tag remove default on ${member.name}`);
  } else {
    await mustSucceed(
      rt,
      istioctl(member.context, ['tag', 'set', 'default', `--revision=${revision}`, '--overwrite', '-y'], 'act'),
      `istioctl tag set default on ${member.name}`,
    );
  }
  const after = await defaultTag(rt, member);
  if (after !== revision)
    throw new StepError(`the default tag on ${member.name} points at ${after ?? 'nothing'} after setting it to ${revision ?? 'nothing'}`, { retryable: true });
}

// Whether the default revision's own injector is there but inert: `istioctl tag set default` keeps it with
// selectors that never match (istioctl/pkg/tag, util.NeverMatch) rather than deleting it.
async function defaultInjectorInert(rt: StepRuntime, member: MeshCluster, phase: 'observe' | 'verify'): Promise<boolean> {
  const name = injectorWebhookName(undefined);
  const hook = await getJson<{ webhooks?: Array<{ namespaceSelector?: { matchLabels?: Record<string, string> } }> }>(
    rt,
    member.context,
    ['mutatingwebhookconfiguration', name],
    `mutatingwebhookconfiguration ${name}`,
    phase,
  );
  const webhooks = hook?.webhooks ?? [];
  return webhooks.length > 0 && webhooks.every((w) => w.namespaceSelector?.matchLabels?.[NEVER_MATCH_LABEL] === 'never-match');
}

// With the default tag gone, istio-injection=enabled belongs to the default revision's injector again; if the tag
// left it inert, a fresh install of the default revision renders it active (a primary's ingress gateway is
// rendered only where it still runs the default revision: restore-gateway moves it back, this step does not).
export async function reactivateDefaultInjector(rt: StepRuntime, input: UpgradeStepInput, deps: ActivityDeps): Promise<void> {
  const member = memberOf(input);
  if (!(await defaultInjectorInert(rt, member, 'observe'))) return;
  const ingress = member.role === 'primary' && (await gatewayRevision(rt, member.context, INGRESS_GATEWAY)) === DEFAULT_REVISION;
  await installRevisionOn(rt, input, deps, DEFAULT_REVISION, ingress);
  if (await defaultInjectorInert(rt, member, 'verify'))
    throw new StepError(`the default revision's injector on ${member.name} still matches nothing after reinstalling it`, { retryable: true });
  await rt.report('restored', `${injectorWebhookName(undefined)} on ${member.name}: injecting istio-injection=enabled namespaces again`);
}

// Removes one revision's control plane from a cluster (istioctl uninstall --revision: never the base, CRDs or
// shared resources) and its istiod route on the gateway; then checks its injector is gone.
export async function removeRevision(rt: StepRuntime, member: MeshCluster, revision: string): Promise<void> {
  // Its route on the gateway goes first (and on every re-run: the uninstall below may already be done).
  if (member.role === 'primary') {
    await mustSucceed(
      rt,
      kubectl(
        member.context,
        ['-n', ISTIO_SYSTEM, 'delete', 'virtualservice.networking.istio.io', istiodVirtualServiceName(namedOrNone(revision)), '--ignore-not-found'],
        'act',
      ),
      `deleting VirtualService ${istiodVirtualServiceName(namedOrNone(revision))} on ${member.name}`,
    );
  }
  // istioctl refuses a revision it cannot find ("could not find target revision"): a re-run finds it gone.
  const injector = injectorWebhookName(namedOrNone(revision));
  const istiod = istiodName(revision);
  const istiodDeployment = (phase: 'observe' | 'verify') =>
    getJson<unknown>(rt, member.context, ['-n', ISTIO_SYSTEM, 'deployment', istiod], `deployment ${istiod}`, phase);
  const present = await getJson<unknown>(rt, member.context, ['mutatingwebhookconfiguration', injector], `mutatingwebhookconfiguration ${injector}`, 'observe');
  const running = await istiodDeployment('observe');
  const where = { cluster: member.name, context: member.context };
  // The revision's EndpointSlice for istiod (a remote's), which istioctl uninstall --revision leaves: only
  // those of mesh-run's IstioOperators. Looked for on every run, so one stopped after the uninstall finishes.
  const slices = (phase: 'observe' | 'verify') => unpruned(rt, member.context, phase, { owns: (owner) => MESH_RUN_OWNER.test(owner), revision });
  const removeSlices = async () => {
    const found = await slices('observe');
    if (found.length === 0) return;
    await removeUnpruned(rt, where, found);
    const left = await slices('verify');
    if (left.length > 0) throw new StepError(`${left.join(', ')} still on ${member.name} after deleting it`, { retryable: true });
  };
  if (present === undefined && running === undefined) {
    await removeSlices();
    rt.note(`revision ${revision} is not installed on ${member.name}`, 'info');
    return;
  }
  await mustSucceed(
    rt,
    istioctl(member.context, ['uninstall', `--revision=${revision}`, '-y'], 'act'),
    `istioctl uninstall --revision=${revision} on ${member.name}`,
  );
  await removeSlices();
  // The API server may still show the Deployment while its deletion finishes (foreground, finalizers).
  const deadline = rt.now() + GONE_WAIT_MS;
  for (;;) {
    if ((await istiodDeployment('verify')) === undefined) return;
    if (rt.now() >= deadline)
      throw new StepError(`deployment ${istiod} is still on ${member.name} ${GONE_WAIT_MS / 1000}s after istioctl uninstall`, { retryable: true });
    rt.note(`waiting for deployment ${istiod} on ${member.name} to be gone`);
    await sleep(1_000, rt.signal);
  }
}

// Pods still running a revision's proxy on a cluster, sidecars and gateways (they would lose their control plane
// with it). istiod's own pods carry the revision label too, without a proxy.
export async function podsOnRevision(rt: StepRuntime, member: MeshCluster, revision: string): Promise<string[]> {
  const listed = await getJson<{ items?: Array<PodItem & { metadata?: { namespace?: string } }> }>(
    rt,
    member.context,
    ['pods', '-A', '-l', `${REV}=${revision}`],
    'pods',
    'check',
  );
  return (listed?.items ?? [])
    .filter((p) => (p.spec?.containers ?? []).some((c) => c.name === 'istio-proxy'))
    .map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`);
}
