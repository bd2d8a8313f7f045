// istioctl remote-clusters: each istiod's view of the clusters it reads (its own and its remote secrets).
import { parse as parseYaml } from 'yaml';
import { isLoopbackServer } from '../../shared/api-server.js';
import type { CommandResult } from '../cluster-tools.js';
import { istiodsOn, remoteSecretsOn } from './controllers.js';
import { fail, type IstioctlEnv, ok } from './istioctl-result.js';
import { type KubeObject, resourceType } from './objects.js';
import type { SimCluster } from './sim-cluster.js';

// The bearer token in a remote secret's kubeconfig, and the API server address istiod dials with it.
function credentialsIn(secret: KubeObject): { token: string; server: string } | undefined {
  for (const value of Object.values((secret.data as Record<string, string> | undefined) ?? {})) {
    try {
      const config = parseYaml(Buffer.from(value, 'base64').toString('utf8')) as {
        clusters?: Array<{ cluster?: { server?: string } }>;
        users?: Array<{ user?: { token?: string } }>;
      };
      const token = config?.users?.[0]?.user?.token;
      if (token) return { token, server: config.clusters?.[0]?.cluster?.server ?? '' };
    } catch {
      // not a kubeconfig
    }
  }
  return undefined;
}

// With --revision, only that revision's istiods answer (as istioctl asks that revision's pods).
export function remoteClusters(env: IstioctlEnv, cluster: SimCluster, revision: string | undefined): CommandResult {
  const revisionOf = (name: string) => (name === 'istiod' ? 'default' : name.slice('istiod-'.length));
  const istiods = istiodsOn(cluster).filter((i) => revision === undefined || revisionOf(i.name) === revision);
  if (istiods.length === 0) return fail('Error: unable to find any Istiod instances');
  const rows: string[][] = [['NAME', 'SECRET', 'STATUS', 'ISTIOD', 'REVISION']];
  for (const istiod of istiods) {
    const pod = `${istiod.name}-5d8f9c7b6-x2kqp`;
    rows.push([istiod.clusterId, '', 'synced', pod, revisionOf(istiod.name)]);
    for (const remote of remoteSecretsOn(cluster)) {
      const target = env.settings.contexts.find((c) => c.cluster === remote.name);
      // istiod reads the remote at the secret's address with the secret's token: from its pod a loopback
      // address is the pod itself, and a revoked token leaves its informers unsynced.
      const held = cluster.get(resourceType('secret') as NonNullable<ReturnType<typeof resourceType>>, 'istio-system', remote.secret.split('/')[1] ?? '');
      const credentials = held ? credentialsIn(held) : undefined;
      const accepted =
        target !== undefined &&
        credentials !== undefined &&
        !isLoopbackServer(credentials.server || target.server) &&
        (env.cluster(target.name)?.accepts(credentials.token) ?? false);
      rows.push([remote.name, remote.secret, accepted ? 'synced' : 'timeout', pod, revisionOf(istiod.name)]);
    }
  }
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return ok(
    `${rows
      .map((r) =>
        r
          .map((cell, i) => cell.padEnd((widths[i] ?? 0) + 3))
          .join('')
          .trimEnd(),
      )
      .join('\n')}\n`,
  );
}
