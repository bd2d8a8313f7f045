// The drift of a real mesh, made again on a simulated copy of it: `plan repair` reads the real clusters as
// drift does, then rehearses the repair on a copy where each repair finds what it would find for real (a
// step observes before it acts, so a copy without the drift would show its reads only).
import type { ClusterTools } from '../adapters/cluster-tools.js';
import { InternalError } from '../shared/errors.js';
import type { MeshConfig, RepairAction, RepairItem } from '../shared/model.js';
import { CONTROL_PLANE_ANNOTATION, GATEWAY_SERVICE, NETWORK_LABEL } from './activities/install-common.js';
import { ISTIO_SYSTEM } from './activities/kube-ops.js';
import { istiodVirtualServiceName } from './activities/manifests.js';
import { remoteSecretName } from './activities/remote-secrets.js';
import { cacertsDrift, controlPlaneDrift, type Drifting, defaultTagDrift, type Edit, remoteDrift } from './plan-drift-installed.js';

type Change = (drifting: Drifting) => Edit[] | Promise<Edit[]>;

// A remote secret of a cluster that is not a member, as drift finds it: labelled for istiod, naming it. Its
// kubeconfig carries no credential (the copy only needs the secret there, by name).
function staleSecret(name: string): string {
  const cluster = name.replace(/^istio-remote-secret-/, '') || name;
  const kubeconfig = `apiVersion: v1\nkind: Config\nclusters:\n- name: ${cluster}\n  cluster: {server: 'https://${cluster}.invalid:6443'}\nusers:\n- name: ${cluster}\n  user: {}\n`;
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: ISTIO_SYSTEM, labels: { 'istio/multiCluster': 'true' } },
    data: { [cluster]: Buffer.from(kubeconfig).toString('base64') },
  });
}

// Each repair action, and the kubectl changes that leave the copy drifted as the repair expects. A secret
// missing, dialling another server or carrying a refused token is rewritten whole by the same commands: the
// copy has it missing. The reinstalled parts (gateway aside) and the CA are in plan-drift-installed.ts.
const DRIFTED: Record<RepairAction, Change> = {
  secret: ({ item }) => [{ args: ['-n', ISTIO_SYSTEM, 'delete', 'secret', remoteSecretName(item.source ?? ''), '--ignore-not-found'] }],
  'stale-secret': ({ item }) => [{ args: ['apply', '-f', '-'], stdin: staleSecret(item.secret ?? '') }],
  label: () => [{ args: ['label', 'namespace', ISTIO_SYSTEM, `${NETWORK_LABEL}-`] }],
  annotation: () => [{ args: ['annotate', 'namespace', ISTIO_SYSTEM, `${CONTROL_PLANE_ANNOTATION}-`] }],
  'expose-istiod': ({ config }) => [
    {
      args: [
        '-n',
        ISTIO_SYSTEM,
        'delete',
        'gateway.networking.istio.io/istiod-gateway',
        `virtualservice.networking.istio.io/${istiodVirtualServiceName(config.revision)}`,
        '--ignore-not-found',
      ],
    },
  ],
  'expose-services': () => [{ args: ['-n', ISTIO_SYSTEM, 'delete', 'gateway.networking.istio.io/cross-network-gateway', '--ignore-not-found'] }],
  // No east-west gateway, or one without an address: its Service deleted either way (repair-gateway installs
  // it again for both). The copy's load balancer hands the same address back, so the remotes that follow find
  // theirs unchanged; a real one may hand out another, and they are installed again there.
  gateway: () => [{ args: ['-n', ISTIO_SYSTEM, 'delete', 'service', GATEWAY_SERVICE, '--ignore-not-found'] }],
  remote: remoteDrift,
  'control-plane': controlPlaneDrift,
  cacerts: cacertsDrift,
  'default-tag': defaultTagDrift,
};

const NOT_FOUND = /\(NotFound\)|not found/i;

// Puts each repair's drift into the simulated copy `tools` act on (never real clusters: refused). `found`: the
// rest of what the drift check found (not repaired, or left out by --only), where it tells how a repaired item
// drifted.
export async function driftCopy(tools: ClusterTools, config: MeshConfig, repairs: readonly RepairItem[], found: Drifting['found'] = []): Promise<void> {
  if (tools.mode !== 'dry-run') throw new InternalError('drift is made again on simulated clusters only');
  for (const item of repairs) {
    const context = config.clusters.find((c) => c.name === item.cluster)?.context;
    if (context === undefined) continue;
    const kubectl = async (args: readonly string[], stdin?: string) =>
      tools.run(
        { tool: 'kubectl', args: [`--context=${context}`, ...args], context, ...(stdin !== undefined ? { stdin } : {}) },
        { signal: new AbortController().signal, timeoutMs: 60_000, step: 'preflight', cluster: item.cluster },
      );
    const read = async <T>(args: string[]): Promise<T | undefined> => {
      const result = await kubectl(['get', ...args, '-o', 'json']);
      if (result.exitCode === 0) return JSON.parse(result.stdout) as T;
      if (NOT_FOUND.test(result.stderr)) return undefined;
      throw new InternalError(`reading ${args.join(' ')} on ${item.cluster}'s simulated copy failed: ${result.stderr.trim()}`);
    };
    for (const { args, stdin } of await DRIFTED[item.action]({ item, config, found, read })) {
      const result = await kubectl(args, stdin);
      if (result.exitCode !== 0) throw new InternalError(`making ${item.kind} on ${item.cluster}'s simulated copy failed: ${result.stderr.trim()}`);
    }
  }
}
