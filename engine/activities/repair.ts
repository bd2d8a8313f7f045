// A repair's steps: install's own idempotent steps, given only what drifted on the cluster. Each observes,
// acts only if needed and verifies, as it does during an install. The network ones (gateway, remote profile)
// are in repair-network.ts, the CA in repair-trust.ts.
import type { RepairStepInput } from '../../machines/repair-machine.js';
import type { MeshCluster, StepDone, UpgradeStepInput } from '../../machines/types.js';
import { StepError } from '../../shared/errors.js';
import { DEFAULT_REVISION, namedOrNone } from '../../shared/revisions.js';
import type { ActivityDeps } from './install-common.js';
import { exists, ISTIO_SYSTEM, mustSucceed } from './kube-ops.js';
import { labelNetwork } from './network-steps.js';
import { exposeIstiodStep, exposeServicesStep, installPrimary } from './primary-steps.js';
import { receiveSecrets } from './remote-secrets.js';
import { annotateRemoteNamespace } from './remote-steps.js';
import { defaultTag, reactivateDefaultInjector, setDefaultTag } from './revision-ops.js';
import { kubectl, type StepRuntime } from './step-runtime.js';
import { TAG_WEBHOOK } from './tag-ownership.js';

export { repairGateway, repairRemote } from './repair-network.js';
export { repairTrust } from './repair-trust.js';

// repair-label: install's label-network.
export function repairLabel(rt: StepRuntime, input: RepairStepInput): Promise<StepDone> {
  return labelNetwork(rt, input);
}

// repair-secret: each member's remote secret written on this primary again, as install writes it
// (create-remote-secret | server-side apply). create-remote-secret reads the reader account's token as the
// cluster has it now: a token secret deleted since is made again, so a refused token is replaced too.
export function repairSecret(rt: StepRuntime, input: RepairStepInput, deps: ActivityDeps): Promise<StepDone> {
  return receiveSecrets(rt, input, deps);
}

// repair-annotation: install's annotate-remote-namespace, naming the remote's primary.
export async function repairAnnotation(rt: StepRuntime, input: RepairStepInput): Promise<StepDone> {
  if (!input.primary) throw new StepError(`repair-annotation on ${input.cluster}: it is not a remote with a primary (internal error)`);
  const seen = await annotateRemoteNamespace(rt, { ...input, primary: input.primary });
  return { finishedAt: seen.finishedAt };
}

// repair-expose: install's expose-istiod and expose-services, whichever drifted (apply converges).
export async function repairExpose(rt: StepRuntime, input: RepairStepInput): Promise<StepDone> {
  if (input.exposesIstiod) await exposeIstiodStep(rt, input);
  if (input.exposesServices) await exposeServicesStep(rt, input);
  return { finishedAt: rt.now() };
}

// remove-stale-secret: a remote secret of a cluster that is not a member, deleted by name (looked at with -o
// name only: its data is a bearer token), checked gone.
export async function removeStaleSecrets(rt: StepRuntime, input: RepairStepInput): Promise<StepDone> {
  for (const name of input.secrets) {
    const args = ['-n', ISTIO_SYSTEM, 'secret', name];
    if (!(await exists(rt, input.context, args, `secret ${name}`))) continue;
    await mustSucceed(
      rt,
      kubectl(input.context, ['-n', ISTIO_SYSTEM, 'delete', 'secret', name, '--ignore-not-found'], 'act'),
      `kubectl delete secret ${name} on ${input.cluster}`,
    );
    if (await exists(rt, input.context, args, `secret ${name}`, 'verify'))
      throw new StepError(`secret ${ISTIO_SYSTEM}/${name} on ${input.cluster} is still there after deleting it`, { retryable: true });
  }
  return { finishedAt: rt.now() };
}

// repair-control-plane: install's install-primary again, the IstioOperator rendered from the journal's meshID,
// cluster name and network (istioctl install converges: a re-run changes nothing more), then istiod's rollout.
export function repairControlPlane(rt: StepRuntime, input: RepairStepInput, deps: ActivityDeps): Promise<StepDone> {
  return installPrimary(rt, input, deps);
}

// The cluster as the upgrade's helpers take it.
function asMeshCluster(input: RepairStepInput): MeshCluster {
  return {
    name: input.cluster,
    context: input.context,
    role: input.role,
    network: input.network,
    ...(input.primary ? { controlPlane: input.primary.name } : {}),
  };
}

// repair-tag: the upgrade's tag step. A named revision: the default tag points at it again. The default revision
// (no tag of its own): the tag is removed, and the default revision's injector, which a tag leaves inert,
// injects again (as a rollback's restore-tag does). The tag replaced is journaled before it is touched; one no
// mesh-run upgrade made is touched only under repair --force (repair-choice.ts), and the journal says so.
export async function repairTag(rt: StepRuntime, input: RepairStepInput, deps: ActivityDeps): Promise<StepDone> {
  const member = asMeshCluster(input);
  const revision = namedOrNone(input.revision ?? DEFAULT_REVISION);
  const now = await defaultTag(rt, member);
  if (now !== undefined && now !== revision) {
    const whose = input.forceTag ? 'no mesh-run upgrade made it; repair --force' : 'made by a mesh-run upgrade';
    const to = revision === undefined ? 'removed (the mesh runs the default revision)' : `-> ${revision}`;
    await rt.report(
      input.forceTag && revision === undefined ? 'deleted-preexisting' : 'overwrote',
      `mutatingwebhookconfiguration ${TAG_WEBHOOK} on ${input.cluster}: default tag -> ${now} ${to} (${whose})`,
    );
  }
  await setDefaultTag(rt, member, revision);
  if (revision === undefined) {
    const primary: MeshCluster[] = input.primary ? [{ ...input.primary }] : [];
    const upgrade: UpgradeStepInput = {
      runId: input.runId,
      step: input.step,
      cluster: input.cluster,
      context: input.context,
      meshID: input.meshID,
      from: DEFAULT_REVISION,
      to: DEFAULT_REVISION,
      members: [member, ...primary],
      gateTimeoutMs: 0,
      member,
      external: input.external,
    };
    await reactivateDefaultInjector(rt, upgrade, deps);
  }
  return { finishedAt: rt.now() };
}
