// Each run kind's machine bound to its step activities: the one place that knows which activity fills which
// actor. The driver runs whichever workflow a run's kind names. Heavy (every machine and activity): only the
// driver, the rehearsal, resume's snapshot check and the graphs load it; a kind's light facts are in registry.ts.
import { createActor } from 'xstate';
import { ADOPT_MACHINE_VERSION, adoptMachine, recordMachine } from '../../machines/adopt-machine.js';
import { DRIFT_MACHINE_VERSION, driftMachine } from '../../machines/drift-machine.js';
import { INSTALL_MACHINE_VERSION, installMachine, primaryMachine, remoteMachine } from '../../machines/install-machine.js';
import { LINKS_MACHINE_VERSION, linkCheckMachine, linksMachine } from '../../machines/links-machine.js';
import { joinMachine, leaveMachine, MEMBERSHIP_MACHINE_VERSION } from '../../machines/membership-machine.js';
import { REPAIR_MACHINE_VERSION, repairClusterMachine, repairMachine } from '../../machines/repair-machine.js';
import { ROTATION_MACHINE_VERSION, rotateMachine, rotationMachine } from '../../machines/rotation-machine.js';
import type { RunKind } from '../../machines/steps.js';
import { TRUST_ROTATE_MACHINE_VERSION, trustRotateMachine } from '../../machines/trust-rotate-machine.js';
import type { TrustRotateInput } from '../../machines/trust-rotate-types.js';
import type { RotateInput } from '../../machines/types.js';
import { removalMachine, UNINSTALL_MACHINE_VERSION, uninstallMachine } from '../../machines/uninstall-machine.js';
import { rollbackMachine, UPGRADE_MACHINE_VERSION, upgradeMachine } from '../../machines/upgrade-machine.js';
import { sampleClusterMachine, VERIFY_MACHINE_VERSION, verifyMachine } from '../../machines/verify-machine.js';
import * as adopt from '../activities/adopt.js';
import { checkDrift } from '../activities/drift-check.js';
import * as install from '../activities/install.js';
import * as repair from '../activities/repair.js';
import * as rotation_ from '../activities/rotation.js';
import * as trustRotate from '../activities/trust-rotate.js';
import * as uninstall from '../activities/uninstall.js';
import * as upgrade from '../activities/upgrade.js';
import * as rollback from '../activities/upgrade-rollback.js';
import * as verify from '../activities/verify.js';
import { boundMembers, followUpInput, installInput, subjectOf, upgradeInput, type Workflow } from './workflow.js';

export type { Activity, JournalActions, StepBinder, Workflow } from './workflow.js';

export const WORKFLOWS: Readonly<Record<RunKind, Workflow>> = {
  install: {
    kind: 'install',
    version: INSTALL_MACHINE_VERSION,
    machine: installMachine,
    children: [
      { machine: primaryMachine, spawnedIn: 'install.installing', label: 'each primary (one child machine per primary)' },
      { machine: remoteMachine, spawnedIn: 'install.installing', label: 'each remote (one child machine per remote)' },
    ],
    bind: (step, journal) => {
      const { primary, remote } = boundMembers(step, journal);
      return installMachine.provide({ actors: { preflight: step(install.preflight), primary, remote }, actions: journal });
    },
    input: installInput,
  },
  adopt: {
    kind: 'adopt',
    version: ADOPT_MACHINE_VERSION,
    machine: adoptMachine,
    children: [{ machine: recordMachine, spawnedIn: 'adopt.recording', label: 'each cluster (one child machine per cluster)' }],
    bind: (step, journal) => {
      const record = recordMachine.provide({ actors: { recordExisting: step(adopt.recordExisting) }, actions: journal });
      return adoptMachine.provide({ actors: { record }, actions: journal });
    },
    input: (runId, config) => followUpInput(runId, config),
  },
  verify: {
    kind: 'verify',
    version: VERIFY_MACHINE_VERSION,
    machine: verifyMachine,
    children: [{ machine: sampleClusterMachine, spawnedIn: 'verify.sampling', label: 'each cluster (one child machine per cluster)' }],
    bind: (step, journal) => {
      const sampleCluster = sampleClusterMachine.provide({
        actors: {
          checkRemoteClusters: step(verify.checkRemoteClusters),
          checkInjectorCa: step(verify.checkInjectorCa),
          deploySample: step(verify.deploySample),
          awaitSample: step(verify.awaitSample),
          checkTraffic: step(verify.checkTraffic),
        },
        actions: journal,
      });
      return verifyMachine.provide({ actors: { preflight: step(install.preflight), sampleCluster }, actions: journal });
    },
    input: (runId, config) => followUpInput(runId, config),
  },
  'verify-links': {
    kind: 'verify-links',
    version: LINKS_MACHINE_VERSION,
    machine: linksMachine,
    children: [{ machine: linkCheckMachine, spawnedIn: 'verify-links.checking', label: 'each cluster (one child machine per cluster)' }],
    bind: (step, journal) => {
      const linkCheck = linkCheckMachine.provide({
        actors: { checkRemoteClusters: step(verify.checkRemoteClusters), checkInjectorCa: step(verify.checkInjectorCa) },
        actions: journal,
      });
      return linksMachine.provide({ actors: { preflight: step(install.preflight), linkCheck }, actions: journal });
    },
    input: (runId, config) => followUpInput(runId, config),
  },
  uninstall: {
    kind: 'uninstall',
    version: UNINSTALL_MACHINE_VERSION,
    machine: uninstallMachine,
    children: [{ machine: removalMachine, spawnedIn: 'uninstall.removing', label: 'each cluster (one child machine per cluster)' }],
    bind: (step, journal) => {
      const removal = removalMachine.provide({
        actors: {
          removeSample: step(uninstall.removeSample),
          detachRemote: step(uninstall.detachRemote),
          uninstallRemote: step(uninstall.uninstallRemote),
          uninstallPrimary: step(uninstall.uninstallPrimary),
        },
        actions: journal,
      });
      return uninstallMachine.provide({ actors: { preflight: step(install.preflight), removal }, actions: journal });
    },
    input: (runId, config) => followUpInput(runId, config),
  },
  'cluster-add': {
    kind: 'cluster-add',
    version: MEMBERSHIP_MACHINE_VERSION,
    machine: joinMachine,
    children: [
      { machine: primaryMachine, spawnedIn: 'cluster-add.joining', label: 'a joining primary' },
      { machine: remoteMachine, spawnedIn: 'cluster-add.joining', label: 'a joining remote' },
    ],
    bind: (step, journal) => {
      const { primary, remote } = boundMembers(step, journal);
      return joinMachine.provide({
        actors: {
          preflight: step(install.preflight),
          readDiscoveryAddress: step(install.readDiscoveryAddress),
          receiveSecrets: step(install.receiveSecrets),
          primary,
          remote,
        },
        actions: journal,
      });
    },
    input: (runId, config, gatewayPollMs) => ({ ...installInput(runId, config, gatewayPollMs), subject: subjectOf(config) }),
  },
  'cluster-remove': {
    kind: 'cluster-remove',
    version: MEMBERSHIP_MACHINE_VERSION,
    machine: leaveMachine,
    children: [],
    bind: (step, journal) =>
      leaveMachine.provide({
        actors: {
          preflight: step(install.preflight),
          removeSample: step(uninstall.removeSample),
          detachRemote: step(uninstall.detachRemote),
          releaseSecrets: step(uninstall.releaseSecrets),
          uninstallRemote: step(uninstall.uninstallRemote),
          uninstallPrimary: step(uninstall.uninstallPrimary),
        },
        actions: journal,
      }),
    input: (runId, config) => ({ ...followUpInput(runId, config), subject: subjectOf(config) }),
  },
  'secrets-rotate': {
    kind: 'secrets-rotate',
    version: ROTATION_MACHINE_VERSION,
    machine: rotateMachine,
    children: [{ machine: rotationMachine, spawnedIn: 'secrets-rotate.rotating', label: 'each cluster whose secret primaries hold' }],
    bind: (step, journal) => {
      const rotation = rotationMachine.provide({
        actors: {
          mintToken: step(rotation_.mintToken),
          swapSecret: step(rotation_.swapSecret),
          awaitSynced: step(rotation_.awaitSynced),
          revokeToken: step(rotation_.revokeToken),
        },
        actions: journal,
      });
      return rotateMachine.provide({ actors: { preflight: step(install.preflight), rotation }, actions: journal });
    },
    input: (runId, config): RotateInput => ({
      ...followUpInput(runId, config),
      ...(config.subject ? { subject: config.subject } : {}),
      syncTimeoutMs: config.verify.timeoutMs,
    }),
  },
  upgrade: {
    kind: 'upgrade',
    version: UPGRADE_MACHINE_VERSION,
    machine: upgradeMachine,
    children: [],
    bind: (step, journal) =>
      upgradeMachine.provide({
        actors: {
          preflight: step(install.preflight),
          precheckUpgrade: step(upgrade.precheckUpgrade),
          installRevision: step(upgrade.installRevision),
          exposeIstiodRevision: step(upgrade.exposeIstiodRevision),
          installRemoteRevision: step(upgrade.installRemoteRevision),
          awaitRevisionSynced: step(upgrade.awaitRevisionSynced),
          selectNamespaces: step(upgrade.selectNamespaces),
          moveWave: step(upgrade.moveWave),
          awaitWave: step(upgrade.awaitWave),
          upgradeGateway: step(upgrade.upgradeGateway),
          flipTag: step(upgrade.flipTag),
          removeOldRevision: step(upgrade.removeOldRevision),
        },
        actions: journal,
      }),
    input: upgradeInput,
  },
  'upgrade-rollback': {
    kind: 'upgrade-rollback',
    version: UPGRADE_MACHINE_VERSION,
    machine: rollbackMachine,
    children: [],
    bind: (step, journal) =>
      rollbackMachine.provide({
        actors: {
          preflight: step(install.preflight),
          restoreTag: step(rollback.restoreTag),
          restoreGateway: step(rollback.restoreGateway),
          restoreNamespaces: step(rollback.restoreNamespaces),
          removeRemoteRevision: step(rollback.removeRemoteRevision),
          removeNewRevision: step(rollback.removeNewRevision),
        },
        actions: journal,
      }),
    input: upgradeInput,
  },
  repair: {
    kind: 'repair',
    version: REPAIR_MACHINE_VERSION,
    machine: repairMachine,
    children: [
      { machine: repairClusterMachine, spawnedIn: 'repair.repairing', label: 'each cluster with drift to repair' },
      { machine: linkCheckMachine, spawnedIn: 'repair.checking', label: 'each cluster (one child machine per cluster)' },
    ],
    bind: (step, journal) => {
      const repairCluster = repairClusterMachine.provide({
        actors: {
          repairLabel: step(repair.repairLabel),
          removeStaleSecrets: step(repair.removeStaleSecrets),
          repairTrust: step(repair.repairTrust),
          repairControlPlane: step(repair.repairControlPlane),
          repairAnnotation: step(repair.repairAnnotation),
          repairRemote: step(repair.repairRemote),
          repairGateway: step(repair.repairGateway),
          repairExpose: step(repair.repairExpose),
          repairSecret: step(repair.repairSecret),
          repairTag: step(repair.repairTag),
        },
        actions: journal,
      });
      const linkCheck = linkCheckMachine.provide({
        actors: { checkRemoteClusters: step(verify.checkRemoteClusters), checkInjectorCa: step(verify.checkInjectorCa) },
        actions: journal,
      });
      return repairMachine.provide({ actors: { preflight: step(install.preflight), repairCluster, linkCheck }, actions: journal });
    },
    input: (runId, config) => ({ ...followUpInput(runId, config), meshID: config.meshID, repairs: config.repair ?? [] }),
  },
  drift: {
    kind: 'drift',
    version: DRIFT_MACHINE_VERSION,
    machine: driftMachine,
    children: [],
    bind: (step, journal) => driftMachine.provide({ actors: { checkDrift: step(checkDrift) }, actions: journal }),
    input: (runId, config) => followUpInput(runId, config),
  },
  'trust-rotate': {
    kind: 'trust-rotate',
    version: TRUST_ROTATE_MACHINE_VERSION,
    machine: trustRotateMachine,
    children: [],
    bind: (step, journal) =>
      trustRotateMachine.provide({
        actors: {
          preflight: step(install.preflight),
          mintIntermediate: step(trustRotate.mintIntermediate),
          plugIntermediate: step(trustRotate.plugIntermediate),
          loadIntermediate: step(trustRotate.loadIntermediate),
          awaitIstiodChain: step(trustRotate.awaitIstiodChain),
        },
        actions: journal,
      }),
    input: (runId, config): TrustRotateInput => ({ ...followUpInput(runId, config), gateTimeoutMs: config.verify.timeoutMs }),
  },
};

export function workflowOf(kind: string): Workflow {
  const found = (WORKFLOWS as Record<string, Workflow | undefined>)[kind];
  if (!found) throw new Error(`unknown run kind "${kind}"`);
  return found;
}

// Whether a persisted snapshot restores into this kind's machine (without starting anything).
export function restorable(kind: RunKind, snapshot: unknown): boolean {
  if (typeof snapshot !== 'object' || snapshot === null) return false;
  const { status, value } = snapshot as { status?: unknown; value?: unknown };
  if (typeof status !== 'string' || value === undefined || value === null) return false;
  try {
    const actor = createActor(WORKFLOWS[kind].machine, { snapshot: snapshot as never });
    return actor.getSnapshot().status === status;
  } catch {
    return false;
  }
}
