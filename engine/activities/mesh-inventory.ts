// What Istio a cluster holds, read through kubectl: for uninstall's "is it gone?" and its ownership check.
import type { CommandPurpose } from '../../adapters/cluster-tools.js';
import { commandFailed } from './failures.js';
import { ISTIO_SYSTEM } from './install.js';
import { getJson, isNotFound } from './kube-ops.js';
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

// Every object of these cluster-scoped kinds, in one kubectl process.
async function list(rt: StepRuntime, context: string, resources: readonly string[], purpose: CommandPurpose): Promise<NonNullable<KindedList['items']>> {
  const result = await rt.run(kubectl(context, ['get', resources.join(','), '-o', 'json'], purpose));
  if (isNotFound(result)) return [];
  if (result.exitCode !== 0) throw commandFailed(`kubectl get ${resources.join(',')}`, result);
  return (JSON.parse(result.stdout) as KindedList).items ?? [];
}

const WEBHOOK_KINDS = ['mutatingwebhookconfigurations', 'validatingwebhookconfigurations'] as const;
const kindName = (kind: string | undefined) => (kind ?? '').toLowerCase();

// Istio objects left on a cluster, as kind/name: the istio-system namespace, Istio CRDs and webhooks.
export async function istioLeftovers(rt: StepRuntime, context: string, purpose: CommandPurpose): Promise<string[]> {
  const out: string[] = [];
  if (await getJson<object>(rt, context, ['namespace', ISTIO_SYSTEM], `namespace ${ISTIO_SYSTEM}`, purpose)) out.push(`namespace/${ISTIO_SYSTEM}`);
  const found = await list(rt, context, ['customresourcedefinitions', ...WEBHOOK_KINDS], purpose);
  for (const crd of found.filter((o) => kindName(o.kind) === 'customresourcedefinition')) {
    if (ISTIO_CRD.test(crd.metadata?.name ?? '')) out.push(`crd/${crd.metadata?.name}`);
  }
  for (const kind of WEBHOOK_KINDS) {
    for (const hook of found.filter((o) => `${kindName(o.kind)}s` === kind)) {
      if (ISTIO_WEBHOOK.test(hook.metadata?.name ?? '')) out.push(`${kind.replace(/s$/, '')}/${hook.metadata?.name}`);
    }
  }
  return out;
}

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

// The revision tags pointing at revisions mesh-run installed (an upgrade sets them); istioctl uninstall --purge
// leaves them, as it removes only what istioctl installed.
export async function meshRunTags(rt: StepRuntime, context: string): Promise<string[]> {
  return tagsOfMeshRunRevisions(await list(rt, context, ['mutatingwebhookconfigurations'], 'observe'));
}
