// preflight, the first step of an install (and the checks a precheck shares): tools, contexts, API servers,
// loopback addresses; then, for an install, what each cluster held before it acted.

import type { Command, CommandPurpose } from '../../adapters/cluster-tools.js';
import { secretHoldersOf } from '../../machines/topology.js';
import type { ClusterRef, PreflightInput, PreflightOutput } from '../../machines/types.js';
import { isLoopbackServer } from '../../shared/api-server.js';
import { StepError } from '../../shared/errors.js';
import { clusterField, type MeshConfig } from '../../shared/model.js';
import { errorSummary, isTransient } from './failures.js';
import { type ActivityDeps, CONTROL_PLANE_ANNOTATION, MIN_ISTIO_MINOR, READER_TOKEN } from './install-common.js';
import { MESH_RUN, SUBJECTS, touchedMetadata } from './inventory.js';
import { exists, getJson, ISTIO_SYSTEM, isMeshRuns, mustSucceed, type NamespaceJson } from './kube-ops.js';
import { istiodConfigMaps, istioOwners, MESH_RUN_OWNER } from './mesh-inventory.js';
import { kubectl, type StepRuntime } from './step-runtime.js';
import { printsDetail, readCacerts } from './trust/cacerts-prints.js';

export function parseIstioVersion(stdout: string): string | undefined {
  try {
    const parsed = JSON.parse(stdout) as { clientVersion?: { version?: string } };
    if (parsed.clientVersion?.version) return parsed.clientVersion.version;
  } catch {
    // older istioctl print text; fall through to the regex
  }
  return /(\d+\.\d+\.\d+[\w.-]*)/.exec(stdout)?.[1];
}

// The API server a kube context dials, as the kubeconfig says (kubectl answers it without dialling).
export function contextServerCommand(context: string, purpose: CommandPurpose = 'check'): Command {
  return { tool: 'kubectl', args: ['config', 'view', '--minify', `--context=${context}`, '-o', 'jsonpath={.clusters[0].cluster.server}'], context, purpose };
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
  // Whether the real primaries can reach a remote's API server depends on the real kubeconfig's addresses; a
  // rehearsal's world invents its own (10.x): it reads what the run reads (a plan lists the same commands),
  // and leaves the judgement to the run.
  if (input.checkRemoteServers) await checkDialledServers(rt, deps.config, known, deps.rehearsal ? readOnly : attempt);
  if (problems.length > 0 || istioVersion === undefined) {
    // Worth a retry only when every problem is one that passes (an API server timing out).
    const retryable = problems.length > 0 && problems.every((p) => isTransient(p));
    throw new StepError(problems.join('\n'), {
      retryable,
      ...(problems.length > 1 ? { hint: `${problems.length} problems, one per line: fix them, then run again` } : {}),
    });
  }
  if (input.recordInventory) {
    const shape = { members: deps.config.clusters };
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

type Attempt = (check: () => Promise<void>) => Promise<void>;

// A remote secret carries the API server address the primaries' istiod will dial. A loopback address
// (kind, kwok, minikube) reaches the primary itself, not that cluster: refuse one the kubeconfig gives unless
// the config names the address. A loopback address the config names is reachable only by an istiod in this
// machine's network, so it is refused too when a primary holding the secret has its API server elsewhere.
// A check whose verdict is not this run's to give: what it reads is read, what it would refuse is not.
async function readOnly(check: () => Promise<void>): Promise<void> {
  try {
    await check();
  } catch (error) {
    if (!(error instanceof StepError)) throw error;
  }
}

async function checkDialledServers(rt: StepRuntime, config: MeshConfig, known: Set<string> | undefined, attempt: Attempt): Promise<void> {
  const shape = { members: config.clusters };
  const dialled = config.clusters.filter((c) => secretHoldersOf(shape, c.name).length > 0 && known?.has(c.context));
  const servers = new Map<string, Promise<string>>();
  const serverOf = (context: string) => {
    let found = servers.get(context);
    if (!found) {
      found = mustSucceed(rt, contextServerCommand(context), `reading the API server of context "${context}"`).then((view) => view.stdout.trim());
      servers.set(context, found);
    }
    return found;
  };
  for (const cluster of dialled) {
    if (cluster.apiServer && !isLoopbackServer(cluster.apiServer)) continue;
    await attempt(async () => {
      const server = cluster.apiServer ?? (await serverOf(cluster.context));
      if (!isLoopbackServer(server)) return;
      const holders = secretHoldersOf(shape, cluster.name);
      // A cluster add names the joining cluster's address with a flag, not in a file.
      const field = config.subject === cluster.name ? '--api-server' : clusterField(config, cluster.name, 'apiServer');
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
}

// Journals what a cluster holds before the install changes anything: istio-system (whose, and the values of
// the labels and annotations steps set), a primary's cacerts, the reader token secret of a cluster whose
// remote secret will be made. Secrets are looked at by name and label only (cacerts: and its public certificates).
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
    // Its label, and the fingerprints of its root and intermediate (public certificates; never its key).
    const ca = await readCacerts(rt, cluster.context);
    await rt.observe({
      cluster: cluster.name,
      subject: SUBJECTS.cacerts,
      present: ca.exists,
      owner: ca.managedBy === MESH_RUN ? MESH_RUN : null,
      detail: printsDetail(ca.prints),
    });
  }
  if (role.givesSecret) {
    const present = await exists(rt, cluster.context, ['secret', READER_TOKEN, '-n', ISTIO_SYSTEM], `secret ${READER_TOKEN}`);
    await rt.observe({ cluster: cluster.name, subject: SUBJECTS.readerToken, present, owner: null, detail: null });
  }
}
