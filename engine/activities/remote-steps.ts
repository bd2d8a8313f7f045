// A remote's steps: its namespace, the annotation naming its primary, the remote profile.

import type { CommandPurpose } from '../../adapters/cluster-tools.js';
import type { AnnotationObservation, RemoteStepInput, StepDone } from '../../machines/types.js';
import { StepError } from '../../shared/errors.js';
import { CONTROL_PLANE_ANNOTATION, opt } from './install-common.js';
import { createNamespaceIfMissing, getJson, ISTIO_SYSTEM, mustSucceed, type NamespaceJson } from './kube-ops.js';
import { injectorWebhookName, remoteOperator } from './manifests.js';
import { istioctl, kubectl, type StepRuntime } from './step-runtime.js';

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
