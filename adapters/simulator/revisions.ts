// Revisions side by side, as the simulated clusters model them: the proxies each revision's istiod has
// connected, and istioctl's `tag` and `proxy-status` commands over them (injectors.ts: which injector a pod gets).
import type { CommandResult } from '../cluster-tools.js';
import { controlPlaneOf, istiodsOn, type WorldView } from './controllers.js';
import { DEFAULT_REVISION, deactivateDefaultInjector, hooks, injectorOfRevision, tagHook } from './injectors.js';
import type { KubeObject, ResourceType } from './objects.js';
import { resourceType } from './objects.js';
import type { SimCluster } from './sim-cluster.js';

const t = (name: string) => resourceType(name) as ResourceType;
const REV = 'istio.io/rev';
const TAG = 'istio.io/tag';
const TAG_PREFIX = 'istio-revision-tag-';

const ok = (stdout: string): CommandResult => ({ exitCode: 0, stdout, stderr: '' });
const fail = (stderr: string): CommandResult => ({ exitCode: 1, stdout: '', stderr: stderr.endsWith('\n') ? stderr : `${stderr}\n` });

function istiodOf(primary: SimCluster, revision: string) {
  return istiodsOn(primary).find((i) => i.name === (revision === DEFAULT_REVISION ? 'istiod' : `istiod-${revision}`));
}

function sidecarOf(pod: KubeObject): boolean {
  return ((pod.spec as { containers?: Array<{ name: string }> } | undefined)?.containers ?? []).some((c) => c.name === 'istio-proxy');
}

// Every proxy connected to an istiod of `primary`: the sidecars of its own cluster and of the clusters it
// serves whose revision has an istiod there.
export function connectedProxies(world: WorldView, primary: SimCluster): Array<{ pod: KubeObject; cluster: string; istiod: string }> {
  const found: Array<{ pod: KubeObject; cluster: string; istiod: string }> = [];
  for (const ctx of world.settings.contexts) {
    const cluster = world.cluster(ctx.name);
    if (!cluster || controlPlaneOf(world, cluster)?.context.name !== primary.context.name) continue;
    for (const pod of cluster.list(t('pod'))) {
      if (!sidecarOf(pod)) continue;
      const istiod = istiodOf(primary, pod.metadata.labels?.[REV] ?? DEFAULT_REVISION);
      if (istiod) found.push({ pod, cluster: ctx.cluster, istiod: istiod.name });
    }
  }
  return found;
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return `${rows
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd((widths[i] ?? 0) + 5))
        .join('')
        .trimEnd(),
    )
    .join('\n')}\n`;
}

// istioctl proxy-status [--revision <rev>]: the proxies this cluster's istiods have connected.
export function proxyStatus(world: WorldView, cluster: SimCluster, revision: string | undefined, version: string): CommandResult {
  const istiods = istiodsOn(cluster).filter((i) => revision === undefined || istiodOf(cluster, revision)?.name === i.name);
  if (istiods.length === 0) return fail('Error: unable to find any Istiod instances');
  const rows = [['NAME', 'CLUSTER', 'CDS', 'LDS', 'EDS', 'RDS', 'ECDS', 'ISTIOD', 'VERSION']];
  for (const proxy of connectedProxies(world, cluster)) {
    if (!istiods.some((i) => i.name === proxy.istiod)) continue;
    const sync = ['SYNCED (2m)', 'SYNCED (2m)', 'SYNCED (2m)', 'SYNCED (2m)', 'IGNORED'];
    rows.push([`${proxy.pod.metadata.name}.${proxy.pod.metadata.namespace}`, proxy.cluster, ...sync, `${proxy.istiod}-5d8f9c7b6-x2kqp`, version]);
  }
  return ok(table(rows));
}

// istioctl tag set|list|remove, with the checks and messages of istioctl/pkg/tag.
export function tagCommand(cluster: SimCluster, positionals: readonly string[], flags: Map<string, string>, yes: boolean, overwrite: boolean): CommandResult {
  const [, sub, name, extra] = positionals;
  if (sub === 'list') {
    const tags = hooks(cluster)
      .filter((h) => h.metadata.labels?.[TAG] !== undefined)
      .map((h) => ({
        tag: h.metadata.labels?.[TAG] ?? '',
        revision: h.metadata.labels?.[REV] ?? '',
        namespaces: taggedNamespaces(cluster, h.metadata.labels?.[TAG] ?? ''),
      }))
      .sort((a, b) => a.revision.localeCompare(b.revision) || a.tag.localeCompare(b.tag));
    if (flags.get('output') === 'json') return ok(`${JSON.stringify(tags, null, 2)}\n`);
    if (tags.length === 0) return ok('No Istio revision tags found.\n');
    return ok(table([['TAG', 'REVISION', 'NAMESPACES'], ...tags.map((x) => [x.tag, x.revision, x.namespaces.join(',')])]));
  }
  if (sub === 'set') {
    if (!name) return fail('Error: must provide a tag for modification');
    if (extra !== undefined) return fail('Error: must provide a single tag for creation');
    const revision = flags.get('revision');
    if (!revision) return fail('Error: revision is required');
    if (name !== DEFAULT_REVISION && injectorOfRevision(cluster, name))
      return fail(`Error: cannot create revision tag "${name}": found existing control plane revision with same name`);
    const canonical = injectorOfRevision(cluster, revision);
    if (!canonical) return fail(`Error: cannot modify tag: cannot find MutatingWebhookConfiguration or Service with revision "${revision}"`);
    const existing = tagHook(cluster, name);
    if (existing && existing.metadata.labels?.[REV] !== revision && !overwrite)
      return fail(`Error: revision tag "${name}" already exists, and --overwrite is false`);
    cluster.put({
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingWebhookConfiguration',
      metadata: { name: `${TAG_PREFIX}${name}`, labels: { [REV]: revision, [TAG]: name, app: 'sidecar-injector' } },
      webhooks: structuredClone(canonical.webhooks ?? []),
    });
    // The default tag takes istio-injection=enabled over: the default revision's own injector is kept, inert.
    if (name === DEFAULT_REVISION) deactivateDefaultInjector(cluster);
    return ok(
      `Revision tag "${name}" created, referencing control plane revision "${revision}". To enable injection using this\nrevision tag, use 'kubectl label namespace <NAMESPACE> istio.io/rev=${name}'\n`,
    );
  }
  if (sub === 'remove') {
    if (!name) return fail('Error: must provide a tag for removal');
    const existing = tagHook(cluster, name);
    if (!existing) return fail(`Error: cannot remove tag "${name}": cannot find MutatingWebhookConfiguration or Service for tag`);
    const dependent = taggedNamespaces(cluster, name);
    if (dependent.length > 0 && !yes) return { exitCode: 0, stdout: 'Aborting operation.\n', stderr: '' };
    cluster.remove(existing);
    return ok(`Revision tag ${name} removed\n`);
  }
  return fail(`Error: unknown subcommand "${sub ?? ''}"`);
}

function taggedNamespaces(cluster: SimCluster, tag: string): string[] {
  return cluster
    .list(t('namespace'))
    .filter((ns) => ns.metadata.labels?.[REV] === tag)
    .map((ns) => ns.metadata.name)
    .sort();
}
