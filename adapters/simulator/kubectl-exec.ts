// kubectl exec <pod> -- curl: a request into the mesh, answered by the mesh model.
import type { CommandResult } from '../cluster-tools.js';
import { reachableEndpoints } from './controllers.js';
import { fail, type KubectlEnv, notFound, ok } from './kubectl-result.js';
import { type KubeObject, type ResourceType, resourceType } from './objects.js';
import type { SimCluster } from './sim-cluster.js';

// kubectl exec <pod> -c <container> -- curl -sS <service>.<ns>:<port>/hello, answered by the mesh model.
export function exec(
  env: KubectlEnv,
  cluster: SimCluster,
  podName: string | undefined,
  namespace: string,
  container: string | undefined,
  command: string[],
): CommandResult {
  const podType = resourceType('pod') as ResourceType;
  if (!podName) return fail('error: pod, type/name or --filename must be specified');
  const pod = cluster.get(podType, namespace, podName);
  if (!pod) return fail(notFound(podType, podName));
  const containers = ((pod.spec as { containers?: Array<{ name: string }> } | undefined)?.containers ?? []).map((c) => c.name);
  if (container && !containers.includes(container)) return fail(`error: unable to upgrade connection: container not found ("${container}")`);
  if (command[0] !== 'curl') return fail(`error: the simulator runs only curl in pods (got "${command[0] ?? ''}")`);
  const url = command.filter((a) => !a.startsWith('-')).slice(1)[0] ?? '';
  const address = /^(?:https?:\/\/)?(?<service>[a-z0-9-]+)\.(?<ns>[a-z0-9-]+)(?::\d+)?(?:\/\S*)?$/.exec(url)?.groups;
  if (!address) return { exitCode: 3, stdout: '', stderr: `curl: (3) URL rejected: Malformed input to a URL function\ncommand terminated with exit code 3\n` };
  const { service = '', ns = '' } = address;
  const svcType = resourceType('service') as ResourceType;
  if (!cluster.get(svcType, ns, service))
    return { exitCode: 6, stdout: '', stderr: `curl: (6) Could not resolve host: ${service}.${ns}\ncommand terminated with exit code 6\n` };
  const reachable = reachableEndpoints(env, cluster, pod, service, ns);
  if (!reachable) return { exitCode: 56, stdout: '', stderr: 'curl: (56) Recv failure: Connection reset by peer\ncommand terminated with exit code 56\n' };
  const endpoints = reachable.filter((p) => (p.status as { phase?: string } | undefined)?.phase === 'Running');
  if (endpoints.length === 0) return ok('no healthy upstream');
  // Round robin, as Envoy's default load balancing spreads successive requests.
  const served = Number(pod.metadata.annotations?.['sim.mesh-run/requests'] ?? '0');
  cluster.replace({ ...pod, metadata: { ...pod.metadata, annotations: { ...(pod.metadata.annotations ?? {}), 'sim.mesh-run/requests': String(served + 1) } } });
  const target = endpoints[served % endpoints.length] as KubeObject;
  return ok(`Hello version: ${target.metadata.labels?.version ?? 'unknown'}, instance: ${target.metadata.name}\n`);
}
