// kubectl rollout restart and rollout status, on deployments.
import type { CommandResult } from '../cluster-tools.js';
import { RESTARTED_AT } from './controllers.js';
import { fail, notFound, ok } from './kubectl-result.js';
import { type KubeObject, resourceType } from './objects.js';
import type { SimCluster } from './sim-cluster.js';

// kubectl rollout restart deployment[/name]: a new pod-template annotation, so the controller replaces the pods
// (and the injector, as the namespace's labels say now, injects the new ones).
export function rolloutRestart(cluster: SimCluster, positionals: string[], namespace: string): CommandResult {
  const target = positionals[0] ?? '';
  const [typeName, name] = target.includes('/') ? (target.split('/') as [string, string]) : [target, positionals[1]];
  const type = resourceType(typeName);
  if (type?.kind !== 'Deployment') return fail(`error: the simulator restarts deployments only`);
  const chosen = name ? [cluster.get(type, namespace, name)].filter((d): d is KubeObject => d !== undefined) : cluster.list(type, namespace);
  if (name && chosen.length === 0) return fail(notFound(type, name));
  if (chosen.length === 0) return fail(`error: no deployments found in ${namespace} namespace.`);
  const lines: string[] = [];
  for (const deployment of chosen) {
    const spec = (deployment.spec ?? {}) as { template?: { metadata?: { annotations?: Record<string, string> } } };
    const template = spec.template ?? {};
    // kubectl writes the time; the simulator counts restarts, so a world's end state is reproducible.
    const previous = /^restart-(\d+)$/.exec(template.metadata?.annotations?.[RESTARTED_AT] ?? '')?.[1];
    const annotations = { ...(template.metadata?.annotations ?? {}), [RESTARTED_AT]: `restart-${Number(previous ?? 0) + 1}` };
    const { status, ...rest } = deployment;
    // istio-system's Deployments (istiod, the gateways) have no modelled pods: ready at once, as istioctl renders them.
    const kept = namespace === 'istio-system' && status !== undefined ? { status } : {};
    cluster.replace({ ...rest, spec: { ...spec, template: { ...template, metadata: { ...template.metadata, annotations } } }, ...kept });
    lines.push(`deployment.apps/${deployment.metadata.name} restarted\n`);
  }
  return ok(lines.join(''));
}

export function rolloutStatus(cluster: SimCluster, positionals: string[], namespace: string): CommandResult {
  if (positionals[0] !== 'status') return fail('error: the simulator supports "rollout status" only');
  const target = positionals[1] ?? '';
  const [t, name] = target.includes('/') ? (target.split('/') as [string, string]) : [target, positionals[2] ?? ''];
  const type = resourceType(t);
  if (type?.kind !== 'Deployment') return fail(`error: no status viewer has been implemented for ${t}`);
  const obj = cluster.get(type, namespace, name);
  if (!obj) return fail(notFound(type, name));
  const status = (obj.status ?? {}) as { readyReplicas?: number };
  if ((status.readyReplicas ?? 0) < 1) return fail(`error: timed out waiting for the condition`);
  return ok(`deployment "${name}" successfully rolled out\n`);
}
