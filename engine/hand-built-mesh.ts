// A mesh built by hand: the commands a person runs from Istio's multicluster pages (primary-remote, multi-primary,
// each on one network or several, and a fleet mixing them), issued straight on the clusters with no run, no
// journal and none of mesh-run's marks. What mesh-run adopts must look like this; on simulated clusters it is
// how adoption is rehearsed and tested. Which cluster does what comes from the same topology rules mesh-run's
// install follows (machines/topology.ts); how each thing is done is the page's, not mesh-run's:
// - istio-system is created unlabelled (kubectl create namespace), labelled only with the network (multi-network)
//   and, on a remote, annotated with its control plane;
// - the control-plane IstioOperators have no name (so a re-run prunes the east-west gateway, which the re-run
//   then installs again, as a person re-running the page would), the gateway's is gen-eastwest-gateway's "eastwest";
// - remote secrets are applied client-side (kubectl apply -f -), as the page pipes them;
// - cacerts (several primaries, or a trust: section) is created from memory before istiod, as configure_trust does.
// Re-running it on the same clusters converges: what a re-run would fail on (create namespace, create cacerts)
// is looked up first, the rest is install and apply.
import type { ClusterTools } from '../adapters/cluster-tools.js';
import {
  controlPlaneOf,
  exposesIstiod,
  exposesServices,
  labelsNetwork,
  type MeshShape,
  needsGateway,
  primariesOf,
  remotesOf,
  secretHoldersOf,
  type TopologyName,
  topologyName,
} from '../machines/topology.js';
import { StepError } from '../shared/errors.js';
import type { ClusterRole, MeshCluster, MeshConfig } from '../shared/model.js';
import { istioctl, kubectl } from './activities/step-runtime.js';
import { cacertsYaml, eastwestYaml, exposeIstiodYaml, exposeServicesYaml, injectionPath, primaryYaml, remoteYaml } from './hand-built/manifests.js';
import { ISTIO_SYSTEM, Shell, type StdinSource } from './hand-built/shell.js';
import { bundlesFor, wantsCacerts } from './hand-built/trust.js';

const NETWORK_LABEL = 'topology.istio.io/network';
const CONTROL_PLANE_ANNOTATION = 'topology.istio.io/controlPlaneClusters';

// What one cluster got.
export interface HandBuiltCluster {
  name: string;
  context: string;
  role: ClusterRole;
  network: string;
  // istio-system: created by this build, or there already.
  namespace?: 'created' | 'existed';
  // topology.istio.io/network on istio-system (multi-network meshes).
  networkLabel?: string;
  // topology.istio.io/controlPlaneClusters on a remote's istio-system.
  controlPlaneClusters?: string;
  cacerts?: 'created' | 'kept';
  // The IstioOperator installed: a primary's control plane, or a remote's remote profile.
  install?: { profile: 'default' | 'remote'; revision?: string; externalIstiod?: boolean; remotePilotAddress?: string; injectionPath?: string };
  eastWestGateway?: { address: string };
  exposed: Array<'istiod' | 'services'>;
  // The clusters whose remote secrets this cluster holds (a primary).
  secretsHeld: string[];
}

export interface HandBuiltReport {
  meshID: string;
  revision?: string;
  topology: TopologyName;
  // Every command, in order, as typed: "kubectl --context=cluster1 create namespace istio-system". No secret:
  // tokens went through pipes and keys through stdin, and stdin is shown as the file it stands for.
  commands: string[];
  clusters: HandBuiltCluster[];
  // What the tools warned about (create-remote-secret's loopback server).
  warnings: string[];
}

// One build in progress.
interface Build {
  config: MeshConfig;
  shape: MeshShape;
  sh: Shell;
  out: Map<string, HandBuiltCluster>;
  warnings: string[];
}

const outOf = (b: Build, c: MeshCluster) => b.out.get(c.name) as HandBuiltCluster;

// kubectl create namespace istio-system, unless it is there (a re-run, or create-remote-secret made it).
async function ensureNamespace(b: Build, c: MeshCluster): Promise<void> {
  const out = outOf(b, c);
  if (out.namespace) return;
  if (await b.sh.exists(c.name, c.context, ['namespace', ISTIO_SYSTEM], `namespace ${ISTIO_SYSTEM}`)) {
    out.namespace = 'existed';
    return;
  }
  await b.sh.must(c.name, kubectl(c.context, ['create', 'namespace', ISTIO_SYSTEM], 'act-if-missing'), 'kubectl create namespace');
  out.namespace = 'created';
}

async function labelNetwork(b: Build, c: MeshCluster): Promise<void> {
  await b.sh.must(
    c.name,
    kubectl(c.context, ['label', 'namespace', ISTIO_SYSTEM, `${NETWORK_LABEL}=${c.network}`, '--overwrite'], 'act'),
    'kubectl label namespace',
  );
  outOf(b, c).networkLabel = c.network;
}

// configure_trust: every primary's istio-system and cacerts before any istiod starts.
async function establishTrust(b: Build, primaries: MeshCluster[]): Promise<void> {
  if (!wantsCacerts(b.config, primaries)) return;
  const missing: MeshCluster[] = [];
  for (const p of primaries) {
    await ensureNamespace(b, p);
    if (await b.sh.exists(p.name, p.context, ['secret', 'cacerts', '-n', ISTIO_SYSTEM], 'secret cacerts')) outOf(b, p).cacerts = 'kept';
    else missing.push(p);
  }
  const bundles = await bundlesFor(b.config, primaries, missing);
  for (const p of missing) {
    const bundle = bundles.get(p.name);
    if (!bundle) throw new StepError(`no CA for ${p.name} (internal error)`);
    // create, not apply: apply would keep a copy of the keys in its last-applied annotation.
    const create = { ...kubectl(p.context, ['create', '-f', '-'], 'act-if-missing', cacertsYaml(bundle)), sensitiveStdin: true };
    const trust = b.config.trust;
    const origin = trust?.source === 'files' ? `read from ${trust.caDir}/${p.name}` : 'its CA made in memory';
    await b.sh.must(p.name, create, 'kubectl create secret cacerts', { note: `Secret cacerts of ${p.name}, ${origin}` });
    outOf(b, p).cacerts = 'created';
  }
}

// gen-eastwest-gateway.sh --network <n> | istioctl install -y -f -, then the wait for its IP.
async function installGateway(b: Build, c: MeshCluster): Promise<void> {
  const revision = b.config.revision;
  await b.sh.must(
    c.name,
    istioctl(c.context, ['install', '-y', '-f', '-'], 'act', eastwestYaml(c.network, revision)),
    'istioctl install of the east-west gateway',
    { from: `samples/multicluster/gen-eastwest-gateway.sh --network ${c.network}${revision ? ` --revision ${revision}` : ''}` },
  );
  outOf(b, c).eastWestGateway = { address: await b.sh.gatewayAddress(c.name, c.context) };
}

async function expose(b: Build, c: MeshCluster, what: 'istiod' | 'services'): Promise<void> {
  const revision = b.config.revision;
  const [manifest, stdin]: [string, StdinSource] =
    what === 'istiod'
      ? [
          exposeIstiodYaml(revision),
          revision
            ? { from: `sed 's/{{.Revision}}/${revision}/g' samples/multicluster/expose-istiod-rev.yaml.tmpl` }
            : { file: 'samples/multicluster/expose-istiod.yaml' },
        ]
      : [exposeServicesYaml(), { file: 'samples/multicluster/expose-services.yaml' }];
  await b.sh.must(c.name, kubectl(c.context, ['apply', '-n', ISTIO_SYSTEM, '-f', '-'], 'act', manifest), `kubectl apply of expose-${what}`, stdin);
  outOf(b, c).exposed.push(what);
}

async function buildPrimary(b: Build, p: MeshCluster): Promise<void> {
  const revision = b.config.revision;
  await ensureNamespace(b, p);
  if (labelsNetwork(b.shape, p.name)) await labelNetwork(b, p);
  // istiod runs in external mode where it serves remotes (the primary-remote pages' externalIstiod).
  const external = exposesIstiod(b.shape, p.name);
  const manifest = primaryYaml(p.name, b.config.meshID, p.network, { ...(revision ? { revision } : {}), external });
  await b.sh.must(p.name, istioctl(p.context, ['install', '-y', '-f', '-'], 'act', manifest), 'istioctl install', { file: `${p.name}.yaml` });
  outOf(b, p).install = { profile: 'default', ...(revision ? { revision } : {}), ...(external ? { externalIstiod: true } : {}) };
  if (needsGateway(b.shape, p.name)) await installGateway(b, p);
  if (external) await expose(b, p, 'istiod');
  if (exposesServices(b.shape, p.name)) await expose(b, p, 'services');
}

// istioctl create-remote-secret --context=<source> --name=<source> | kubectl apply -f - --context=<holder>.
async function attach(b: Build, source: MeshCluster, holder: MeshCluster): Promise<void> {
  const producer = istioctl(
    source.context,
    ['create-remote-secret', `--name=${source.name}`, ...(source.apiServer ? [`--server=${source.apiServer}`] : [])],
    'act',
  );
  const { stderr } = await b.sh.pipe(holder.name, producer, kubectl(holder.context, ['apply', '-f', '-'], 'act'), `the remote secret of ${source.name}`);
  const warning = stderr.split('\n').find((l) => l.startsWith('warn:'));
  if (warning) b.warnings.push(`${source.name} (secret on ${holder.name}): ${warning}`);
  outOf(b, holder).secretsHeld.push(source.name);
}

async function buildRemote(b: Build, r: MeshCluster): Promise<void> {
  const primary = controlPlaneOf(b.shape, r.name);
  if (primary?.role !== 'primary') throw new StepError(`remote ${r.name}: its control plane ${r.controlPlane ?? '(none)'} is not a primary of the config`);
  const revision = b.config.revision;
  await ensureNamespace(b, r);
  await b.sh.must(
    r.name,
    kubectl(r.context, ['annotate', 'namespace', ISTIO_SYSTEM, `${CONTROL_PLANE_ANNOTATION}=${primary.name}`, '--overwrite'], 'act'),
    'kubectl annotate namespace',
  );
  outOf(b, r).controlPlaneClusters = primary.name;
  if (labelsNetwork(b.shape, r.name)) await labelNetwork(b, r);
  // export DISCOVERY_ADDRESS=$(kubectl ... get svc istio-eastwestgateway -o jsonpath='{...ip}')
  const read = await b.sh.must(
    primary.name,
    kubectl(primary.context, ['-n', ISTIO_SYSTEM, 'get', 'svc', 'istio-eastwestgateway', '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}'], 'observe'),
    "reading the east-west gateway's address",
  );
  const address = read.stdout.trim();
  if (!address) throw new StepError(`DISCOVERY_ADDRESS is empty: the east-west gateway of ${primary.name} has no IP`, { retryable: true });
  const manifest = remoteYaml(r.name, r.network, address, revision);
  await b.sh.must(r.name, istioctl(r.context, ['install', '-y', '-f', '-'], 'act', manifest), 'istioctl install of the remote profile', {
    file: `${r.name}.yaml`,
  });
  outOf(b, r).install = {
    profile: 'remote',
    ...(revision ? { revision } : {}),
    remotePilotAddress: address,
    injectionPath: injectionPath(r.name, r.network),
  };
  // Attached before its own gateway: the gateway's pods are injected through the webhook its primary patches.
  await attach(b, r, primary);
  if (needsGateway(b.shape, r.name)) await installGateway(b, r);
}

// Builds the mesh `config` describes on the clusters `tools` reaches, the way the Istio pages do it by hand.
export async function buildMeshByHand(config: MeshConfig, tools: ClusterTools, options: { signal?: AbortSignal } = {}): Promise<HandBuiltReport> {
  const shape: MeshShape = { members: config.clusters, ...(config.trust ? { trust: true } : {}) };
  const b: Build = {
    config,
    shape,
    sh: new Shell(tools, config, options.signal ?? new AbortController().signal),
    out: new Map(config.clusters.map((c) => [c.name, { name: c.name, context: c.context, role: c.role, network: c.network, exposed: [], secretsHeld: [] }])),
    warnings: [],
  };
  const primaries = primariesOf(shape);
  await establishTrust(b, primaries);
  for (const p of primaries) await buildPrimary(b, p);
  for (const r of remotesOf(shape)) await buildRemote(b, r);
  // The secrets attaching did not place: every primary reads every other cluster (multi-primary both ways;
  // in a mixed fleet a remote's secret on the primaries that do not serve it too).
  for (const c of config.clusters) {
    for (const holder of secretHoldersOf(shape, c.name)) if (!outOf(b, holder).secretsHeld.includes(c.name)) await attach(b, c, holder);
  }
  return {
    meshID: config.meshID,
    ...(config.revision ? { revision: config.revision } : {}),
    topology: topologyName(shape),
    commands: [...b.sh.history],
    clusters: config.clusters.map((c) => outOf(b, c)),
    warnings: b.warnings,
  };
}
