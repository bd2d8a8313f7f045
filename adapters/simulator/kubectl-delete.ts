// kubectl delete: a namespace takes what is in it along, a Deployment its pods.
import type { CommandResult } from '../cluster-tools.js';
import { splitTarget } from './kubectl-get.js';
import { fail, notFound } from './kubectl-result.js';
import { type ResourceType, resourceType, typeOfKind } from './objects.js';
import type { SimCluster } from './sim-cluster.js';

// kubectl delete <type> <name>... or <type>/<name>...: a namespace takes everything in it along, a
// Deployment its pods (finalization and garbage collection are immediate here).
export function remove(cluster: SimCluster, positionals: string[], namespace: string, ignoreNotFound: boolean): CommandResult {
  const targets = positionals.every((p) => p.includes('/')) ? splitTarget(positionals) : positionals.length > 1 ? splitTarget(positionals) : [];
  if (targets.length === 0 || targets.some((t) => 'error' in t || t.name === undefined)) {
    const bad = targets.find((t) => 'error' in t) as { error: string } | undefined;
    return fail(bad?.error ?? 'error: resource(s) were provided, but no name was specified');
  }
  const lines: string[] = [];
  const errors: string[] = [];
  for (const target of targets as Array<{ type: ResourceType; name: string }>) {
    const { type, name } = target;
    const obj = cluster.get(type, namespace, name);
    if (!obj) {
      if (!ignoreNotFound) errors.push(`${notFound(type, name)}\n`);
      continue;
    }
    if (type.kind === 'Namespace')
      for (const inside of cluster.all()) if (inside.metadata.namespace === name && typeOfKind(inside.kind)?.namespaced) cluster.remove(inside);
    if (type.kind === 'Deployment') {
      const podType = resourceType('pod') as ResourceType;
      for (const pod of cluster.list(podType, namespace))
        if (pod.metadata.name.startsWith(`${name}-`) && pod.metadata.labels?.['pod-template-hash']) cluster.remove(pod);
    }
    cluster.remove(obj);
    lines.push(`${type.resource.split('.')[0]} "${name}" deleted\n`);
  }
  return { exitCode: errors.length > 0 ? 1 : 0, stdout: lines.join(''), stderr: errors.join('') };
}
