// The verify page's checks, each idempotent and bounded by verify.timeout: observe, act if needed, verify.
import { primariesOf } from '../../machines/topology.js';
import type { ClusterStepInput, StepDone, TrafficOutcome } from '../../machines/types.js';
import { formatDuration } from '../../shared/durations.js';
import { StepError } from '../../shared/errors.js';
import type { MeshConfig } from '../../shared/model.js';
import { sleep } from '../../shared/sleep.js';
import { count } from '../../shared/words.js';
import { commandFailed } from './failures.js';
import type { ActivityDeps } from './install.js';
import { MESH_RUN, SUBJECTS, touchedMetadata } from './inventory.js';
import { commandTimeoutSeconds, getJson, isMeshRuns, mustSucceed, type NamespaceJson } from './kube-ops.js';
import { injectorWebhookName } from './manifests.js';
import { CURL_CONTAINER, HELLOWORLD_PORT, injectionLabels, SAMPLE_NAMESPACE, sampleManifest, sampleNamespace } from './sample-manifests.js';
import { istioctl, kubectl, type StepRuntime } from './step-runtime.js';
import { diagnoseUnsynced } from './sync-diagnosis.js';

// The Istio doc tests retry each check every second.
const POLL_MS = 1000;
// Requests sent back to back before check-traffic pauses for POLL_MS.
const TRAFFIC_BURST = 10;

// Runs `probe` until it reports done or the verify timeout passes; returns its last word either way.
// `burst` probes go back to back before the pause: successive requests spread over endpoints.
async function poll<T>(
  rt: StepRuntime,
  deps: ActivityDeps,
  probe: () => Promise<{ done: boolean; value: T }>,
  burst = 1,
): Promise<{ done: boolean; value: T }> {
  const deadline = rt.now() + deps.config.verify.timeoutMs;
  for (let n = 1; ; n++) {
    const seen = await probe();
    if (seen.done || rt.now() >= deadline) return seen;
    if (n % burst === 0) await sleep(Math.min(POLL_MS, Math.max(1, deadline - rt.now())), rt.signal);
  }
}

function verifySeconds(deps: ActivityDeps): number {
  return Math.max(1, Math.round(deps.config.verify.timeoutMs / 1000));
}

const STATUSES = new Set(['synced', 'syncing', 'timeout', 'closed']);

// `istioctl remote-clusters` rows as name -> status (the SECRET column is empty for the primary itself).
export function parseRemoteClusters(stdout: string): Map<string, string> {
  const rows = new Map<string, string>();
  for (const line of stdout.split('\n').slice(1)) {
    const tokens = line.trim().split(/\s+/);
    const status = tokens.find((t) => STATUSES.has(t));
    if (tokens[0] && status) rows.set(tokens[0], status);
  }
  return rows;
}

// What to do about a failed istioctl remote-clusters, read from what it said: it reaches istiod through
// a port-forward to the istiod pod, and each way that can fail has its own cause.
export function remoteClustersHint(output: string, cluster: string): string {
  if (/no forward found for port/i.test(output)) {
    return `the istiod pod on ${cluster} is simulated (kwok): nothing listens behind it, so istioctl's port-forward to it finds no target; this check needs a real istiod`;
  }
  if (/unable to find any istiod instances|no running istiod/i.test(output))
    return `no istiod runs on ${cluster}: install the control plane there ("mesh-run install"), then verify again`;
  if (/unable to upgrade connection|error upgrading connection|port-?forward.*(failed|refused)|pod is not running/i.test(output)) {
    return `the kubelet on ${cluster} could not open the port-forward to istiod's pod: check the pod is Running ("kubectl -n istio-system get pods -l app=istiod") and that port-forwarding is allowed`;
  }
  if (/connection refused|connection reset|i\/o timeout/i.test(output))
    return `istiod on ${cluster} did not answer on its debug port (15014): check it is ready ("kubectl -n istio-system get pods -l app=istiod")`;
  if (/forbidden|unauthorized/i.test(output))
    return `your credentials on ${cluster} may not port-forward to pods in istio-system: ask for pods/portforward there`;
  return `istioctl asks istiod through a port-forward to its pod: check that istiod runs and is ready on ${cluster} ("kubectl -n istio-system get pods -l app=istiod")`;
}

// check-remote-clusters: the primary's istiod lists every other cluster it must see as synced.
export async function checkRemoteClusters(rt: StepRuntime, input: ClusterStepInput, deps: ActivityDeps): Promise<StepDone> {
  const seen = await poll(rt, deps, async () => {
    const result = await rt.run({
      ...istioctl(input.context, ['remote-clusters', ...(input.revision ? [`--revision=${input.revision}`] : [])], 'verify'),
      expectation: `${input.watches.map((r) => r.name).join(', ')} listed as synced`,
      check: { patterns: input.watches.map((r) => `^${r.name}[[:space:]].*[[:space:]]synced([[:space:]]|$)`), seconds: verifySeconds(deps) },
    });
    // A failing istioctl is not "not synced yet": it fails the step (transient errors are retried by policy).
    if (result.exitCode !== 0)
      throw commandFailed(`istioctl remote-clusters on ${input.cluster}`, result, remoteClustersHint(`${result.stderr}\n${result.stdout}`, input.cluster));
    const rows = parseRemoteClusters(result.stdout);
    const pending = input.watches.filter((r) => rows.get(r.name) !== 'synced').map((r) => `${r.name} ${rows.get(r.name) ?? 'missing'}`);
    if (pending.length > 0) rt.note(`not synced yet: ${pending.join(', ')}`);
    return { done: pending.length === 0, value: rows };
  });
  if (seen.done) return { finishedAt: rt.now() };
  // Each cluster istiod does not see, with the cause found by meeting it as istiod does (its remote secret).
  const rows = seen.value;
  const causes: string[] = [];
  const hints: string[] = [];
  for (const watched of input.watches.filter((r) => rows.get(r.name) !== 'synced')) {
    const found = await diagnoseUnsynced(rt, { name: input.cluster, context: input.context }, watched.name);
    causes.push(`${watched.name} ${rows.get(watched.name) ?? 'missing'}: ${found.cause}`);
    hints.push(found.hint);
  }
  throw new StepError(
    `istiod on ${input.cluster} does not see every cluster synced after ${formatDuration(deps.config.verify.timeoutMs)}; ${causes.join('; ')}`,
    {
      hint: [...new Set(hints)].join('; '),
    },
  );
}

// check-injector-ca: the primary patched the remote's injector webhook with its CA (failure mode: empty caBundle).
export async function checkInjectorCa(rt: StepRuntime, input: ClusterStepInput, deps: ActivityDeps): Promise<StepDone> {
  const webhook = injectorWebhookName(input.revision);
  const seen = await poll(rt, deps, async () => {
    const result = await rt.run({
      ...kubectl(input.context, ['get', 'mutatingwebhookconfiguration', webhook, '-o', 'jsonpath={.webhooks[0].clientConfig.caBundle}'], 'verify'),
      expectation: 'a non-empty caBundle (patched by the primary)',
      check: { patterns: ['.'], seconds: verifySeconds(deps) },
    });
    if (result.exitCode !== 0) throw commandFailed(`kubectl get mutatingwebhookconfiguration ${webhook} on ${input.cluster}`, result);
    const done = result.stdout.trim().length > 0;
    if (!done) rt.note('caBundle still empty');
    return { done, value: undefined };
  });
  if (!seen.done) {
    throw new StepError(
      `the injector webhook ${webhook} on ${input.cluster} still has an empty caBundle after ${formatDuration(deps.config.verify.timeoutMs)}: the primary has not taken charge of this remote`,
      {
        hint: `check the ${'topology.istio.io/controlPlaneClusters'} annotation on ${input.cluster}'s istio-system, the remote secret on ${input.primary?.name ?? 'its primary'}, and EXTERNAL_ISTIOD on ${input.primary?.name ?? 'its primary'}'s istiod`,
      },
    );
  }
  return { finishedAt: rt.now() };
}

// kwok marks the nodes it simulates with this annotation; their pods are API objects that run no container.
export const SIMULATED_NODE_ANNOTATION = 'kwok.x-k8s.io/node';

// Every node's name and kwok mark, one "name<TAB>mark" line each: no node's other data is read.
export const NODES_QUERY = [
  'get',
  'nodes',
  '-o',
  `jsonpath={range .items[*]}{.metadata.name}{"\\t"}{.metadata.annotations.${SIMULATED_NODE_ANNOTATION.replaceAll('.', '\\.')}}{"\\n"}{end}`,
];

// How many nodes a pod could land on, and how many of them kwok simulates, from NODES_QUERY's answer.
export function simulatedNodes(listing: string): { all: number; simulated: number } {
  const rows = listing
    .split('\n')
    .map((line) => line.split('\t'))
    .filter(([name]) => name);
  return { all: rows.length, simulated: rows.filter(([, mark]) => mark === 'fake').length };
}

// The data-plane checks need pods that run. On a cluster whose every node is simulated, the sample could
// never start: say so in one line before creating anything, rather than time out at await-sample.
async function refuseSimulatedNodes(rt: StepRuntime, input: ClusterStepInput): Promise<void> {
  const listing = await mustSucceed(rt, kubectl(input.context, NODES_QUERY, 'observe'), `kubectl get nodes on ${input.cluster}`);
  const { all, simulated } = simulatedNodes(listing.stdout);
  if (all === 0 || simulated < all) return;
  throw new StepError(
    `the data-plane checks cannot pass on ${input.cluster}: its ${count(all, 'node')} ${all === 1 ? 'is' : 'are'} simulated by kwok (annotation ${SIMULATED_NODE_ANNOTATION}=fake), so no pod there runs a container; the control-plane checks before this one ran for real`,
    {
      hint: `run verify against clusters with real nodes to check the sample and traffic; nothing was deployed on ${input.cluster}`,
    },
  );
}

// deploy-sample: namespace sample (labelled for injection), the helloworld Service, this cluster's version, curl.
export async function deploySample(rt: StepRuntime, input: ClusterStepInput, deps: ActivityDeps): Promise<StepDone> {
  await refuseSimulatedNodes(rt, input);
  const existing = await getJson<NamespaceJson>(rt, input.context, ['namespace', SAMPLE_NAMESPACE], `namespace ${SAMPLE_NAMESPACE}`);
  // A sample namespace that was there before verify stays at uninstall, with its labels as they were.
  await rt.observe({
    cluster: input.cluster,
    subject: SUBJECTS.sample,
    present: existing !== undefined,
    owner: isMeshRuns(existing) ? MESH_RUN : null,
    detail: existing ? touchedMetadata(existing.metadata) : null,
  });
  if (!existing) {
    const created = await rt.run(kubectl(input.context, ['create', '-f', '-'], 'act-if-missing', sampleNamespace(input.revision)));
    if (created.exitCode !== 0 && !/AlreadyExists/.test(created.stderr))
      throw commandFailed(`kubectl create namespace ${SAMPLE_NAMESPACE} on ${input.cluster}`, created);
  } else {
    const labels = existing.metadata?.labels ?? {};
    const changes = Object.entries(injectionLabels(input.revision)).filter(([key, value]) => labels[key] !== value);
    for (const [key, value] of changes) {
      if (labels[key] !== undefined)
        await rt.report(
          'overwrote',
          `label ${key} on namespace ${SAMPLE_NAMESPACE} of ${input.cluster}: "${labels[key]}" -> ${value === undefined ? 'removed' : `"${value}"`}`,
        );
    }
    if (changes.length > 0) {
      await mustSucceed(
        rt,
        kubectl(
          input.context,
          ['label', 'namespace', SAMPLE_NAMESPACE, ...changes.map(([key, value]) => (value === undefined ? `${key}-` : `${key}=${value}`)), '--overwrite'],
          'act',
        ),
        `kubectl label namespace ${SAMPLE_NAMESPACE} on ${input.cluster}`,
      );
    }
  }
  const manifest = sampleManifest(input.sampleVersion, deps.config.verify.samplesDir);
  await mustSucceed(
    rt,
    kubectl(input.context, ['apply', '-n', SAMPLE_NAMESPACE, '-f', '-'], 'act', manifest),
    `kubectl apply of the sample on ${input.cluster}`,
  );
  return { finishedAt: rt.now() };
}

interface PodList {
  items?: Array<{ metadata?: { name?: string }; spec?: { containers?: Array<{ name: string }> }; status?: { phase?: string } }>;
}

// await-sample: both rollouts finish, and the pods carry a sidecar (the doc's READY 2/2).
export async function awaitSample(rt: StepRuntime, input: ClusterStepInput, deps: ActivityDeps): Promise<StepDone> {
  const seconds = commandTimeoutSeconds(deps.config);
  for (const name of [`helloworld-${input.sampleVersion}`, 'curl']) {
    await mustSucceed(
      rt,
      kubectl(input.context, ['-n', SAMPLE_NAMESPACE, 'rollout', 'status', `deployment/${name}`, `--timeout=${seconds}s`], 'wait'),
      `rollout of deployment ${name} in ${SAMPLE_NAMESPACE} on ${input.cluster}`,
      input.role === 'remote'
        ? `pods in a remote are injected by ${input.primary?.name ?? 'its primary'}'s istiod: "kubectl -n ${SAMPLE_NAMESPACE} describe replicaset" shows webhook errors`
        : undefined,
    );
  }
  const pods = await getJson<PodList>(rt, input.context, ['pods', '-n', SAMPLE_NAMESPACE], `pods in ${SAMPLE_NAMESPACE}`, 'verify');
  const bare = (pods?.items ?? []).filter((p) => !(p.spec?.containers ?? []).some((c) => c.name === 'istio-proxy')).map((p) => p.metadata?.name ?? '?');
  if (bare.length > 0) {
    throw new StepError(`pods ${bare.join(', ')} in ${SAMPLE_NAMESPACE} on ${input.cluster} run without an istio-proxy sidecar`, {
      hint: `namespace ${SAMPLE_NAMESPACE} must carry ${input.revision ? `istio.io/rev=${input.revision}` : 'istio-injection=enabled'} before the pods start; delete the pods to re-inject them, then resume`,
    });
  }
  return { finishedAt: rt.now() };
}

const HELLO = /Hello version: (v\d+), instance: (\S+)/;

// check-traffic: curl from this cluster until every version has answered (each runs somewhere else too).
export async function checkTraffic(rt: StepRuntime, input: ClusterStepInput, deps: ActivityDeps): Promise<TrafficOutcome> {
  const pod = await mustSucceed(
    rt,
    kubectl(input.context, ['get', 'pods', '-n', SAMPLE_NAMESPACE, '-l', 'app=curl', '-o', 'jsonpath={.items[0].metadata.name}'], 'observe'),
    `finding the curl pod on ${input.cluster}`,
  );
  const podName = pod.stdout.trim();
  if (!podName) throw new StepError(`no curl pod in ${SAMPLE_NAMESPACE} on ${input.cluster}`, { retryable: true });
  const wanted = new Set<string>(input.versions);
  const versions: Record<string, number> = {};
  let requests = 0;
  let lastError = '';
  const seen = await poll(
    rt,
    deps,
    async () => {
      requests += 1;
      const request = kubectl(
        input.context,
        ['exec', '-n', SAMPLE_NAMESPACE, '-c', CURL_CONTAINER, podName, '--', 'curl', '-sS', `helloworld.${SAMPLE_NAMESPACE}:${HELLOWORLD_PORT}/hello`],
        'verify',
      );
      const result = await rt.run({
        ...request,
        expectation: `repeated until ${[...wanted].map((v) => `"Hello version: ${v}"`).join(' and ')} have answered`,
        check: { patterns: [...wanted].map((v) => `Hello version: ${v},`), seconds: verifySeconds(deps), accumulate: true },
      });
      const m = HELLO.exec(result.stdout);
      if (result.exitCode === 0 && m) versions[m[1] as string] = (versions[m[1] as string] ?? 0) + 1;
      else lastError = (result.stderr || result.stdout).trim().split('\n')[0] ?? '';
      const done = [...wanted].every((v) => versions[v]);
      if (!done) rt.note(`${count(requests, 'request')} so far, answers: ${Object.keys(versions).join(', ') || 'none'}`);
      return { done, value: undefined };
    },
    TRAFFIC_BURST,
  );
  const tally =
    Object.entries(versions)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([v, n]) => `${v} x${n}`)
      .join(', ') || 'none';
  if (!seen.done) {
    const missing = [...wanted].filter((v) => !versions[v]);
    throw new StepError(
      `from ${input.cluster}, ${missing.join(' and ')} never answered in ${count(requests, 'request')} over ${formatDuration(deps.config.verify.timeoutMs)} (answers: ${tally})${lastError ? `; last error: ${lastError}` : ''}`,
      {
        hint: trafficHint(input, missing, deps.config),
      },
    );
  }
  rt.note(`answers from ${input.cluster}: ${tally} in ${count(requests, 'request')}`, 'info');
  return { versions, requests, finishedAt: rt.now() };
}

// Where to look when a version never answered, for this mesh's shape.
function trafficHint(input: ClusterStepInput, missing: readonly string[], config: MeshConfig): string {
  const plane = input.role === 'remote' ? (input.primary?.name ?? 'its primary') : input.cluster;
  const checks = [`that this cluster's control plane sees them (istioctl remote-clusters on ${plane})`];
  if (new Set(config.clusters.map((c) => c.network)).size > 1)
    checks.push(
      'that every east-west gateway has an address, that expose-services is applied, and that each istio-system carries its topology.istio.io/network label',
    );
  if (primariesOf({ members: config.clusters }).length > 1) checks.push('that every primary signs under the same root (the cacerts secret in istio-system)');
  return `${missing.join(' and ')} ${missing.length > 1 ? 'run' : 'runs'} on other clusters: check ${checks.join('; ')}`;
}
