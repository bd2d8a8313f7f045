// The steps of the Istio page, each idempotent: observe, act only if needed, verify.
// They speak to clusters only through StepRuntime, so the same code drives real and simulated clusters.
import type { CommandPurpose } from '../../adapters/cluster-tools.js';
import { secretHoldersOf } from '../../machines/topology.js';
import type {
  AnnotationObservation,
  ClusterRef,
  DiscoveryAddress,
  ExchangeStepInput,
  GatewayObservation,
  MemberStepInput,
  PreflightInput,
  PreflightOutput,
  PrimaryStepInput,
  ReceiveStepInput,
  RemoteStepInput,
  StepDone,
} from '../../machines/types.js';
import { isLoopbackServer } from '../../shared/api-server.js';
import { StepError } from '../../shared/errors.js';
import { clusterField, type MeshConfig } from '../../shared/model.js';
import { commandFailed, errorSummary, isTransient } from './failures.js';
import type { Inventory } from './inventory.js';
import { MANAGED_BY, MESH_RUN, SUBJECTS, touchedMetadata } from './inventory.js';
import {
  annotationKeys,
  commandTimeoutSeconds,
  createNamespaceIfMissing,
  exists,
  getJson,
  ISTIO_SYSTEM,
  isMeshRuns,
  isNotFound,
  labelValue,
  mustSucceed,
  type NamespaceJson,
} from './kube-ops.js';
import {
  eastwestGatewayOperator,
  exposeIstiod,
  exposeServices,
  injectorWebhookName,
  istiodVirtualServiceName,
  primaryOperator,
  remoteOperator,
} from './manifests.js';
import { istiodConfigMaps, istioOwners, MESH_RUN_OWNER } from './mesh-inventory.js';
import { istioctl, kubectl, type StepRuntime } from './step-runtime.js';

export { ISTIO_SYSTEM };
export const CONTROL_PLANE_ANNOTATION = 'topology.istio.io/controlPlaneClusters';
export const NETWORK_LABEL = 'topology.istio.io/network';
export const GATEWAY_SERVICE = 'istio-eastwestgateway';
export const CACERTS = 'cacerts';
// The service-account token secret istioctl create-remote-secret creates in a remote.
export const READER_TOKEN = 'istio-reader-service-account-istio-remote-secret-token';
// istioctl 1.15 introduced the istiodless remote and the controlPlaneClusters annotation this flow needs.
export const MIN_ISTIO_MINOR = 15;

export interface ActivityDeps {
  config: MeshConfig;
  // What existed before mesh-run acted, from the runs this one follows (uninstall).
  inventory?: Inventory;
  // uninstall --force: remove what existed before mesh-run too (each removal is reported).
  force?: boolean;
  // A rehearsal on a simulated world whose API server addresses are invented, not the kubeconfig's.
  rehearsal?: boolean;
}

function rethrowUnlessStepError(error: unknown): void {
  if (!(error instanceof StepError)) throw error;
}

export function parseIstioVersion(stdout: string): string | undefined {
  try {
    const parsed = JSON.parse(stdout) as { clientVersion?: { version?: string } };
    if (parsed.clientVersion?.version) return parsed.clientVersion.version;
  } catch {
    // older istioctl print text; fall through to the regex
  }
  return /(\d+\.\d+\.\d+[\w.-]*)/.exec(stdout)?.[1];
}

// preflight: both tools answer, every context exists and its API server responds, no remote would be
// dialled at a loopback address. Every check runs; every problem found is reported, one line each.
export async function preflight(rt: StepRuntime, input: PreflightInput, deps: ActivityDeps): Promise<PreflightOutput> {
  const problems: string[] = [];
  const attempt = async (check: () => Promise<void>) => {
    try {
      await check();
    } catch (error) {
      if (error instanceof StepError) problems.push(error.message);
      else throw error;
    }
  };
  let known: Set<string> | undefined;
  await attempt(async () => {
    const contexts = await rt.run({ tool: 'kubectl', args: ['config', 'get-contexts', '-o', 'name'], context: '', purpose: 'check' });
    if (contexts.exitCode !== 0)
      throw new StepError(`kubectl config get-contexts failed (exit ${contexts.exitCode}): ${errorSummary({ stderr: contexts.stderr })}`);
    known = new Set(
      contexts.stdout
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean),
    );
  });
  const names = known ? [...known] : [];
  for (const cluster of known ? input.clusters.filter((c) => !known?.has(c.context)) : []) {
    const field = clusterField(deps.config, cluster.name, 'context');
    problems.push(
      `kube context "${cluster.context}" (cluster ${cluster.name}) not found in the kubeconfig (it has: ${names.slice(0, 10).join(', ') || 'none'}); set ${field} in the config, or pass --context ${cluster.name}=<context>${deps.config.form === 'clusters' ? '' : ' (or CTX_CLUSTER1/CTX_CLUSTER2)'}`,
    );
  }
  let istioVersion: string | undefined;
  await attempt(async () => {
    const version = await rt.run({ tool: 'istioctl', args: ['version', '--remote=false', '-o', 'json'], context: '', purpose: 'check' });
    if (version.exitCode !== 0)
      throw new StepError(
        `istioctl version failed (exit ${version.exitCode}): ${errorSummary({ stderr: version.stderr })}; install istioctl, or set tools.istioctl in the config`,
      );
    istioVersion = parseIstioVersion(version.stdout);
    if (!istioVersion) throw new StepError(`could not read the istioctl version from: ${version.stdout.slice(0, 80).replace(/\s+/g, ' ')}`);
    const minor = /^(\d+)\.(\d+)/.exec(istioVersion);
    if (minor && Number(minor[1]) === 1 && Number(minor[2]) < MIN_ISTIO_MINOR) {
      throw new StepError(
        `istioctl ${istioVersion} is too old: this flow needs istioctl 1.${MIN_ISTIO_MINOR} or newer (istiodless remotes and the ${CONTROL_PLANE_ANNOTATION} annotation); install a newer one, or point tools.istioctl at it`,
      );
    }
  });
  const present = known ? input.clusters.filter((c) => known?.has(c.context)) : [];
  await Promise.all(
    present.map((cluster) =>
      attempt(async () => {
        const result = await rt.run(kubectl(cluster.context, ['version', '-o', 'json', '--request-timeout=20s'], 'check'));
        // stderr only: stdout holds the client's version JSON even when the server does not answer.
        if (result.exitCode !== 0)
          throw new StepError(
            `the API server of context "${cluster.context}" (cluster ${cluster.name}) does not answer: ${errorSummary({ stderr: result.stderr })}`,
          );
      }),
    ),
  );
  // A remote secret carries the API server address the primaries' istiod will dial. A loopback address
  // (kind, kwok, minikube) reaches the primary itself, not that cluster: refuse one the kubeconfig gives unless
  // the config names the address. A loopback address the config names is reachable only by an istiod in this
  // machine's network, so it is refused too when a primary holding the secret has its API server elsewhere.
  const shape = { members: deps.config.clusters };
  const dialled = deps.config.clusters.filter((c) => secretHoldersOf(shape, c.name).length > 0 && known?.has(c.context));
  const servers = new Map<string, Promise<string>>();
  const serverOf = (context: string) => {
    let found = servers.get(context);
    if (!found) {
      found = mustSucceed(
        rt,
        {
          tool: 'kubectl',
          args: ['config', 'view', '--minify', `--context=${context}`, '-o', 'jsonpath={.clusters[0].cluster.server}'],
          context,
          purpose: 'check',
        },
        `reading the API server of context "${context}"`,
      ).then((view) => view.stdout.trim());
      servers.set(context, found);
    }
    return found;
  };
  // Whether the real primaries can reach a remote's API server depends on the real kubeconfig's addresses; a
  // rehearsal's world invents its own (10.x): it reads what the run reads (a plan lists the same commands),
  // and leaves the judgement to the run.
  const judge = deps.rehearsal ? (check: () => Promise<void>) => check().catch((error) => rethrowUnlessStepError(error)) : attempt;
  for (const cluster of input.checkRemoteServers ? dialled : []) {
    if (cluster.apiServer && !isLoopbackServer(cluster.apiServer)) continue;
    await judge(async () => {
      const server = cluster.apiServer ?? (await serverOf(cluster.context));
      if (!isLoopbackServer(server)) return;
      const holders = secretHoldersOf(shape, cluster.name);
      // A cluster add names the joining cluster's address with a flag, not in a file.
      const field = deps.config.subject === cluster.name ? '--api-server' : clusterField(deps.config, cluster.name, 'apiServer');
      if (!cluster.apiServer) {
        throw new StepError(
          `the kubeconfig gives ${cluster.name}'s API server as ${server}, which istiod in ${holders.map((h) => h.name).join(', ')} cannot reach (it is that pod's own loopback); set ${field} to an address the primary's pods can reach (for kind: https://<control-plane container IP>:6443), passed to create-remote-secret as --server`,
        );
      }
      for (const holder of holders.filter((h) => known?.has(h.context))) {
        const at = await serverOf(holder.context);
        if (isLoopbackServer(at)) continue;
        throw new StepError(
          `${field} gives ${cluster.name}'s API server as ${server}, a loopback address, but ${holder.name}'s API server (${at}) is not on this machine, so istiod there would dial its own pod; set ${field} to an address ${holder.name}'s pods can reach`,
        );
      }
    });
  }
  if (problems.length > 0 || istioVersion === undefined) {
    // Worth a retry only when every problem is one that passes (an API server timing out).
    const retryable = problems.length > 0 && problems.every((p) => isTransient(p));
    throw new StepError(problems.join('\n'), {
      retryable,
      ...(problems.length > 1 ? { hint: `${problems.length} problems, one per line: fix them, then run again` } : {}),
    });
  }
  if (input.recordInventory) {
    await Promise.all(
      input.clusters
        .filter((cluster) => input.inventoryOf?.includes(cluster.name) ?? true)
        .map((cluster) => {
          const member = deps.config.clusters.find((c) => c.name === cluster.name);
          return takeInventory(rt, cluster, { primary: member?.role === 'primary', givesSecret: secretHoldersOf(shape, cluster.name).length > 0 });
        }),
    );
  }
  return { istioVersion, finishedAt: rt.now() };
}

// Journals what a cluster holds before the install changes anything: istio-system (whose, and the values of
// the labels and annotations steps set), a primary's cacerts, the reader token secret of a cluster whose
// remote secret will be made. Secrets are looked at by name and label only.
async function takeInventory(rt: StepRuntime, cluster: ClusterRef, role: { primary: boolean; givesSecret: boolean }): Promise<void> {
  const ns = await getJson<NamespaceJson>(rt, cluster.context, ['namespace', ISTIO_SYSTEM], `namespace ${ISTIO_SYSTEM}`, 'observe');
  await rt.observe({
    cluster: cluster.name,
    subject: SUBJECTS.istioSystem,
    present: ns !== undefined,
    owner: isMeshRuns(ns) ? MESH_RUN : null,
    detail: ns ? touchedMetadata(ns.metadata) : null,
  });
  // istiod's ConfigMaps in an istio-system that is there: those an istiod mesh-run installed wrote (a re-run of
  // an install finds them) are mesh-run's to remove, any others were there before it.
  const configMaps = ns ? await istiodConfigMaps(rt, cluster.context, 'observe') : [];
  const owners = configMaps.length > 0 ? await istioOwners(rt, cluster.context) : [];
  await rt.observe({
    cluster: cluster.name,
    subject: SUBJECTS.istiodConfigMaps,
    present: configMaps.length > 0,
    owner: owners.length > 0 && owners.every((o) => MESH_RUN_OWNER.test(o)) ? MESH_RUN : null,
    detail: configMaps.length > 0 ? Object.fromEntries(configMaps.map((name) => [name, 'present'])) : null,
  });
  if (role.primary) {
    const ca = await labelValue(rt, cluster.context, ['secret', CACERTS, '-n', ISTIO_SYSTEM], MANAGED_BY, `secret ${CACERTS}`, 'observe');
    await rt.observe({ cluster: cluster.name, subject: SUBJECTS.cacerts, present: ca.exists, owner: ca.value === MESH_RUN ? MESH_RUN : null, detail: null });
  }
  if (role.givesSecret) {
    const present = await exists(rt, cluster.context, ['secret', READER_TOKEN, '-n', ISTIO_SYSTEM], `secret ${READER_TOKEN}`);
    await rt.observe({ cluster: cluster.name, subject: SUBJECTS.readerToken, present, owner: null, detail: null });
  }
}

async function waitForDeployment(rt: StepRuntime, context: string, name: string, deps: ActivityDeps): Promise<void> {
  await mustSucceed(
    rt,
    kubectl(context, ['-n', ISTIO_SYSTEM, 'rollout', 'status', `deployment/${name}`, `--timeout=${commandTimeoutSeconds(deps.config)}s`], 'verify'),
    `rollout of deployment ${name}`,
  );
}

// install-primary: istioctl install is a convergent apply; the named IstioOperator keeps re-runs from pruning the gateway.
// `ingress: false`: the control plane alone (an upgrade's new revision; its gateways move later).
export async function installPrimary(rt: StepRuntime, input: PrimaryStepInput, deps: ActivityDeps, ingress = true): Promise<StepDone> {
  const manifest = primaryOperator(input.cluster, { meshID: input.meshID, network: input.network, ...opt(input) }, input.external, ingress);
  // istioctl would create istio-system unlabelled; created here, it says it is mesh-run's (uninstall may remove it).
  await createNamespaceIfMissing(rt, input.context, ISTIO_SYSTEM, input.cluster);
  await mustSucceed(rt, istioctl(input.context, ['install', '-y', '-f', '-'], 'act', manifest), `istioctl install on ${input.cluster}`);
  await waitForDeployment(rt, input.context, input.revision ? `istiod-${input.revision}` : 'istiod', deps);
  return { finishedAt: rt.now() };
}

// install-eastwest-gateway: the gateway IstioOperator (gen-eastwest-gateway.sh's output), then its rollout.
export async function installEastwestGateway(rt: StepRuntime, input: MemberStepInput, deps: ActivityDeps): Promise<StepDone> {
  const manifest = eastwestGatewayOperator({ meshID: input.meshID, network: input.network, ...opt(input) });
  await mustSucceed(
    rt,
    istioctl(input.context, ['install', '-y', '-f', '-'], 'act', manifest),
    `istioctl install of the east-west gateway on ${input.cluster}`,
  );
  await waitForDeployment(rt, input.context, GATEWAY_SERVICE, deps);
  return { finishedAt: rt.now() };
}

interface ServiceJson {
  spec?: { type?: string };
  status?: { loadBalancer?: { ingress?: Array<{ ip?: string; hostname?: string }> } };
}

// The shell variable a plan script keeps a cluster's gateway address in: GATEWAY_ADDRESS_CLUSTER1.
export const addressVariable = (cluster: string) => `GATEWAY_ADDRESS_${cluster.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;

// One look at the gateway service's load-balancer status; the machine decides what it means.
export async function probeGatewayAddress(rt: StepRuntime, input: MemberStepInput, deps: ActivityDeps): Promise<GatewayObservation> {
  const probe = {
    ...kubectl(input.context, ['get', '-n', ISTIO_SYSTEM, 'service', GATEWAY_SERVICE, '-o', 'json'], 'wait'),
    waitFor: {
      jsonpath: '{.status.loadBalancer.ingress[0].ip}',
      variable: addressVariable(input.cluster),
      timeoutSeconds: Math.round(deps.config.timeouts.gatewayAddressMs / 1000),
    },
  };
  const result = await rt.run(probe);
  if (result.exitCode !== 0 && !isNotFound(result)) throw commandFailed(`kubectl get service ${GATEWAY_SERVICE}`, result);
  const svc = result.exitCode === 0 ? (JSON.parse(result.stdout) as ServiceJson) : undefined;
  if (!svc) {
    throw new StepError(`service ${GATEWAY_SERVICE} is missing from ${ISTIO_SYSTEM} on ${input.cluster}`, {
      hint: 'another istioctl install may have pruned it; run "mesh-run install" again to reinstall the gateway',
    });
  }
  if (svc.spec?.type !== 'LoadBalancer') {
    throw new StepError(
      `service ${GATEWAY_SERVICE} on ${input.cluster} is of type ${svc.spec?.type ?? 'unknown'}, not LoadBalancer; the other clusters reach this one through a load-balancer IP`,
    );
  }
  const ingress = svc.status?.loadBalancer?.ingress?.[0];
  const observation: GatewayObservation = { observedAt: rt.now() };
  if (ingress?.ip) observation.ip = ingress.ip;
  if (ingress?.hostname) observation.hostname = ingress.hostname;
  if (!observation.ip && !observation.hostname) rt.note('no load-balancer address yet');
  return observation;
}

// expose-istiod: Gateway istiod-gateway and VirtualService istiod-vs through kubectl apply (convergent).
export function exposeIstiodStep(rt: StepRuntime, input: PrimaryStepInput): Promise<StepDone> {
  const manifest = exposeIstiod({ meshID: input.meshID, network: input.network, ...opt(input) });
  const objects = ['gateway.networking.istio.io/istiod-gateway', `virtualservice.networking.istio.io/${istiodVirtualServiceName(input.revision)}`];
  return applyAndConfirm(rt, input, { what: 'expose-istiod', manifest, objects });
}

// expose-services: the cross-network Gateway (port 15443, AUTO_PASSTHROUGH, *.local) through kubectl apply.
export function exposeServicesStep(rt: StepRuntime, input: PrimaryStepInput): Promise<StepDone> {
  const manifest = exposeServices({ meshID: input.meshID, network: input.network, ...opt(input) });
  return applyAndConfirm(rt, input, { what: 'expose-services', manifest, objects: ['gateway.networking.istio.io/cross-network-gateway'] });
}

// Applies a manifest into istio-system (apply converges), then reads its objects back by name.
async function applyAndConfirm(rt: StepRuntime, input: PrimaryStepInput, step: { what: string; manifest: string; objects: string[] }): Promise<StepDone> {
  await mustSucceed(
    rt,
    kubectl(input.context, ['apply', '-n', ISTIO_SYSTEM, '-f', '-'], 'act', step.manifest),
    `kubectl apply of ${step.what} on ${input.cluster}`,
  );
  await mustSucceed(
    rt,
    kubectl(input.context, ['-n', ISTIO_SYSTEM, 'get', ...step.objects, '-o', 'name'], 'verify'),
    `verifying ${step.objects.map((o) => o.split('/')[1]).join(' and ')}`,
  );
  return { finishedAt: rt.now() };
}

// label-network: istio-system (created if missing, as mesh-run's) labelled with the cluster's network, before
// Istio is installed there; a different value it replaces is journaled first.
export async function labelNetwork(rt: StepRuntime, input: MemberStepInput): Promise<StepDone> {
  await createNamespaceIfMissing(rt, input.context, ISTIO_SYSTEM, input.cluster);
  const read = async (purpose: CommandPurpose) =>
    (await getJson<NamespaceJson>(rt, input.context, ['namespace', ISTIO_SYSTEM], `namespace ${ISTIO_SYSTEM}`, purpose))?.metadata?.labels?.[NETWORK_LABEL];
  const before = await read('observe');
  if (before !== undefined && before !== input.network) {
    await rt.report('overwrote', `label ${NETWORK_LABEL} on namespace ${ISTIO_SYSTEM} of ${input.cluster}: "${before}" -> "${input.network}"`);
  }
  if (before !== input.network) {
    await mustSucceed(
      rt,
      kubectl(input.context, ['label', 'namespace', ISTIO_SYSTEM, `${NETWORK_LABEL}=${input.network}`, '--overwrite'], 'act'),
      `kubectl label namespace ${ISTIO_SYSTEM} on ${input.cluster}`,
    );
  }
  const after = await read('verify');
  if (after !== input.network) {
    throw new StepError(`${NETWORK_LABEL} on ${input.cluster}'s ${ISTIO_SYSTEM} reads "${after ?? ''}" after labelling, expected "${input.network}"`, {
      retryable: true,
    });
  }
  return { finishedAt: rt.now() };
}

// create-remote-namespace: create istio-system only if it is missing; AlreadyExists is success.
export async function createRemoteNamespace(rt: StepRuntime, input: RemoteStepInput): Promise<StepDone> {
  await createNamespaceIfMissing(rt, input.context, ISTIO_SYSTEM, input.cluster);
  const verified = await getJson<NamespaceJson>(rt, input.context, ['namespace', ISTIO_SYSTEM], `namespace ${ISTIO_SYSTEM}`, 'verify');
  if (!verified) throw new StepError(`namespace ${ISTIO_SYSTEM} is still missing on ${input.cluster} after creating it`, { retryable: true });
  if (verified.status?.phase === 'Terminating') {
    throw new StepError(`namespace ${ISTIO_SYSTEM} on ${input.cluster} is being deleted`, {
      retryable: true,
      hint: 'wait for the deletion to finish, then resume',
    });
  }
  return { finishedAt: rt.now() };
}

// annotate-remote-namespace: set controlPlaneClusters=<primary> unless already so; return what was observed after.
export async function annotateRemoteNamespace(rt: StepRuntime, input: RemoteStepInput): Promise<AnnotationObservation> {
  const read = async (purpose: CommandPurpose) =>
    (await getJson<NamespaceJson>(rt, input.context, ['namespace', ISTIO_SYSTEM], `namespace ${ISTIO_SYSTEM}`, purpose))?.metadata?.annotations?.[
      CONTROL_PLANE_ANNOTATION
    ];
  const before = await read('observe');
  if (before !== undefined && before !== input.primary.name) {
    // Journaled before acting, so the replaced value is on record even if the run dies right after.
    await rt.report(
      'overwrote',
      `annotation ${CONTROL_PLANE_ANNOTATION} on namespace ${ISTIO_SYSTEM} of ${input.cluster}: "${before}" -> "${input.primary.name}"`,
    );
  }
  if (before !== input.primary.name) {
    await mustSucceed(
      rt,
      kubectl(input.context, ['annotate', 'namespace', ISTIO_SYSTEM, `${CONTROL_PLANE_ANNOTATION}=${input.primary.name}`, '--overwrite'], 'act'),
      `kubectl annotate on ${input.cluster}`,
    );
  }
  const after = await read('verify');
  if (after !== input.primary.name) {
    throw new StepError(
      `${CONTROL_PLANE_ANNOTATION} on ${input.cluster}'s ${ISTIO_SYSTEM} reads "${after ?? ''}" after annotating, expected "${input.primary.name}"`,
      { retryable: true },
    );
  }
  return { controlPlaneClusters: after ?? null, finishedAt: rt.now() };
}

// install-remote: the remote profile pointed at the gateway address; verified through the injector webhook.
export async function installRemote(rt: StepRuntime, input: RemoteStepInput): Promise<StepDone> {
  if (!input.discoveryAddress) throw new StepError('install-remote started without the gateway address (internal error)');
  const manifest = remoteOperator(input.cluster, input.discoveryAddress, { meshID: '', network: input.network, ...opt(input) });
  await mustSucceed(rt, istioctl(input.context, ['install', '-y', '-f', '-'], 'act', manifest), `istioctl install of the remote profile on ${input.cluster}`);
  await mustSucceed(
    rt,
    kubectl(input.context, ['get', 'mutatingwebhookconfiguration', injectorWebhookName(input.revision), '-o', 'name'], 'verify'),
    `verifying the injector webhook on ${input.cluster}`,
  );
  return { finishedAt: rt.now() };
}

// The annotation kubectl's client-side apply writes: a full copy of the object, a Secret's token included.
export const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

// attach-remote: the remote's secret on the primary that serves it.
export async function attachRemote(rt: StepRuntime, input: RemoteStepInput, deps: ActivityDeps): Promise<StepDone> {
  await applyRemoteSecret(rt, { name: input.cluster, context: input.context }, input.primary, deps);
  return { finishedAt: rt.now() };
}

// exchange-secret: this cluster's secret on every other primary (each control plane sees the whole mesh).
export async function exchangeSecret(rt: StepRuntime, input: ExchangeStepInput, deps: ActivityDeps): Promise<StepDone> {
  for (const holder of input.holders) await applyRemoteSecret(rt, { name: input.cluster, context: input.context }, holder, deps);
  return { finishedAt: rt.now() };
}

// receive-secrets: a primary joining an installed mesh holds every other cluster's secret, as the others do.
export async function receiveSecrets(rt: StepRuntime, input: ReceiveStepInput, deps: ActivityDeps): Promise<StepDone> {
  for (const source of input.sources) await applyRemoteSecret(rt, source, { name: input.cluster, context: input.context }, deps);
  return { finishedAt: rt.now() };
}

// read-discovery-address: the address of a primary's east-west gateway, which a joining remote points at.
// The gateway was there when the primary was installed: no address now is a failure, not a wait.
export async function readDiscoveryAddress(rt: StepRuntime, input: MemberStepInput, deps: ActivityDeps): Promise<DiscoveryAddress> {
  const seen = await probeGatewayAddress(rt, input, deps);
  if (seen.ip) return { address: seen.ip, finishedAt: rt.now() };
  throw new StepError(
    `the east-west gateway of ${input.cluster} has ${seen.hostname ? `only a hostname (${seen.hostname})` : 'no load-balancer address'}; a joining remote reaches istiod through its IP`,
    { retryable: true, hint: `check service ${GATEWAY_SERVICE} in ${ISTIO_SYSTEM} on ${input.cluster}, then resume` },
  );
}

// create-remote-secret of `source` streamed into a server-side apply on `holder`; the token is never
// captured, and the holder keeps one copy of it (no last-applied annotation).
// `tokenSecret`: the service-account token secret whose token the remote secret carries (secrets rotate);
// absent, istioctl picks the reader account's first one, or makes one.
export async function applyRemoteSecret(rt: StepRuntime, source: ClusterRef, holder: ClusterRef, deps: ActivityDeps, tokenSecret?: string): Promise<void> {
  const apiServer = deps.config.clusters.find((c) => c.name === source.name)?.apiServer;
  const secret = remoteSecretName(source.name);
  const producer = istioctl(
    source.context,
    [
      'create-remote-secret',
      `--name=${source.name}`,
      '-n',
      ISTIO_SYSTEM,
      ...(apiServer ? [`--server=${apiServer}`] : []),
      ...(tokenSecret ? [`--secret-name=${tokenSecret}`] : []),
    ],
    'act',
  );
  // Server-side apply: no last-applied copy of the token; mesh-run owns the secret, so it takes over
  // fields another manager (an earlier client-side apply) set, instead of stopping at the conflict.
  const sink = kubectl(holder.context, ['apply', '--server-side', '--field-manager=mesh-run', '--force-conflicts', '-f', '-'], 'act');
  const { source: produced, sink: applied } = await rt.pipe(producer, sink);
  if (produced.exitCode !== 0)
    throw commandFailed(`istioctl create-remote-secret for ${source.name}`, { exitCode: produced.exitCode, stderr: produced.stderr });
  if (applied.exitCode !== 0) throw commandFailed(`kubectl apply of the remote secret of ${source.name} on ${holder.name}`, applied);
  const warning = /warn: server in Kubeconfig is (\S+?)\.? This/.exec(produced.stderr);
  if (warning && !apiServer) {
    throw new StepError(`the remote secret for ${source.name} points at ${warning[1]}, which pods in ${holder.name} cannot reach`, {
      hint: `set ${clusterField(deps.config, source.name, 'apiServer')} to an address ${holder.name} can reach (it is passed as --server), then resume with --force`,
    });
  }
  // The secret as istiod selects it (by its label), read by name: a fleet's other secrets are not listed.
  const where = ['-n', ISTIO_SYSTEM, 'secret', secret];
  const label = await labelValue(rt, holder.context, where, 'istio/multiCluster', `secret ${secret}`, 'verify');
  if (label.value !== 'true') {
    throw new StepError(`secret ${secret} with label istio/multiCluster=true is not in ${ISTIO_SYSTEM} of ${holder.name} after applying it`, {
      retryable: true,
    });
  }
  // A secret applied client-side before (an older mesh-run, or by hand) still carries the copy: drop it.
  if ((await annotationKeys(rt, holder.context, where, `secret ${secret}`, 'verify'))?.includes(LAST_APPLIED)) {
    await mustSucceed(
      rt,
      kubectl(holder.context, ['-n', ISTIO_SYSTEM, 'annotate', 'secret', secret, `${LAST_APPLIED}-`], 'act'),
      `removing the last-applied copy of secret ${secret} on ${holder.name}`,
    );
    rt.note(`secret ${secret} on ${holder.name} carried a last-applied copy of the token (an earlier client-side apply); removed`, 'info');
    if ((await annotationKeys(rt, holder.context, where, `secret ${secret}`, 'verify'))?.includes(LAST_APPLIED)) {
      throw new StepError(`secret ${secret} on ${holder.name} still carries a last-applied copy of the token after removing it`, { retryable: true });
    }
  }
}

// The secret create-remote-secret writes for a cluster, in istio-system of each primary that holds it.
export function remoteSecretName(remote: string): string {
  return `istio-remote-secret-${remote}`;
}

function opt(input: { revision?: string; istioVersion?: string }): { revision?: string; istioVersion?: string } {
  return { ...(input.revision ? { revision: input.revision } : {}), ...(input.istioVersion ? { istioVersion: input.istioVersion } : {}) };
}
