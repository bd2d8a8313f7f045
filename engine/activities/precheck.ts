// mesh-run precheck: everything that would stop or spoil an install, found in one pass and reported at once
// (one finding per line, each with what to do). Reads only; never a Secret's data.
import type { ClusterTools } from '../../adapters/cluster-tools.js';
import { needsGateway, secretHoldersOf } from '../../machines/topology.js';
import { StepError } from '../../shared/errors.js';
import type { MeshCluster, MeshConfig } from '../../shared/model.js';
import type { AnswerBook } from './answer-book.js';
import { directRuntime, probing } from './environment-check.js';
import { preflight } from './install.js';
import { istioOwners, MESH_RUN_OWNER } from './mesh-inventory.js';
import { istioctl, kubectl } from './step-runtime.js';

export interface Finding {
  check: string;
  // The cluster it is about (absent: the tools, or the mesh as a whole).
  cluster?: string;
  // problem: an install would fail or do harm; warning: it may work, look first.
  level: 'problem' | 'warning';
  message: string;
  hint?: string;
}

export interface PrecheckReport {
  findings: Finding[];
  // What was checked, per cluster, for the table of a clean run.
  checked: string[];
}

const minorOf = (version: string | undefined) => Number(/^v?1\.(\d+)/.exec(version ?? '')?.[1] ?? Number.NaN);

// `book`: keeps the answers of the checks for the run the precheck clears (its preflight step).
export async function precheck(config: MeshConfig, tools: ClusterTools, book?: AnswerBook): Promise<PrecheckReport> {
  const rt = directRuntime(config, tools, book);
  // A probe that cannot run answers like a failed command: preflight already said why.
  const probe = probing(rt);
  const findings: Finding[] = [];
  const checked = ['kube contexts', 'API servers answer', 'istioctl version', 'remote API server addresses'];
  await preflightFindings(rt, config, findings);
  // The rest asks each cluster that answers.
  const answering = await answeringClusters(probe, config, findings);
  checked.push('version skew', 'istioctl x precheck', 'Istio already present', 'roots of trust', 'load balancer', 'credential plugins');
  const shape = { members: config.clusters };
  const roots = new Map<string, string[]>();
  await Promise.all(answering.map(({ cluster }) => checkCluster(rt, probe, { shape, cluster, findings, roots })));
  if (roots.size > 1) {
    const groups = [...roots.values()].map((names) => names.join(', '));
    findings.push({
      check: 'root-of-trust',
      level: 'problem',
      message: `the clusters trust different roots (${groups.join(' / ')}): workloads across them cannot verify each other`,
      hint: 'plug in certificates from one root (trust: in the config, or cacerts from one CA) before installing',
    });
  }
  findings.sort((a, b) => (a.level === b.level ? 0 : a.level === 'problem' ? -1 : 1));
  return { findings, checked };
}

type Runtime = ReturnType<typeof directRuntime>;
type Probe = ReturnType<typeof probing>;

// The checks install's preflight step runs: tools, contexts, API servers, loopback addresses.
async function preflightFindings(rt: Runtime, config: MeshConfig, findings: Finding[]): Promise<void> {
  try {
    await preflight(
      rt,
      {
        runId: '',
        step: 'preflight',
        cluster: '*',
        context: config.clusters[0]?.context ?? '',
        clusters: config.clusters.map((c) => ({ name: c.name, context: c.context })),
        checkRemoteServers: true,
      },
      { config },
    );
  } catch (error) {
    if (!(error instanceof StepError)) throw error;
    for (const line of error.message.split('\n')) findings.push({ check: 'preflight', level: 'problem', message: line, ...clusterIn(line, config) });
  }
}

// The clusters whose API server answers, with its version; kubectl too far from it is a warning.
async function answeringClusters(probe: Probe, config: MeshConfig, findings: Finding[]): Promise<Array<{ cluster: MeshCluster; server: string }>> {
  const answering: Array<{ cluster: MeshCluster; server: string }> = [];
  await Promise.all(
    config.clusters.map(async (cluster) => {
      const result = await probe(kubectl(cluster.context, ['version', '-o', 'json', '--request-timeout=20s'], 'check'));
      if (result.exitCode !== 0) return;
      try {
        const doc = JSON.parse(result.stdout) as { serverVersion?: { gitVersion?: string }; clientVersion?: { gitVersion?: string } };
        answering.push({ cluster, server: doc.serverVersion?.gitVersion ?? '' });
        const skew = Math.abs(minorOf(doc.clientVersion?.gitVersion) - minorOf(doc.serverVersion?.gitVersion));
        if (skew > 1) {
          findings.push({
            check: 'version-skew',
            cluster: cluster.name,
            level: 'warning',
            message: `kubectl ${doc.clientVersion?.gitVersion} and ${cluster.name}'s API server ${doc.serverVersion?.gitVersion} are ${skew} minor versions apart (kubectl supports one)`,
            hint: 'use a kubectl within one minor version of the clusters (tools.kubectl)',
          });
        }
      } catch {
        // an unreadable answer: preflight already said what it could
      }
    }),
  );
  return answering;
}

// One answering cluster's checks, in order; what they find goes to `findings`, its root of trust to `roots`.
// The functions below build the findings without awaiting: how the clusters' findings interleave depends only on
// the probes here.
async function checkCluster(
  rt: Runtime,
  probe: Probe,
  at: { shape: { members: MeshCluster[] }; cluster: MeshCluster; findings: Finding[]; roots: Map<string, string[]> },
): Promise<void> {
  const { shape, cluster, findings, roots } = at;
  const ctx = cluster.context;
  // An Istio someone else installed: install would fight it, uninstall would refuse it.
  let ours = false;
  try {
    const owners = await istioOwners(rt, ctx);
    ours = owners.length > 0 && owners.every((o) => MESH_RUN_OWNER.test(o));
    const found = existingIstio(cluster, owners);
    if (found) findings.push(found);
  } catch {
    // unreadable webhooks: istioctl x precheck reports permissions
  }
  // istioctl's own pre-install checks (permissions, server version, control plane). On a cluster that
  // already runs mesh-run's Istio (a re-run) what it finds is for reading, not a reason to stop.
  const x = await probe(istioctl(ctx, ['x', 'precheck'], 'check'));
  if (x.exitCode !== 0) findings.push(istioctlPrecheck(cluster, x, ours));
  // The root every istiod publishes (a ConfigMap, never the cacerts Secret's data).
  const root = await probe(kubectl(ctx, ['-n', 'istio-system', 'get', 'configmap', 'istio-ca-root-cert', '-o', 'jsonpath={.data.root-cert\\.pem}'], 'check'));
  if (root.exitCode === 0 && root.stdout.trim()) {
    const key = root.stdout.trim();
    roots.set(key, [...(roots.get(key) ?? []), cluster.name]);
  }
  // Where the east-west gateway gets its address from.
  if (needsGateway(shape, cluster.name)) {
    const lbs = await probe(kubectl(ctx, ['get', 'services', '-A', '-o', 'json'], 'check'));
    const found = loadBalancer(cluster, lbs);
    if (found) findings.push(found);
  }
  // A kubeconfig user that authenticates through a plugin: fine for mesh-run's own kubectl, but the
  // remote secret must carry a token istiod can use (istioctl create-remote-secret makes one).
  if (secretHoldersOf(shape, cluster.name).length > 0) {
    const plugin = await probe({
      tool: 'kubectl',
      args: ['config', 'view', '--minify', `--context=${ctx}`, '-o', 'jsonpath={.users[0].user.exec.command}{"|"}{.users[0].user.auth-provider.name}'],
      context: ctx,
      purpose: 'check',
    });
    const found = credentialPlugin(cluster, plugin);
    if (found) findings.push(found);
  }
}

type Answer = Awaited<ReturnType<Probe>>;

function existingIstio(cluster: MeshCluster, owners: string[]): Finding | undefined {
  const foreign = owners.filter((o) => !MESH_RUN_OWNER.test(o));
  if (foreign.length > 0) {
    return {
      check: 'existing-istio',
      cluster: cluster.name,
      level: 'problem',
      message: `${cluster.name} already runs an Istio that mesh-run did not install (owner: ${foreign.join(', ')})`,
      hint: 'check the context; remove that Istio first, or give mesh-run other clusters',
    };
  }
  if (owners.length > 0) {
    return {
      check: 'existing-istio',
      cluster: cluster.name,
      level: 'warning',
      message: `${cluster.name} already has an Istio installed by mesh-run (${owners.join(', ')}); install converges on it`,
    };
  }
  return undefined;
}

function istioctlPrecheck(cluster: MeshCluster, x: Answer, ours: boolean): Finding {
  const said = `${x.stdout}\n${x.stderr}`
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^Error: Issues found/.test(l));
  return {
    check: 'istioctl-precheck',
    cluster: cluster.name,
    level: ours ? 'warning' : 'problem',
    message: `istioctl x precheck on ${cluster.name} found issues: ${said.slice(0, 3).join('; ').slice(0, 300) || `exit ${x.exitCode}`}`,
    hint: `run "istioctl x precheck --context=${cluster.context}" for the details`,
  };
}

function loadBalancer(cluster: MeshCluster, lbs: Answer): Finding | undefined {
  let withAddress = 0;
  try {
    const services =
      (JSON.parse(lbs.stdout) as { items?: Array<{ spec?: { type?: string }; status?: { loadBalancer?: { ingress?: unknown[] } } }> }).items ?? [];
    withAddress = services.filter((s) => s.spec?.type === 'LoadBalancer' && (s.status?.loadBalancer?.ingress?.length ?? 0) > 0).length;
  } catch {
    withAddress = -1;
  }
  if (lbs.exitCode !== 0 || withAddress !== 0) return undefined;
  return {
    check: 'load-balancer',
    cluster: cluster.name,
    level: 'warning',
    message: `no Service of type LoadBalancer has an address on ${cluster.name}: its east-west gateway may wait for one until timeouts.gatewayAddress`,
    hint: 'install a load-balancer provider (a cloud one, MetalLB, cloud-provider-kind) or check that it hands out addresses',
  };
}

function credentialPlugin(cluster: MeshCluster, plugin: Answer): Finding | undefined {
  const ctx = cluster.context;
  const [exec, provider] = plugin.stdout.trim().split('|');
  if (plugin.exitCode !== 0 || !(exec || provider)) return undefined;
  return {
    check: 'credential-plugin',
    cluster: cluster.name,
    level: 'warning',
    message: `context "${ctx}" authenticates through ${exec ? `an exec plugin (${exec})` : `an auth-provider (${provider})`}, which istiod cannot run: ${cluster.name}'s remote secret must carry a service-account token instead`,
    hint: 'mesh-run creates it with istioctl create-remote-secret (a token of istio-reader-service-account); do not hand istiod this kubeconfig (istio#58335)',
  };
}

// The cluster a preflight line names, if any.
function clusterIn(line: string, config: MeshConfig): { cluster?: string } {
  const named = config.clusters.find((c) => line.includes(`(cluster ${c.name})`) || line.includes(`gives ${c.name}'s API server`));
  return named ? { cluster: named.name } : {};
}
