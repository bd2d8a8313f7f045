// The steps of the Istio page, each idempotent: observe, act only if needed, verify.
// They speak to clusters only through StepRuntime, so the same code drives real and simulated clusters.
import type { CommandPurpose } from '../../adapters/cluster-tools.js';
import type {
  AnnotationObservation,
  ClusterRef,
  GatewayObservation,
  PreflightInput,
  PreflightOutput,
  PrimaryStepInput,
  RemoteStepInput,
  StepDone,
} from '../../machines/types.js';
import { StepError } from '../../shared/errors.js';
import type { MeshConfig } from '../../shared/model.js';
import { commandFailed, errorSummary, isTransient } from './failures.js';
import type { Inventory } from './inventory.js';
import { MANAGED_BY, MESH_RUN, SUBJECTS, touchedMetadata } from './inventory.js';
import {
  annotationKeys,
  commandTimeoutSeconds,
  createNamespaceIfMissing,
  exists,
  getJson,
  isMeshRuns,
  isNotFound,
  labelValue,
  mustSucceed,
  type NamespaceJson,
} from './kube-ops.js';
import { eastwestGatewayOperator, exposeIstiod, injectorWebhookName, istiodVirtualServiceName, primaryOperator, remoteOperator } from './manifests.js';
import { istioctl, kubectl, type StepRuntime } from './step-runtime.js';

export const ISTIO_SYSTEM = 'istio-system';
export const CONTROL_PLANE_ANNOTATION = 'topology.istio.io/controlPlaneClusters';
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
}

const LOOPBACK_SERVER = /^https?:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?(\/|$)/i;

function parseIstioVersion(stdout: string): string | undefined {
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
    const field =
      cluster.name === deps.config.primary.name ? 'primary.context' : `remotes[${deps.config.remotes.findIndex((r) => r.name === cluster.name)}].context`;
    problems.push(
      `kube context "${cluster.context}" (cluster ${cluster.name}) not found in the kubeconfig (it has: ${names.slice(0, 10).join(', ') || 'none'}); set ${field} in the config (or CTX_CLUSTER1/CTX_CLUSTER2)`,
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
  // The remote secret carries the API server address the primary's istiod will dial. A loopback address
  // (kind, kwok, minikube) reaches the primary itself, not the remote: refuse unless the config names one.
  for (const remote of input.checkRemoteServers ? deps.config.remotes.filter((r) => known?.has(r.context)) : []) {
    if (remote.apiServer) continue;
    await attempt(async () => {
      const view = await mustSucceed(
        rt,
        {
          tool: 'kubectl',
          args: ['config', 'view', '--minify', `--context=${remote.context}`, '-o', 'jsonpath={.clusters[0].cluster.server}'],
          context: remote.context,
          purpose: 'check',
        },
        `reading the API server of context "${remote.context}"`,
      );
      const server = view.stdout.trim();
      if (LOOPBACK_SERVER.test(server)) {
        const index = deps.config.remotes.indexOf(remote);
        throw new StepError(
          `the kubeconfig gives ${remote.name}'s API server as ${server}, which istiod in ${deps.config.primary.name} cannot reach (it is that pod's own loopback); set remotes[${index}].apiServer to an address the primary's pods can reach (for kind: https://<control-plane container IP>:6443), passed to create-remote-secret as --server`,
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
  if (input.recordInventory) await Promise.all(input.clusters.map((cluster) => takeInventory(rt, cluster, cluster.name === deps.config.primary.name)));
  return { istioVersion, finishedAt: rt.now() };
}

// Journals what a cluster holds before the install changes anything: istio-system (whose, and the values of
// the labels and annotations steps set), the primary's cacerts, a remote's reader token secret. Secrets are
// looked at by name and label only.
async function takeInventory(rt: StepRuntime, cluster: ClusterRef, primary: boolean): Promise<void> {
  const ns = await getJson<NamespaceJson>(rt, cluster.context, ['namespace', ISTIO_SYSTEM], `namespace ${ISTIO_SYSTEM}`, 'observe');
  await rt.observe({
    cluster: cluster.name,
    subject: SUBJECTS.istioSystem,
    present: ns !== undefined,
    owner: isMeshRuns(ns) ? MESH_RUN : null,
    detail: ns ? touchedMetadata(ns.metadata) : null,
  });
  if (primary) {
    const ca = await labelValue(rt, cluster.context, ['secret', CACERTS, '-n', ISTIO_SYSTEM], MANAGED_BY, `secret ${CACERTS}`, 'observe');
    await rt.observe({ cluster: cluster.name, subject: SUBJECTS.cacerts, present: ca.exists, owner: ca.value === MESH_RUN ? MESH_RUN : null, detail: null });
  } else {
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
export async function installPrimary(rt: StepRuntime, input: PrimaryStepInput, deps: ActivityDeps): Promise<StepDone> {
  const manifest = primaryOperator(input.cluster, { meshID: input.meshID, network: input.network, ...opt(input) });
  // istioctl would create istio-system unlabelled; created here, it says it is mesh-run's (uninstall may remove it).
  await createNamespaceIfMissing(rt, input.context, ISTIO_SYSTEM, input.cluster);
  await mustSucceed(rt, istioctl(input.context, ['install', '-y', '-f', '-'], 'act', manifest), `istioctl install on ${input.cluster}`);
  await waitForDeployment(rt, input.context, input.revision ? `istiod-${input.revision}` : 'istiod', deps);
  return { finishedAt: rt.now() };
}

// install-eastwest-gateway: the gateway IstioOperator (gen-eastwest-gateway.sh's output), then its rollout.
export async function installEastwestGateway(rt: StepRuntime, input: PrimaryStepInput, deps: ActivityDeps): Promise<StepDone> {
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

// One look at the gateway service's load-balancer status; the machine decides what it means.
export async function probeGatewayAddress(rt: StepRuntime, input: PrimaryStepInput, deps: ActivityDeps): Promise<GatewayObservation> {
  const probe = {
    ...kubectl(input.context, ['get', '-n', ISTIO_SYSTEM, 'service', GATEWAY_SERVICE, '-o', 'json'], 'wait'),
    waitFor: {
      jsonpath: '{.status.loadBalancer.ingress[0].ip}',
      variable: 'DISCOVERY_ADDRESS',
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
      `service ${GATEWAY_SERVICE} on ${input.cluster} is of type ${svc.spec?.type ?? 'unknown'}, not LoadBalancer; primary-remote on one network needs a load-balancer IP`,
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
export async function exposeIstiodStep(rt: StepRuntime, input: PrimaryStepInput): Promise<StepDone> {
  const manifest = exposeIstiod({ meshID: input.meshID, network: input.network, ...opt(input) });
  await mustSucceed(
    rt,
    kubectl(input.context, ['apply', '-n', ISTIO_SYSTEM, '-f', '-'], 'act', manifest),
    `kubectl apply of expose-istiod on ${input.cluster}`,
  );
  await mustSucceed(
    rt,
    kubectl(
      input.context,
      [
        '-n',
        ISTIO_SYSTEM,
        'get',
        'gateway.networking.istio.io/istiod-gateway',
        `virtualservice.networking.istio.io/${istiodVirtualServiceName(input.revision)}`,
        '-o',
        'name',
      ],
      'verify',
    ),
    'verifying istiod-gateway and its VirtualService',
  );
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

// attach-remote: create-remote-secret streamed into a server-side apply on the primary; the token is never
// captured, and the cluster keeps one copy of it (no last-applied annotation).
export async function attachRemote(rt: StepRuntime, input: RemoteStepInput, deps: ActivityDeps): Promise<StepDone> {
  const apiServer = deps.config.remotes.find((r) => r.name === input.cluster)?.apiServer;
  const secret = remoteSecretName(input.cluster);
  const source = istioctl(
    input.context,
    ['create-remote-secret', `--name=${input.cluster}`, '-n', ISTIO_SYSTEM, ...(apiServer ? [`--server=${apiServer}`] : [])],
    'act',
  );
  // Server-side apply: no last-applied copy of the token; mesh-run owns the secret, so it takes over
  // fields another manager (an earlier client-side apply) set, instead of stopping at the conflict.
  const sink = kubectl(input.primary.context, ['apply', '--server-side', '--field-manager=mesh-run', '--force-conflicts', '-f', '-'], 'act');
  const { source: produced, sink: applied } = await rt.pipe(source, sink);
  if (produced.exitCode !== 0)
    throw commandFailed(`istioctl create-remote-secret for ${input.cluster}`, { exitCode: produced.exitCode, stderr: produced.stderr });
  if (applied.exitCode !== 0) throw commandFailed(`kubectl apply of the remote secret on ${input.primary.name}`, applied);
  const warning = /warn: server in Kubeconfig is (\S+?)\.? This/.exec(produced.stderr);
  if (warning && !apiServer) {
    throw new StepError(`the remote secret for ${input.cluster} points at ${warning[1]}, which pods in ${input.primary.name} cannot reach`, {
      hint: `set remotes[].apiServer for ${input.cluster} to an address the primary can reach (it is passed as --server), then resume with --force`,
    });
  }
  // A secret applied client-side before (an older mesh-run, or by hand) still carries the copy: drop it.
  const where = ['-n', ISTIO_SYSTEM, 'secret', secret];
  const keys = await annotationKeys(rt, input.primary.context, where, `secret ${secret}`, 'observe');
  if (keys?.includes(LAST_APPLIED)) {
    await mustSucceed(
      rt,
      kubectl(input.primary.context, ['-n', ISTIO_SYSTEM, 'annotate', 'secret', secret, `${LAST_APPLIED}-`], 'act'),
      `removing the last-applied copy of secret ${secret} on ${input.primary.name}`,
    );
    rt.note(`secret ${secret} on ${input.primary.name} carried a last-applied copy of the token (an earlier client-side apply); removed`, 'info');
  }
  const secrets = await mustSucceed(
    rt,
    kubectl(input.primary.context, ['-n', ISTIO_SYSTEM, 'get', 'secret', '-l', 'istio/multiCluster=true', '-o', 'name'], 'verify'),
    `listing remote secrets on ${input.primary.name}`,
  );
  if (!secrets.stdout.split('\n').includes(`secret/${secret}`)) {
    throw new StepError(`secret ${secret} with label istio/multiCluster=true is not in ${ISTIO_SYSTEM} of ${input.primary.name} after applying it`, {
      retryable: true,
    });
  }
  if ((await annotationKeys(rt, input.primary.context, where, `secret ${secret}`, 'verify'))?.includes(LAST_APPLIED)) {
    throw new StepError(`secret ${secret} on ${input.primary.name} still carries a last-applied copy of the token after removing it`, { retryable: true });
  }
  return { finishedAt: rt.now() };
}

// The secret create-remote-secret writes for a remote, in istio-system of its primary.
export function remoteSecretName(remote: string): string {
  return `istio-remote-secret-${remote}`;
}

function opt(input: { revision?: string; istioVersion?: string }): { revision?: string; istioVersion?: string } {
  return { ...(input.revision ? { revision: input.revision } : {}), ...(input.istioVersion ? { istioVersion: input.istioVersion } : {}) };
}
