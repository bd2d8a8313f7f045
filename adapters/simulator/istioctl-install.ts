// istioctl install and uninstall: render, apply and prune what an IstioOperator asks for; remove it again.
import { parse as parseYaml } from 'yaml';
import type { CommandResult } from '../cluster-tools.js';
import { isTrue } from './argv.js';
import { istiodPublishes } from './controllers.js';
import { COMPONENT, MANAGED, OWNER, PRUNED_KINDS, REV, REVISIONED_COMPONENTS } from './istio-install-labels.js';
import { type IstioOperator, renderIstioOperator } from './istio-operator-render.js';
import { fail, ok } from './istioctl-result.js';
import { istiodLoadsCa, keepReported } from './istiod-ca.js';
import { invalidReason, type KubeObject, resourceType, typeOfKind } from './objects.js';
import type { SimCluster } from './sim-cluster.js';

export function install(cluster: SimCluster, flags: Map<string, string>, stdin: string | undefined, version: string): CommandResult {
  const file = flags.get('filename');
  let iop: IstioOperator = {};
  if (file !== undefined) {
    if (file !== '-') return fail(`Error: the simulator reads IstioOperator files from stdin only (-f -)`);
    try {
      iop = (parseYaml(stdin ?? '') ?? {}) as IstioOperator;
    } catch (error) {
      return fail(`Error: could not parse IstioOperator: ${(error as Error).message.split('\n')[0]}`);
    }
    if (iop.kind !== 'IstioOperator') return fail(`Error: the input is not an IstioOperator (kind: ${iop.kind ?? 'missing'})`);
  }
  const profile = iop.spec?.profile ?? 'default';
  if (!isTrue(flags, 'skip-confirmation')) {
    // No TTY and no -y: istioctl reads EOF (or the manifest) as "no".
    const prompt = `This will install the Istio ${version} profile "${profile}" into the cluster. Proceed? (y/N) `;
    if (file === '-' || !/^y(es)?\s*$/i.test(stdin ?? '')) return { exitCode: 1, stdout: `${prompt}Cancelled.\n`, stderr: '' };
  }
  const { objects, components } = renderIstioOperator(iop, version);
  for (const obj of objects) {
    const invalid = invalidReason(obj);
    if (invalid)
      return fail(
        `✘ Istio core encountered an error: failed to update resource with server-side apply for obj ${obj.kind}/${obj.metadata.namespace ?? ''}/${obj.metadata.name}: ${invalid}\nError: failed to install manifests: errors occurred during operation`,
      );
  }
  const nsType = resourceType('namespace');
  if (nsType && !cluster.get(nsType, '', 'istio-system'))
    cluster.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'istio-system' }, status: { phase: 'Active' } });
  for (const obj of objects) cluster.put(keepReported(cluster, obj));
  prune(cluster, iop, objects);
  istiodPublishes(cluster);
  // A new istiod loads the cacerts it finds (a re-install leaves a running one as it was).
  istiodLoadsCa(cluster, true);
  const lines = components.map((c) => `✔ ${c} installed`);
  return ok(`${lines.join('\n')}\n✔ Installation complete\n`);
}

// istioctl prunes what it installed before and no longer renders. An unnamed IstioOperator owns
// everything of its revision, which is how a re-run of the primary install deletes the east-west gateway.
function prune(cluster: SimCluster, iop: IstioOperator, rendered: KubeObject[]): void {
  const owner = iop.metadata?.name;
  const revision = iop.spec?.revision || 'default';
  const keep = new Set(rendered.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`));
  for (const obj of cluster.all()) {
    const labels = obj.metadata.labels ?? {};
    if (labels[MANAGED] !== 'Reconcile' || labels[REV] !== revision) continue;
    if (!PRUNED_KINDS.has(obj.kind)) continue;
    if (owner && labels[OWNER] !== owner) continue;
    const type = typeOfKind(obj.kind);
    const key = `${obj.kind}/${type?.namespaced ? (obj.metadata.namespace ?? '') : ''}/${obj.metadata.name}`;
    if (!keep.has(key)) cluster.remove(obj);
  }
}

// istioctl uninstall: --purge removes what istioctl installed for every revision (CRDs and webhooks too);
// --revision only that revision's objects. It always asks before purging unless -y.
export function uninstall(cluster: SimCluster, flags: Map<string, string>, stdin: string | undefined): CommandResult {
  const purge = isTrue(flags, 'purge');
  const revision = flags.get('revision');
  if (!purge && revision === undefined && flags.get('filename') === undefined) {
    return fail('Error: at least one of the --revision (or --set revision=<revision>), --filename or --purge flags must be set');
  }
  if (revision !== undefined && revision !== '') {
    const known = cluster.all().some((o) => (o.kind === 'MutatingWebhookConfiguration' || o.kind === 'Service') && o.metadata.labels?.[REV] === revision);
    if (!known) return fail('Error: could not find target revision');
  }
  if (!isTrue(flags, 'skip-confirmation')) {
    const prompt = purge ? 'All Istio resources will be pruned from the cluster\nProceed? (y/N) ' : 'Proceed? (y/N) ';
    if (!/^y(es)?\s*$/i.test(stdin ?? '')) return { exitCode: 1, stdout: `${prompt}Cancelled.\n`, stderr: '' };
  }
  const lines: string[] = [];
  for (const obj of cluster.all()) {
    const labels = obj.metadata.labels ?? {};
    const installed = labels[MANAGED] === 'Reconcile' || labels[OWNER] !== undefined;
    if (!installed || !(PRUNED_KINDS.has(obj.kind) || (purge && obj.kind === 'CustomResourceDefinition'))) continue;
    if (!purge && ((labels[REV] ?? 'default') !== (revision || 'default') || !REVISIONED_COMPONENTS.has(labels[COMPONENT] ?? ''))) continue;
    cluster.remove(obj);
    lines.push(`  Removed ${obj.kind}:${obj.metadata.namespace ?? ''}:${obj.metadata.name}.`);
  }
  return ok(`${lines.join('\n')}${lines.length > 0 ? '\n' : ''}✔ Uninstall complete\n`);
}
