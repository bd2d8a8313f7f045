// The steps of an upgrade's rollback: the completed phases reversed, from what the upgrade journaled before it
// acted (its observations are this run's inventory). A phase the upgrade never reached is a no-op.
import type { StepDone, UpgradeStepInput } from '../../machines/types.js';
import { StepError } from '../../shared/errors.js';
import { DEFAULT_REVISION } from '../../shared/revisions.js';
import { count } from '../../shared/words.js';
import type { ActivityDeps } from './install.js';
import { UPGRADE_SUBJECTS } from './inventory.js';
import {
  gatewayRevision,
  gatewaysOf,
  INJECTION,
  memberOf,
  podsOnRevision,
  REV,
  reactivateDefaultInjector,
  relabelAndRestart,
  removeRevision,
  setDefaultTag,
} from './revision-ops.js';
import type { StepRuntime } from './step-runtime.js';

// restore-tag: the default tag back where the upgrade found it (set back, or removed if there was none).
export async function restoreTag(rt: StepRuntime, input: UpgradeStepInput, deps: ActivityDeps): Promise<StepDone> {
  const member = memberOf(input);
  const seen = deps.inventory?.before(member.name, UPGRADE_SUBJECTS.defaultTag);
  if (!seen) {
    rt.note(`the upgrade did not move the default tag on ${member.name}: nothing to put back`, 'info');
    return { finishedAt: rt.now() };
  }
  const revision = seen.present ? seen.detail?.revision : undefined;
  await setDefaultTag(rt, member, revision);
  await rt.report('restored', `default tag on ${member.name}: ${revision ? `-> ${revision}` : 'removed (there was none before the upgrade)'}`);
  // Setting the tag left the default revision's own injector inert; without a tag it is the one to inject again.
  if (revision === undefined && input.from === DEFAULT_REVISION) await reactivateDefaultInjector(rt, input, deps);
  return { finishedAt: rt.now() };
}

// restore-gateway: the gateways back on the revision each ran before the upgrade (Istio's rollback: reinstall the
// old revision's gateways before removing the new one).
export async function restoreGateway(rt: StepRuntime, input: UpgradeStepInput, deps: ActivityDeps): Promise<StepDone> {
  const member = memberOf(input);
  for (const gateway of gatewaysOf(rt, input, deps)) {
    const before = deps.inventory?.before(member.name, gateway.subject)?.detail?.revision;
    if (!before) {
      rt.note(`the upgrade did not touch ${gateway.name} on ${member.name}: nothing to put back`, 'info');
      continue;
    }
    if ((await gatewayRevision(rt, member.context, gateway.name)) === before) continue;
    await gateway.install(before);
    await rt.report('restored', `${gateway.name} on ${member.name}: back on revision ${before}`);
  }
  return { finishedAt: rt.now() };
}

// restore-namespaces: every namespace the upgrade selected gets the labels it had back; the ones whose pods run
// the new revision are restarted onto the old one.
export async function restoreNamespaces(rt: StepRuntime, input: UpgradeStepInput, deps: ActivityDeps): Promise<StepDone> {
  const recorded = deps.inventory?.withSubjectPrefix(UPGRADE_SUBJECTS.namespace('')) ?? [];
  if (recorded.length === 0) rt.note('the upgrade moved no namespace: nothing to put back', 'info');
  for (const seen of recorded) {
    const member = input.members.find((m) => m.name === seen.cluster);
    if (!member) continue;
    const namespace = seen.subject.slice(UPGRADE_SUBJECTS.namespace('').length);
    const labels = { [INJECTION]: seen.detail?.[`label:${INJECTION}`], [REV]: seen.detail?.[`label:${REV}`] };
    const done = await relabelAndRestart(rt, { cluster: member.name, context: member.context, namespace }, labels, labels[REV] ?? input.from, deps);
    if (done) await rt.report('restored', `${done} (as the upgrade found it)`);
  }
  return { finishedAt: rt.now() };
}

// remove-remote-revision: the new revision's remote profile off a remote.
export function removeRemoteRevision(rt: StepRuntime, input: UpgradeStepInput): Promise<StepDone> {
  return removeUnusedNewRevision(rt, input);
}

// remove-new-revision: the new revision's control plane and its istiod route off a primary.
export function removeNewRevision(rt: StepRuntime, input: UpgradeStepInput): Promise<StepDone> {
  return removeUnusedNewRevision(rt, input);
}

async function removeUnusedNewRevision(rt: StepRuntime, input: UpgradeStepInput): Promise<StepDone> {
  const member = memberOf(input);
  const stranded = await podsOnRevision(rt, member, input.to);
  if (stranded.length > 0) {
    throw new StepError(
      `${count(stranded.length, 'pod')} on ${member.name} still ${stranded.length === 1 ? 'runs' : 'run'} revision ${input.to}'s proxy (${stranded.slice(0, 5).join(', ')}); removing it would leave them without a control plane`,
      { hint: 'restart them onto the old revision, then resume' },
    );
  }
  await removeRevision(rt, member, input.to);
  return { finishedAt: rt.now() };
}
