// What Istio a cluster holds, read through kubectl: for uninstall's "is it gone?" and its ownership check.
import type { CommandPurpose } from '../../adapters/cluster-tools.js';
import { commandFailed } from './failures.js';
import { getJson, ISTIO_SYSTEM, isNotFound } from './kube-ops.js';
import { kubectl, type StepRuntime } from './step-runtime.js';

// The label istioctl puts on what it installs: the IstioOperator that owns it.
export const OWNING_RESOURCE = 'install.operator.istio.io/owning-resource';
// mesh-run names its IstioOperators mesh-run-primary[-rev] and mesh-run-remote[-rev].
export const MESH_RUN_OWNER = /^mesh-run-/;

const ISTIO_CRD = /\.istio\.io$/;
const ISTIO_WEBHOOK = /^istio/;

interface KindedList {
  items?: Array<{ kind?: string; metadata?: { name?: string; labels?: Record<string, string> } }>;
}

// Every object of these kinds (cluster-scoped, or in `namespace`), in one kubectl process.
async function list(
  rt: StepRuntime,
  context: string,
  resources: readonly string[],
  purpose: CommandPurpose,
  namespace?: string,
): Promise<NonNullable<KindedList['items']>> {
  const where = namespace ? ['-n', namespace] : [];
  const result = await rt.run(kubectl(context, ['get', resources.join(','), ...where, '-o', 'json'], purpose));
  if (isNotFound(result)) return [];
  if (result.exitCode !== 0) throw commandFailed(`kubectl get ${resources.join(',')}`, result);
  return (JSON.parse(result.stdout) as KindedList).items ?? [];
}

const WEBHOOK_KINDS = ['mutatingwebhookconfigurations', 'validatingwebhookconfigurations'] as const;
const kindName = (kind: string | undefined) => (kind ?? '').toLowerCase();

const ENDPOINT_SLICE = 'endpointslice.discovery.k8s.io';
// What istiod's namespace controller labels the ConfigMap of its root with; the annotation of a leader-election lock.
const ISTIOD_CONFIG = 'istio.io/config';
const LEADER_RECORD = 'control-plane.alpha.kubernetes.io/leader';

// What istioctl leaves behind in istio-system and mesh-run removes itself, as kind/name:
// - the EndpointSlices of its installs (the remote profile renders one for istiod beside a selectorless Service;
//   EndpointSlice is not a kind istioctl prunes, on uninstall --purge or --revision), by the IstioOperator that
//   made them and owned by no other object, and of one revision when `revision` is given;
// - in an istio-system that stays, the ConfigMaps istiod wrote (its root istio-ca-root-cert and CRL istio-ca-crl,
//   its leader-election locks istio-leader, istio-namespace-controller-election...: nothing istioctl rendered, so
//   nothing it removes; all seen on kwok with a real istiod), except those the install found there before.
export interface UnprunedScope {
  owns(owner: string): boolean;
  revision?: string;
  configMaps?: { except: ReadonlySet<string> };
}

interface NamespacedItem {
  kind?: string;
  metadata?: { name?: string; labels?: Record<string, string>; annotations?: Record<string, string>; ownerReferences?: unknown[] };
}

// Whether a ConfigMap was written by istiod rather than rendered by istioctl or made by someone else.
function istiodMadeConfigMap(item: NamespacedItem): boolean {
  const name = item.metadata?.name ?? '';
  return item.metadata?.labels?.[ISTIOD_CONFIG] === 'true' || (/^istio/.test(name) && item.metadata?.annotations?.[LEADER_RECORD] !== undefined);
}

// The names of istiod's ConfigMaps in istio-system (what an install records as there before it).
export async function istiodConfigMaps(rt: StepRuntime, context: string, purpose: CommandPurpose): Promise<string[]> {
  const found = await namespaced(rt, context, ['configmaps'], purpose);
  return found.filter(istiodMadeConfigMap).map((c) => c.metadata?.name ?? '');
}

async function namespaced(rt: StepRuntime, context: string, resources: readonly string[], purpose: CommandPurpose): Promise<NamespacedItem[]> {
  const result = await rt.run(kubectl(context, ['-n', ISTIO_SYSTEM, 'get', resources.join(','), '-o', 'json'], purpose));
  if (isNotFound(result)) return [];
  if (result.exitCode !== 0) throw commandFailed(`kubectl get ${resources.join(',')} in ${ISTIO_SYSTEM}`, result);
  return (JSON.parse(result.stdout || '{}') as { items?: NamespacedItem[] }).items ?? [];
}

export async function unpruned(rt: StepRuntime, context: string, purpose: CommandPurpose, scope: UnprunedScope): Promise<string[]> {
  const found = await namespaced(rt, context, scope.configMaps ? [ENDPOINT_SLICE, 'configmaps'] : [ENDPOINT_SLICE], purpose);
  const out: string[] = [];
  for (const item of found) {
    const name = item.metadata?.name ?? '';
    const labels = item.metadata?.labels ?? {};
    if (kindName(item.kind) === 'endpointslice') {
      // A slice the EndpointSlice controller keeps for a Service carries the Service's labels (istioctl's owner
      // among them) and an owner reference: it goes with its Service. Only the orphan the chart rendered stays.
      if ((item.metadata?.ownerReferences?.length ?? 0) > 0) continue;
      const owner = labels[OWNING_RESOURCE];
      if (owner === undefined || !scope.owns(owner)) continue;
      if (scope.revision !== undefined && (labels[REV] ?? 'default') !== scope.revision) continue;
      out.push(`endpointslice/${name}`);
    } else if (kindName(item.kind) === 'configmap' && scope.configMaps && istiodMadeConfigMap(item) && !scope.configMaps.except.has(name)) {
      out.push(`configmap/${name}`);
    }
  }
  return out;
}

// Deletes what `unpruned` found (kind/name items), in one kubectl process; a re-run finds them gone.
export async function removeUnpruned(rt: StepRuntime, where: { cluster: string; context: string }, items: readonly string[]): Promise<void> {
  if (items.length === 0) return;
  const targets = items.map((item) => item.replace(/^endpointslice\//, `${ENDPOINT_SLICE}/`));
  const result = await rt.run(kubectl(where.context, ['-n', ISTIO_SYSTEM, 'delete', ...targets, '--ignore-not-found'], 'act'));
  if (result.exitCode !== 0) throw commandFailed(`kubectl delete ${items.join(' ')} on ${where.cluster}`, result);
  rt.note(`removed what istioctl leaves in ${ISTIO_SYSTEM} of ${where.cluster}: ${items.join(', ')}`, 'info');
}

// Istio objects left on a cluster, as kind/name: the istio-system namespace, Istio CRDs and webhooks, and
// what `unpruned` finds in the scope given.
export async function istioLeftovers(rt: StepRuntime, context: string, purpose: CommandPurpose, scope: UnprunedScope): Promise<string[]> {
  const out: string[] = [];
  const ns = await getJson<object>(rt, context, ['namespace', ISTIO_SYSTEM], `namespace ${ISTIO_SYSTEM}`, purpose);
  if (ns) out.push(`namespace/${ISTIO_SYSTEM}`);
  const found = await list(rt, context, ['customresourcedefinitions', ...WEBHOOK_KINDS], purpose);
  for (const crd of found.filter((o) => kindName(o.kind) === 'customresourcedefinition')) {
    if (ISTIO_CRD.test(crd.metadata?.name ?? '')) out.push(`crd/${crd.metadata?.name}`);
  }
  for (const kind of WEBHOOK_KINDS) {
    for (const hook of found.filter((o) => `${kindName(o.kind)}s` === kind)) {
      if (ISTIO_WEBHOOK.test(hook.metadata?.name ?? '')) out.push(`${kind.replace(/s$/, '')}/${hook.metadata?.name}`);
    }
  }
  if (ns) out.push(...(await unpruned(rt, context, purpose, scope)));
  return out;
}

// An item of `istioLeftovers` that mesh-run deletes itself rather than through istioctl.
export const isUnpruned = (item: string) => item.startsWith('endpointslice/') || item.startsWith('configmap/');

const REV = 'istio.io/rev';
const TAG = 'istio.io/tag';

// Revision tags (istioctl tag set) carry no owner: they belong to whoever installed the revision they point at.
// (Uninstall removes them before the purge, while their revision still says whose they are.)
function tagsOfMeshRunRevisions(hooks: NonNullable<KindedList['items']>): string[] {
  const revisionOf = (h: (typeof hooks)[number]) => h.metadata?.labels?.[REV] ?? 'default';
  const installed = hooks.filter((h) => h.metadata?.labels?.[TAG] === undefined && ISTIO_WEBHOOK.test(h.metadata?.name ?? ''));
  const ours = new Set(installed.filter((h) => MESH_RUN_OWNER.test(h.metadata?.labels?.[OWNING_RESOURCE] ?? '')).map(revisionOf));
  return hooks.filter((h) => h.metadata?.labels?.[TAG] !== undefined && ours.has(revisionOf(h))).map((h) => h.metadata?.labels?.[TAG] as string);
}

// The owners (IstioOperator names) of the Istio webhooks on a cluster; empty when it has none.
export async function istioOwners(rt: StepRuntime, context: string): Promise<string[]> {
  const owners = new Set<string>();
  const hooks = await list(rt, context, WEBHOOK_KINDS, 'check');
  const ourTags = new Set(tagsOfMeshRunRevisions(hooks));
  for (const hook of hooks) {
    if (!ISTIO_WEBHOOK.test(hook.metadata?.name ?? '')) continue;
    if (ourTags.has(hook.metadata?.labels?.[TAG] ?? '\0')) continue;
    owners.add(hook.metadata?.labels?.[OWNING_RESOURCE] ?? '(no owner label)');
  }
  return [...owners];
}

// The revision tags pointing at revisions mesh-run installed (an upgrade sets them), or with `every` (--force)
// all of them; istioctl uninstall --purge leaves them, as it removes only what istioctl installed.
export async function meshRunTags(rt: StepRuntime, context: string, every = false): Promise<string[]> {
  const hooks = await list(rt, context, ['mutatingwebhookconfigurations'], 'observe');
  if (!every) return tagsOfMeshRunRevisions(hooks);
  return [...new Set(hooks.map((h) => h.metadata?.labels?.[TAG]).filter((t): t is string => t !== undefined))];
}

// The workloads and services in istio-system (deployment/istiod, service/istio-eastwestgateway...): what a
// namespace delete takes with it, named for an adopted mesh whose namespace --force deletes.
export async function istioSystemWorkloads(rt: StepRuntime, context: string, purpose: CommandPurpose): Promise<string[]> {
  const found = await list(rt, context, ['deployments', 'services'], purpose, ISTIO_SYSTEM);
  return found.map((o) => `${kindName(o.kind)}/${o.metadata?.name ?? ''}`).sort();
}
