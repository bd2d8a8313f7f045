// Remote secrets: one cluster's API access (a service-account token) on the primaries that watch it.

import type { ClusterRef, ExchangeStepInput, ReceiveStepInput, RemoteStepInput, StepDone } from '../../machines/types.js';
import { StepError } from '../../shared/errors.js';
import { clusterField } from '../../shared/model.js';
import { commandFailed } from './failures.js';
import type { ActivityDeps } from './install-common.js';
import { annotationKeys, ISTIO_SYSTEM, labelValue, mustSucceed } from './kube-ops.js';
import { istioctl, kubectl, type StepRuntime } from './step-runtime.js';

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
