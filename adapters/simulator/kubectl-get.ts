// kubectl get: one or several types, by name or all of them, printed as asked.
import type { CommandResult } from '../cluster-tools.js';
import { isTrue } from './argv.js';
import { render } from './kubectl-printers.js';
import { fail, notFound } from './kubectl-result.js';
import { type KubeObject, nameOf, type ResourceType, resourceType } from './objects.js';
import type { SimCluster } from './sim-cluster.js';

function matchesSelector(obj: KubeObject, selector: string | undefined): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const [k, v] = term.split('=');
    return obj.metadata.labels?.[k as string] === v;
  });
}

export function splitTarget(positionals: string[]): Array<{ type: ResourceType; name?: string } | { error: string }> {
  if (positionals.length === 0) return [{ error: 'error: you must specify the type of resource to get' }];
  if (positionals.every((p) => p.includes('/'))) {
    return positionals.map((p) => {
      const [t, n] = p.split('/') as [string, string];
      const type = resourceType(t);
      return type ? { type, name: n } : { error: `error: the server doesn't have a resource type "${t}"` };
    });
  }
  // Several types at once (kubectl get crd,mutatingwebhookconfigurations): every object of each, no names.
  const kinds = (positionals[0] as string).split(',');
  if (kinds.length > 1) {
    if (positionals.length > 1) return [{ error: 'error: arguments in resource/name form must have a single resource and name' }];
    return kinds.map((k) => {
      const type = resourceType(k);
      return type ? { type } : { error: `error: the server doesn't have a resource type "${k}"` };
    });
  }
  const type = resourceType(positionals[0] as string);
  if (!type) return [{ error: `error: the server doesn't have a resource type "${positionals[0]}"` }];
  const names = positionals.slice(1);
  return names.length === 0 ? [{ type }] : names.map((name) => ({ type, name }));
}

export function get(cluster: SimCluster, positionals: string[], namespace: string, flags: Map<string, string>): CommandResult {
  cluster.reconcileLoadBalancers();
  const targets = splitTarget(positionals);
  const found: Array<{ type: ResourceType; obj: KubeObject }> = [];
  const errors: string[] = [];
  for (const target of targets) {
    if ('error' in target) return fail(target.error);
    if (target.name === undefined) {
      const scope = isTrue(flags, 'all-namespaces') ? undefined : namespace;
      for (const obj of cluster.list(target.type, scope)) if (matchesSelector(obj, flags.get('selector'))) found.push({ type: target.type, obj });
      continue;
    }
    const obj = cluster.get(target.type, namespace, target.name);
    if (obj) found.push({ type: target.type, obj });
    else errors.push(notFound(target.type, target.name));
  }
  const single = targets.length === 1 && 'name' in (targets[0] as object) && (targets[0] as { name?: string }).name !== undefined;
  let stdout = '';
  try {
    const output = flags.get('output');
    if (output === 'name') stdout = found.map(({ type, obj }) => `${nameOf(type, obj.metadata.name)}\n`).join('');
    else if (found.length > 0 || !single)
      stdout = render(
        found.map((f) => f.obj),
        found[0]?.type ?? (targets[0] as { type: ResourceType }).type,
        output,
        single,
      );
  } catch (error) {
    return fail(`error: ${(error as Error).message}`);
  }
  if (found.length === 0 && !single && errors.length === 0 && flags.get('output') === undefined) {
    return { exitCode: 0, stdout: '', stderr: `No resources found in ${namespace} namespace.\n` };
  }
  return { exitCode: errors.length > 0 ? 1 : 0, stdout, stderr: errors.map((e) => `${e}\n`).join('') };
}
