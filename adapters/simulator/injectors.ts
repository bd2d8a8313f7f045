// Which injector webhook a namespace's pods get when revisions sit side by side: istio.io/rev naming a
// revision or a tag, istio-injection=enabled the default tag (or the revisionless injector).
import type { KubeObject, ResourceType } from './objects.js';
import { resourceType } from './objects.js';
import type { SimCluster } from './sim-cluster.js';

const t = (name: string) => resourceType(name) as ResourceType;
const REV = 'istio.io/rev';
const TAG = 'istio.io/tag';
const INJECTOR = 'istio-sidecar-injector';
const TAG_PREFIX = 'istio-revision-tag-';
export const DEFAULT_REVISION = 'default';

export function hooks(cluster: SimCluster): KubeObject[] {
  return cluster.list(t('mutatingwebhookconfiguration'));
}

// The revision a revision's own injector (not a tag) serves: istio-sidecar-injector-<rev>, or `default`.
function revisionOfInjector(hook: KubeObject): string | undefined {
  if (hook.metadata.labels?.[TAG] !== undefined) return undefined;
  if (hook.metadata.name === INJECTOR) return DEFAULT_REVISION;
  return hook.metadata.name.startsWith(`${INJECTOR}-`) ? hook.metadata.name.slice(INJECTOR.length + 1) : undefined;
}

export function injectorOfRevision(cluster: SimCluster, revision: string): KubeObject | undefined {
  return hooks(cluster).find((h) => revisionOfInjector(h) === revision);
}

export function tagHook(cluster: SimCluster, tag: string): KubeObject | undefined {
  return hooks(cluster).find((h) => h.metadata.name === `${TAG_PREFIX}${tag}`);
}

// What `istioctl tag set default` puts on the default revision's own injector instead of deleting it
// (istioctl/pkg/tag DeactivateIstioInjectionWebhook, util.NeverMatch): selectors no namespace or pod matches.
// Only a fresh render of that revision (istioctl install) makes it inject again.
export const NEVER_MATCH = { matchLabels: { 'istio.io/deactivated': 'never-match' } };

type Webhook = { namespaceSelector?: { matchLabels?: Record<string, string> } };

function deactivated(hook: KubeObject): boolean {
  const webhooks = (hook.webhooks as Webhook[] | undefined) ?? [];
  return webhooks.length > 0 && webhooks.every((w) => w.namespaceSelector?.matchLabels?.['istio.io/deactivated'] === 'never-match');
}

// The webhooks istioctl deactivates when the default tag is set: istio.io/rev=default and no istio.io/tag.
export function deactivateDefaultInjector(cluster: SimCluster): void {
  for (const hook of hooks(cluster)) {
    const labels = hook.metadata.labels ?? {};
    if (labels[REV] !== DEFAULT_REVISION || labels[TAG] !== undefined) continue;
    const webhooks = ((hook.webhooks as Webhook[] | undefined) ?? []).map((w) => ({ ...w, namespaceSelector: NEVER_MATCH, objectSelector: NEVER_MATCH }));
    cluster.replace({ ...hook, webhooks });
  }
}

// The webhook that injects pods of a namespace, and the revision whose proxy it puts in, as the injectors'
// namespace selectors in Istio's chart decide: istio-injection=enabled goes to the default tag, else to the
// revisionless injector (it takes precedence over istio.io/rev); istio.io/rev names a tag or a revision. A
// deactivated injector matches nothing.
export function injectorFor(cluster: SimCluster, namespace: KubeObject | undefined): { hook: KubeObject; revision: string } | undefined {
  const labels = namespace?.metadata.labels ?? {};
  const pick = (hook: KubeObject | undefined) =>
    hook && !deactivated(hook) ? { hook, revision: hook.metadata.labels?.[REV] ?? revisionOfInjector(hook) ?? DEFAULT_REVISION } : undefined;
  if (labels['istio-injection'] !== undefined) {
    if (labels['istio-injection'] !== 'enabled') return undefined;
    return pick(tagHook(cluster, DEFAULT_REVISION)) ?? pick(injectorOfRevision(cluster, DEFAULT_REVISION));
  }
  const wanted = labels[REV];
  if (wanted === undefined) return undefined;
  return pick(tagHook(cluster, wanted)) ?? pick(injectorOfRevision(cluster, wanted));
}
