// The cleanup steps, each idempotent: look first, remove only what is there, then check it is gone.
// Re-running any of them on a half-removed cluster converges. They delete only what mesh-run created:
// what existed before (the install's and verify's inventory, or the lack of mesh-run's label) is kept,
// with the labels and annotations a step replaced set back; --force removes it too, and says what.

import type { Command } from '../../adapters/cluster-tools.js';
import type { ClusterRef, ClusterStepInput, ReleaseStepInput, StepDone } from '../../machines/types.js';
import { StepError } from '../../shared/errors.js';
import { sleep } from '../../shared/sleep.js';
import { commandFailed } from './failures.js';
import type { ActivityDeps } from './install.js';
import { CACERTS, ISTIO_SYSTEM, READER_TOKEN, remoteSecretName } from './install.js';
import { Inventory, MANAGED_BY, MESH_RUN, SUBJECTS, TOUCHED } from './inventory.js';
import { commandTimeoutSeconds, exists, getJson, isMeshRuns, isNotFound, labelValue, mustSucceed, type NamespaceJson, ownerProbe } from './kube-ops.js';
import {
  istioLeftovers,
  istioSystemWorkloads,
  isUnpruned,
  MESH_RUN_OWNER,
  meshRunTags,
  removeUnpruned,
  type UnprunedScope,
  unpruned,
} from './mesh-inventory.js';
import { ROTATED_TOKEN_PREFIX } from './rotation.js';
import { SAMPLE_NAMESPACE, SAMPLE_OBJECTS } from './sample-manifests.js';
import { istioctl, kubectl, type StepRuntime } from './step-runtime.js';

function deleteTimeout(deps: ActivityDeps): string {
  return `--timeout=${commandTimeoutSeconds(deps.config)}s`;
}

const inventoryOf = (deps: ActivityDeps) => deps.inventory ?? Inventory.empty();

// Who says an object existed before mesh-run, for messages: the run that recorded it on that cluster (the
// install, or the cluster add that brought the cluster in), or, with no record, the object's lack of mesh-run's label.
function recordedBy(deps: ActivityDeps, cluster: string, subject: string): string {
  const seen = inventoryOf(deps).before(cluster, subject);
  return seen ? `run ${seen.runId}` : 'the namespace (no mesh-run label)';
}

// remove-sample: delete namespace sample when verify created it; a namespace that was there before keeps
// everything but verify's workloads, and its istio-injection label goes back to what it was.
export async function removeSample(rt: StepRuntime, input: ClusterStepInput, deps: ActivityDeps): Promise<StepDone> {
  const ns = await getJson<NamespaceJson>(rt, input.context, ['namespace', SAMPLE_NAMESPACE], `namespace ${SAMPLE_NAMESPACE}`);
  if (!ns) return { finishedAt: rt.now() };
  const inventory = inventoryOf(deps);
  const preexisting = inventory.preexisting(input.cluster, SUBJECTS.sample, isMeshRuns(ns));
  if (!preexisting || deps.force) {
    if (preexisting)
      await rt.report(
        'deleted-preexisting',
        `--force: deleting namespace ${SAMPLE_NAMESPACE} on ${input.cluster}, which existed before mesh-run verify, with everything in it`,
      );
    const remove = deleteNamespace(input, SAMPLE_NAMESPACE, deps, `namespace ${SAMPLE_NAMESPACE} on ${input.cluster} was not created by mesh-run verify: kept`);
    await mustSucceed(rt, remove, `kubectl delete namespace ${SAMPLE_NAMESPACE} on ${input.cluster}`);
    await expectGone(rt, input, ['namespace', SAMPLE_NAMESPACE], `namespace ${SAMPLE_NAMESPACE}`, remove.when);
    return { finishedAt: rt.now() };
  }
  await mustSucceed(
    rt,
    kubectl(
      input.context,
      ['delete', '-n', SAMPLE_NAMESPACE, ...SAMPLE_OBJECTS.map(([kind, name]) => `${kind}/${name}`), '--ignore-not-found', deleteTimeout(deps)],
      'act',
    ),
    `kubectl delete of the sample workloads in ${SAMPLE_NAMESPACE} on ${input.cluster}`,
  );
  await restoreMetadata(rt, input, ['namespace', SAMPLE_NAMESPACE], SUBJECTS.sample, ns, inventory);
  await rt.report(
    'kept',
    `namespace ${SAMPLE_NAMESPACE} on ${input.cluster} existed before mesh-run verify (${recordedBy(deps, input.cluster, SUBJECTS.sample)}); kept it, removing only verify's helloworld and curl`,
  );
  return { finishedAt: rt.now() };
}

// Sets the labels and annotations a step replaced back to the values recorded before it ran (or removes
// them if they were unset); leaves them alone when nothing was recorded.
async function restoreMetadata(
  rt: StepRuntime,
  input: ClusterStepInput,
  target: string[],
  subject: string,
  current: NamespaceJson,
  inventory: Inventory,
): Promise<void> {
  for (const key of Object.values(TOUCHED)) {
    const [kind, name] = key.split(/:(.*)/s) as ['label' | 'annotation', string];
    const now = (kind === 'label' ? current.metadata?.labels : current.metadata?.annotations)?.[name];
    const earlier = inventory.earlierValue(input.cluster, subject, key);
    if (!earlier.known || earlier.value === now) continue;
    const verb = kind === 'label' ? 'label' : 'annotate';
    const change = earlier.value === undefined ? `${name}-` : `${name}=${earlier.value}`;
    await mustSucceed(rt, kubectl(input.context, [verb, ...target, change, '--overwrite'], 'act'), `kubectl ${verb} ${target.join(' ')} on ${input.cluster}`);
    await rt.report(
      'restored',
      `${kind} ${name} on ${target.join(' ')} of ${input.cluster}: "${now ?? ''}" -> ${earlier.value === undefined ? 'removed (it was not set before)' : `"${earlier.value}" (its value before mesh-run)`}`,
    );
  }
}

// The delete of a namespace mesh-run created; a script runs it only where mesh-run's label says so.
function deleteNamespace(input: ClusterStepInput, name: string, deps: ActivityDeps, otherwise: string): Command {
  const variable = `OWNER_${name}_${input.cluster}`.replace(/[^A-Za-z0-9_]/g, '_');
  return {
    ...kubectl(input.context, ['delete', 'namespace', name, '--ignore-not-found', deleteTimeout(deps)], 'act'),
    when: { probe: ownerProbe(input.context, name), equals: MESH_RUN, otherwise, variable },
  };
}

async function expectGone(rt: StepRuntime, input: { context: string; cluster: string }, args: string[], what: string, when?: Command['when']): Promise<void> {
  const result = await rt.run({ ...kubectl(input.context, ['get', ...args, '-o', 'json'], 'verify'), ...(when ? { when } : {}) });
  if (result.exitCode !== 0 && !isNotFound(result)) throw commandFailed(`kubectl get ${what}`, result);
  const still = result.exitCode === 0 ? (JSON.parse(result.stdout) as NamespaceJson) : undefined;
  if (still) {
    const why = still.status?.phase === 'Terminating' ? 'is still terminating' : 'is still there';
    throw new StepError(`${what} on ${input.cluster} ${why} after deleting it`, {
      retryable: true,
      hint: 'finalizers may be waiting on a controller; resume once it is gone',
    });
  }
}

// detach-remote: this cluster's secret leaves every primary holding it first, so no istiod watches (or routes
// into) a cluster being emptied. The secret is looked at by name only: its data is the cluster's bearer token.
export async function detachRemote(rt: StepRuntime, input: ClusterStepInput): Promise<StepDone> {
  for (const holder of input.holders) await deleteRemoteSecret(rt, input.cluster, holder);
  return { finishedAt: rt.now() };
}

// release-secrets: a primary leaving the mesh gives up its copies of the other clusters' credentials first,
// even where its istio-system existed before mesh-run and stays.
export async function releaseSecrets(rt: StepRuntime, input: ReleaseStepInput): Promise<StepDone> {
  for (const source of input.sources) await deleteRemoteSecret(rt, source.name, { name: input.cluster, context: input.context });
  return { finishedAt: rt.now() };
}

// The remote secret of `source` gone from `holder`: looked at by name only, deleted if there, checked gone.
async function deleteRemoteSecret(rt: StepRuntime, source: string, holder: ClusterRef): Promise<void> {
  const name = remoteSecretName(source);
  const args = ['-n', ISTIO_SYSTEM, 'secret', name];
  if (!(await exists(rt, holder.context, args, `secret ${name}`))) return;
  await mustSucceed(
    rt,
    kubectl(holder.context, ['-n', ISTIO_SYSTEM, 'delete', 'secret', name, '--ignore-not-found'], 'act'),
    `kubectl delete secret ${name} on ${holder.name}`,
  );
  if (await exists(rt, holder.context, args, `secret ${name}`, 'verify')) {
    throw new StepError(`secret ${ISTIO_SYSTEM}/${name} on ${holder.name} is still there after deleting it`, { retryable: true });
  }
}

// istioctl uninstall --purge (every revision, CRDs and webhooks included), then istio-system itself when
// mesh-run created it. One that existed before keeps whatever mesh-run did not put there.
async function removeIstio(rt: StepRuntime, input: ClusterStepInput, deps: ActivityDeps): Promise<StepDone> {
  const ns = await getJson<NamespaceJson>(rt, input.context, ['namespace', ISTIO_SYSTEM], `namespace ${ISTIO_SYSTEM}`, 'observe');
  const inventory = inventoryOf(deps);
  const keep = ns !== undefined && !deps.force && inventory.preexisting(input.cluster, SUBJECTS.istioSystem, isMeshRuns(ns));
  const scope = leftoverScope(input, deps, keep);
  const before = await istioLeftovers(rt, input.context, 'observe', scope);
  if (before.length === 0) {
    rt.note(`no Istio left on ${input.cluster}`, 'info');
    return { finishedAt: rt.now() };
  }
  // --force on what an adoption recorded: every object goes, and the journal names each.
  if (deps.force && inventory.before(input.cluster, SUBJECTS.adoptedIstio)) {
    const workloads = await istioSystemWorkloads(rt, input.context, 'observe');
    await rt.report('deleted-preexisting', `--force: deleting what ${input.cluster} ran before mesh-run adopted it: ${[...before, ...workloads].join(', ')}`);
  }
  if (before.some((item) => !item.startsWith('namespace/') && !isUnpruned(item))) {
    for (const tag of await meshRunTags(rt, input.context, deps.force === true)) {
      await mustSucceed(rt, istioctl(input.context, ['tag', 'remove', tag, '-y'], 'act'), `istioctl tag remove ${tag} on ${input.cluster}`);
    }
    await mustSucceed(rt, istioctl(input.context, ['uninstall', '-y', '--purge'], 'act'), `istioctl uninstall --purge on ${input.cluster}`);
  }
  if (keep) {
    await cleanKeptNamespace(rt, input, ns, deps);
  } else if (ns) {
    if (deps.force && inventory.preexisting(input.cluster, SUBJECTS.istioSystem, isMeshRuns(ns))) {
      const secrets = await mustSucceed(
        rt,
        kubectl(input.context, ['-n', ISTIO_SYSTEM, 'get', 'secrets', '-o', 'name'], 'observe'),
        `listing secrets in ${ISTIO_SYSTEM} on ${input.cluster}`,
      );
      const names = secrets.stdout
        .split('\n')
        .map((l) => l.trim().replace(/^secret\//, ''))
        .filter(Boolean);
      await rt.report(
        'deleted-preexisting',
        `--force: deleting namespace ${ISTIO_SYSTEM} on ${input.cluster}, which existed before mesh-run (${recordedBy(deps, input.cluster, SUBJECTS.istioSystem)}), with everything in it${names.length ? ` (secrets: ${names.join(', ')})` : ''}`,
      );
    }
    await mustSucceed(
      rt,
      deleteNamespace(
        input,
        ISTIO_SYSTEM,
        deps,
        `namespace ${ISTIO_SYSTEM} on ${input.cluster} existed before mesh-run: kept (mesh-run uninstall --force deletes it)`,
      ),
      `kubectl delete namespace ${ISTIO_SYSTEM} on ${input.cluster}`,
    );
  }
  // What istioctl does not prune, mesh-run removes from a namespace that stays (one deleted took it along).
  if (keep) await removeUnpruned(rt, input, await unpruned(rt, input.context, 'observe', scope));
  // Some of what istioctl removes goes through the garbage collector (webhooks owned by istiod's cluster
  // role), after istioctl has returned: give it a bounded while before calling anything left a failure.
  const deadline = rt.now() + Math.min(deps.config.timeouts.commandMs, LEFTOVER_WAIT_MS);
  for (;;) {
    const after = (await istioLeftovers(rt, input.context, 'verify', scope)).filter((item) => !(keep && item === `namespace/${ISTIO_SYSTEM}`));
    if (after.length === 0) return { finishedAt: rt.now() };
    // An istiod still stopping may write its ConfigMaps once more: remove them again.
    if (after.some(isUnpruned)) await removeUnpruned(rt, input, after.filter(isUnpruned));
    if (rt.now() >= deadline) {
      throw new StepError(
        `Istio is still present on ${input.cluster} after uninstalling: ${after.slice(0, 6).join(', ')}${after.length > 6 ? ` and ${after.length - 6} more` : ''}`,
        {
          retryable: true,
          hint: 'a namespace may still be terminating or a controller may have re-created objects; resume to try again',
        },
      );
    }
    rt.note(`waiting for ${after.length} Istio object${after.length > 1 ? 's' : ''} to go: ${after.slice(0, 3).join(', ')}`);
    await sleep(1000, rt.signal);
  }
}

// How long removal may take to show after istioctl uninstall returns (garbage collection).
const LEFTOVER_WAIT_MS = 60_000;

// What an uninstall removes besides istioctl's purge: the EndpointSlices of mesh-run's IstioOperators (with
// --force, of any istioctl install, as the purge removes any); in an istio-system that stays, the ConfigMaps
// istiod wrote there since the install (those the install found are kept, unless mesh-run's istiod wrote them;
// with no record, all are).
function leftoverScope(input: ClusterStepInput, deps: ActivityDeps, keep: boolean): UnprunedScope {
  const owns = (owner: string) => deps.force === true || MESH_RUN_OWNER.test(owner);
  const seen = keep ? inventoryOf(deps).before(input.cluster, SUBJECTS.istiodConfigMaps) : undefined;
  if (!seen) return { owns };
  return { owns, configMaps: { except: new Set(seen.owner === MESH_RUN ? [] : Object.keys(seen.detail ?? {})) } };
}

// What mesh-run created in a kept istio-system: its cacerts, the reader token istioctl made for it.
async function oursInKept(rt: StepRuntime, input: ClusterStepInput, inventory: Inventory): Promise<string[]> {
  const ours: string[] = [];
  const ca = await labelValue(rt, input.context, ['secret', CACERTS, '-n', ISTIO_SYSTEM], MANAGED_BY, `secret ${CACERTS}`, 'observe');
  if (ca.exists && ca.value === MESH_RUN && !inventory.preexisting(input.cluster, SUBJECTS.cacerts, true)) ours.push(CACERTS);
  // The reader token secret is istioctl's, made for mesh-run's remote secret: remove it unless it was there before.
  if (
    inventory.absentBefore(input.cluster, SUBJECTS.readerToken) &&
    (await exists(rt, input.context, ['secret', READER_TOKEN, '-n', ISTIO_SYSTEM], `secret ${READER_TOKEN}`))
  )
    ours.push(READER_TOKEN);
  // The tokens secrets rotate minted carry mesh-run's label (listed by name only).
  const labelled = await mustSucceed(
    rt,
    kubectl(input.context, ['-n', ISTIO_SYSTEM, 'get', 'secrets', '-l', `${MANAGED_BY}=${MESH_RUN}`, '-o', 'name'], 'observe'),
    `listing mesh-run's secrets in ${ISTIO_SYSTEM} on ${input.cluster}`,
  );
  for (const line of labelled.stdout.split('\n')) {
    const name = line.trim().replace(/^secret\//, '');
    if (name.startsWith(ROTATED_TOKEN_PREFIX)) ours.push(name);
  }
  return ours;
}

// A kept istio-system: mesh-run's secrets in it go, its annotations go back to what they were.
async function cleanKeptNamespace(rt: StepRuntime, input: ClusterStepInput, ns: NamespaceJson, deps: ActivityDeps): Promise<void> {
  const inventory = inventoryOf(deps);
  const ours = await oursInKept(rt, input, inventory);
  if (ours.length > 0) {
    await mustSucceed(
      rt,
      kubectl(input.context, ['-n', ISTIO_SYSTEM, 'delete', 'secret', ...ours, '--ignore-not-found'], 'act'),
      `kubectl delete secret ${ours.join(' ')} on ${input.cluster}`,
    );
  }
  await restoreMetadata(rt, input, ['namespace', ISTIO_SYSTEM], SUBJECTS.istioSystem, ns, inventory);
  const kept = (await exists(rt, input.context, ['secret', CACERTS, '-n', ISTIO_SYSTEM], `secret ${CACERTS}`, 'verify'))
    ? ` and secret ${CACERTS}, which mesh-run did not create`
    : '';
  await rt.report(
    'kept',
    `namespace ${ISTIO_SYSTEM} on ${input.cluster} existed before mesh-run (${recordedBy(deps, input.cluster, SUBJECTS.istioSystem)}); kept it${kept}, removing only what mesh-run and istioctl put there${ours.length ? ` (secrets ${ours.join(', ')})` : ''}; "mesh-run uninstall --force" would delete it`,
  );
}

// The same on a remote and, once every remote is gone, on the primary.
export const uninstallRemote = removeIstio;
export const uninstallPrimary = removeIstio;
