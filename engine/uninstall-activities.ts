// The cleanup steps, each idempotent: look first, remove only what is there, then check it is gone.
// Re-running any of them on a half-removed cluster converges.
import type { ClusterStepInput, StepDone } from '../machines/types.js';
import { ISTIO_SYSTEM, remoteSecretName } from './activities.js';
import type { ActivityDeps } from './activities.js';
import { StepError } from './errors.js';
import { commandTimeoutSeconds, exists, getJson, mustSucceed, type NamespaceJson } from './kube-ops.js';
import { istioLeftovers } from './mesh-inventory.js';
import { MANAGED_BY, MESH_RUN, SAMPLE_NAMESPACE } from './sample-manifests.js';
import { istioctl, kubectl, type StepRuntime } from './step-runtime.js';

function deleteTimeout(deps: ActivityDeps): string {
  return `--timeout=${commandTimeoutSeconds(deps.config)}s`;
}

// remove-sample: delete namespace sample, but only the one `mesh-run verify` created (it carries our label).
export async function removeSample(rt: StepRuntime, input: ClusterStepInput, deps: ActivityDeps): Promise<StepDone> {
  const ns = await getJson<NamespaceJson>(rt, input.context, ['namespace', SAMPLE_NAMESPACE], `namespace ${SAMPLE_NAMESPACE}`);
  if (!ns) return { finishedAt: rt.now() };
  if (ns.metadata?.labels?.[MANAGED_BY] !== MESH_RUN) {
    rt.note(`namespace ${SAMPLE_NAMESPACE} on ${input.cluster} was not created by mesh-run verify; left in place`, 'info');
    return { finishedAt: rt.now() };
  }
  await mustSucceed(rt, kubectl(input.context, ['delete', 'namespace', SAMPLE_NAMESPACE, '--ignore-not-found', deleteTimeout(deps)], 'act'), `kubectl delete namespace ${SAMPLE_NAMESPACE} on ${input.cluster}`);
  await expectGone(rt, input, ['namespace', SAMPLE_NAMESPACE], `namespace ${SAMPLE_NAMESPACE}`);
  return { finishedAt: rt.now() };
}

async function expectGone(rt: StepRuntime, input: { context: string; cluster: string }, args: string[], what: string): Promise<void> {
  const still = await getJson<NamespaceJson>(rt, input.context, args, what, 'verify');
  if (still) {
    const why = still.status?.phase === 'Terminating' ? 'is still terminating' : 'is still there';
    throw new StepError(`${what} on ${input.cluster} ${why} after deleting it`, { retryable: true, hint: 'finalizers may be waiting on a controller; resume once it is gone' });
  }
}

// detach-remote: the remote's secret leaves the primary first, so istiod stops watching a cluster being emptied.
// The secret is looked at by name only: its data is the remote's bearer token.
export async function detachRemote(rt: StepRuntime, input: ClusterStepInput): Promise<StepDone> {
  const name = remoteSecretName(input.cluster);
  const args = ['-n', ISTIO_SYSTEM, 'secret', name];
  if (await exists(rt, input.primary.context, args, `secret ${name}`)) {
    await mustSucceed(rt, kubectl(input.primary.context, ['-n', ISTIO_SYSTEM, 'delete', 'secret', name, '--ignore-not-found'], 'act'), `kubectl delete secret ${name} on ${input.primary.name}`);
    if (await exists(rt, input.primary.context, args, `secret ${name}`, 'verify')) {
      throw new StepError(`secret ${ISTIO_SYSTEM}/${name} on ${input.primary.name} is still there after deleting it`, { retryable: true });
    }
  }
  return { finishedAt: rt.now() };
}

// istioctl uninstall --purge (every revision, CRDs and webhooks included), then istio-system itself.
async function removeIstio(rt: StepRuntime, input: ClusterStepInput, deps: ActivityDeps): Promise<StepDone> {
  const before = await istioLeftovers(rt, input.context, 'observe');
  if (before.length === 0) {
    rt.note(`no Istio left on ${input.cluster}`, 'info');
    return { finishedAt: rt.now() };
  }
  if (before.some((item) => !item.startsWith('namespace/'))) {
    await mustSucceed(rt, istioctl(input.context, ['uninstall', '-y', '--purge'], 'act'), `istioctl uninstall --purge on ${input.cluster}`);
  }
  await mustSucceed(rt, kubectl(input.context, ['delete', 'namespace', ISTIO_SYSTEM, '--ignore-not-found', deleteTimeout(deps)], 'act'), `kubectl delete namespace ${ISTIO_SYSTEM} on ${input.cluster}`);
  const after = await istioLeftovers(rt, input.context, 'verify');
  if (after.length > 0) {
    throw new StepError(`Istio is still present on ${input.cluster} after uninstalling: ${after.slice(0, 6).join(', ')}${after.length > 6 ? ` and ${after.length - 6} more` : ''}`, {
      retryable: true,
      hint: 'a namespace may still be terminating or a controller may have re-created objects; resume to try again',
    });
  }
  return { finishedAt: rt.now() };
}

// The same on a remote and, once every remote is gone, on the primary.
export const uninstallRemote = removeIstio;
export const uninstallPrimary = removeIstio;
