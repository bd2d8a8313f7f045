// The operations behind `mesh-run upgrade` and `upgrade rollback`: each a resumable run of its own on a mesh of
// the journal. Every check runs before anything is recorded or changed: the revision names, the options, the
// mesh's state (installed, no upgrade or rollback left unfinished; its revision named or Istio's default), and
// for a rollback whether the old revision is still there to go back to.

import { existsSync, statSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { PreconditionError, UsageError } from '../shared/errors.js';
import type { MeshConfig, UpgradeSpec } from '../shared/model.js';
import { configuredRevision, revisionName } from '../shared/revisions.js';
import { withArticle } from '../shared/words.js';
import type { RunRecord, Store } from '../store/contract.js';
import { checkEnvironment } from './activities/environment-check.js';
import { derivedNames } from './activities/manifests.js';
import { openStore, realTools, type StoreLocation } from './composition.js';
import { faultsFor, installedMesh, refuseUnfinished, rehearsalOf, startChange, targetOf, wantsRehearsal } from './day2-service.js';
import { KINDS } from './kinds/registry.js';
import { upgradeRollbackKind } from './kinds/upgrade-rollback.js';
import type { PreparedRun } from './run-service.js';
import type { ProgressListener } from './runtime/progress-events.js';
import { membershipConfig, runConfig } from './views/run-config.js';
import { findRun } from './views/run-lookup.js';

const REVISION = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
// One term of a label selector: key, !key, key=value, key==value, key!=value.
const SELECTOR_TERM = /^(!?[A-Za-z0-9]([\w.-]*[A-Za-z0-9])?(\/[A-Za-z0-9]([\w.-]*[A-Za-z0-9])?)?)((==?|!=)[A-Za-z0-9]?([\w.-]*[A-Za-z0-9])?)?$/;
export const DEFAULT_WAVE_SIZE = 5;
export const DEFAULT_GATE_TIMEOUT_MS = 5 * 60_000;

export interface UpgradeRequest {
  meshRef: string;
  revision: string;
  // The istioctl of the new version (absent: the one the mesh was installed with).
  istioctl?: string;
  namespaces?: string;
  waveSize: number;
  gateTimeoutMs: number;
  keepOld: boolean;
  skipProxyGate: boolean;
  // A real mesh: rehearse on a simulated copy of it instead.
  dryRun?: boolean;
  injections: string[];
  store: StoreLocation;
}

export interface RollbackRequest {
  runRef: string;
  injections: string[];
  store: StoreLocation;
}

// --revision: a name Kubernetes accepts in every object derived from it, and a new one.
export function checkNewRevision(revision: string, from: string | undefined): void {
  if (revision.length > 63 || !REVISION.test(revision)) {
    throw new UsageError(`--revision "${revision}" is not a revision name; use lowercase letters, digits and '-' (no '.': write 1.31.0 as 1-31-0)`);
  }
  if (revision === 'default') throw new UsageError('--revision default: "default" is the unrevisioned control plane; name the new revision, e.g. 1-31-0');
  if (revision === from) throw new UsageError(`--revision ${revision}: the mesh already runs revision ${revision}; name the revision to upgrade to`);
  const tooLong = derivedNames(revision).find((n) => n.name.length > n.limit);
  if (tooLong)
    throw new UsageError(
      `--revision ${revision} makes ${tooLong.what} ${tooLong.name.length} characters, over Kubernetes' limit of ${tooLong.limit}; use a shorter revision`,
    );
}

export function checkSelector(selector: string): void {
  const terms = selector.split(',');
  if (selector.trim() === '' || !terms.every((t) => SELECTOR_TERM.test(t.trim()))) {
    throw new UsageError(`--namespaces "${selector}" is not a label selector; use terms like team=payments or istio.io/rev=1-30-0, separated by commas`);
  }
}

function checkOptions(request: UpgradeRequest): void {
  if (request.namespaces !== undefined) checkSelector(request.namespaces);
  if (!Number.isInteger(request.waveSize) || request.waveSize < 1 || request.waveSize > 1000)
    throw new UsageError(`--wave-size ${request.waveSize}: use a whole number of namespaces per wave from 1 to 1000`);
  if (request.istioctl !== undefined) {
    const path = resolvePath(request.istioctl);
    if (!existsSync(path) || !statSync(path).isFile())
      throw new UsageError(`--istioctl ${request.istioctl}: no such file; give the path of the new version's istioctl`);
  }
}

// The config of a planned upgrade (or of the rollback of such an upgrade) of a mesh: checked as the verb checks it.
export function plannedUpgradeConfig(
  base: MeshConfig,
  kind: 'upgrade' | 'upgrade-rollback',
  request: Pick<UpgradeRequest, 'revision' | 'namespaces' | 'waveSize' | 'keepOld'>,
): MeshConfig {
  checkNewRevision(request.revision, base.revision);
  checkOptions({ ...request, gateTimeoutMs: DEFAULT_GATE_TIMEOUT_MS } as UpgradeRequest);
  const spec: UpgradeSpec = {
    from: revisionName(base.revision),
    to: request.revision,
    ...(request.namespaces !== undefined ? { namespaces: request.namespaces } : {}),
    waveSize: request.waveSize,
    gateTimeoutMs: DEFAULT_GATE_TIMEOUT_MS,
    keepOld: request.keepOld,
    skipProxyGate: false,
  };
  return KINDS[kind].reverses ? { ...base, upgrade: { ...spec, rollbackOf: 'the upgrade' } } : { ...base, revision: request.revision, upgrade: spec };
}

// upgrade: the mesh as it stands moving to a new revision; the run's config names both revisions.
export async function prepareUpgrade(request: UpgradeRequest, listener?: ProgressListener): Promise<PreparedRun> {
  const store = await openStore(request.store, 'existing');
  try {
    const { mesh, run: base, config } = await installedMesh(store, request.meshRef, 'upgrade');
    checkNewRevision(request.revision, config.revision);
    checkOptions(request);
    // A mesh on Istio's default (unrevisioned) control plane moves to a named revision like any other: its old
    // revision is `default` (Istio's canary page allows exactly this move).
    const spec: UpgradeSpec = {
      from: revisionName(config.revision),
      to: request.revision,
      ...(request.namespaces !== undefined ? { namespaces: request.namespaces } : {}),
      waveSize: request.waveSize,
      gateTimeoutMs: request.gateTimeoutMs,
      keepOld: request.keepOld,
      skipProxyGate: request.skipProxyGate,
    };
    const upgraded: MeshConfig = {
      ...config,
      revision: request.revision,
      tools: { ...config.tools, ...(request.istioctl !== undefined ? { istioctl: resolvePath(request.istioctl) } : {}) },
      upgrade: spec,
    };
    const rehearse = wantsRehearsal(base, request.dryRun);
    if (!rehearse) await refuseUnfinished(store, mesh, 'revisions');
    const faults = faultsFor(request.injections, upgraded, 'upgrade', rehearse ? 'dry-run' : base.mode);
    const target = rehearse ? await rehearsalOf(store, config, config.clusters) : targetOf(base);
    if (target.mode === 'real') await checkEnvironment(upgraded, await realTools(upgraded), false);
    const events = request.skipProxyGate
      ? [{ type: 'forced', detail: '--skip-proxy-gate: the waves go on without checking that their proxies connect to the new revision' }]
      : [];
    return await startChange(store, base, target, 'upgrade', upgraded, faults, listener, events);
  } catch (error) {
    await store.close();
    throw error;
  }
}

// The upgrade a rollback reverses, and why it cannot be rolled back when it cannot.
async function rollbackTarget(store: Store, runRef: string): Promise<{ upgrade: RunRecord; base: RunRecord }> {
  const upgrade = await findRun(store.runs, runRef);
  if (upgrade.kind !== upgradeRollbackKind.reverses)
    throw new UsageError(`run ${upgrade.id} is ${withArticle(upgrade.kind)}; upgrade rollback takes the id of an upgrade run`);
  const spec = runConfig(upgrade).upgrade;
  if (!spec) throw new UsageError(`run ${upgrade.id} has no recorded upgrade`);
  const removal = (await store.runs.listAttempts(upgrade.id)).find((a) => a.step === 'remove-old-revision');
  if (removal) {
    throw new PreconditionError(
      'old-revision-removed',
      `upgrade ${upgrade.id} began removing revision ${spec.from} (remove-old-revision@${removal.cluster}): there is no old control plane left to go back to`,
      {
        hint: `to go back to the old version, upgrade again: mesh-run upgrade --mesh ${runConfig(upgrade).meshID} --revision <new-name> --istioctl <the old istioctl>`,
      },
    );
  }
  for (const other of await store.runs.listRunsTargeting(upgrade.id)) {
    if (other.kind !== upgradeRollbackKind.kind) continue;
    if (other.status === 'succeeded') throw new PreconditionError('rolled-back', `upgrade ${upgrade.id} was rolled back already, by run ${other.id}`);
    if (other.status === 'failed' || other.status === 'interrupted')
      throw new PreconditionError('rollback-unfinished', `rollback run ${other.id} of upgrade ${upgrade.id} ${other.status}`, {
        hint: `finish it: mesh-run resume ${other.id}`,
      });
  }
  const base = upgrade.targetRun ? await store.runs.getRun(upgrade.targetRun) : undefined;
  if (!base) throw new PreconditionError('mesh-not-installed', `the mesh run upgrade ${upgrade.id} started from is missing from the journal`);
  return { upgrade, base };
}

// upgrade rollback <run>: the mesh back on the old revision; its config is the mesh as the upgrade found it
// (its tools too: the old gateway comes back from the old istioctl).
export async function prepareRollback(request: RollbackRequest, listener?: ProgressListener): Promise<PreparedRun> {
  const store = await openStore(request.store, 'existing');
  try {
    const { upgrade, base } = await rollbackTarget(store, request.runRef);
    const spec = runConfig(upgrade).upgrade as UpgradeSpec;
    // The old revision as a config says it: none for Istio's default one.
    const { revision: _recorded, ...mesh } = membershipConfig(base);
    const config: MeshConfig = { ...mesh, ...configuredRevision(spec.from), upgrade: { ...spec, rollbackOf: upgrade.id } };
    const target = upgrade.mode === 'dry-run' ? { mode: 'dry-run' as const, world: upgrade.simWorld } : { mode: 'real' as const };
    const faults = faultsFor(request.injections, config, 'upgrade-rollback', target.mode);
    if (target.mode === 'real') await checkEnvironment(config, await realTools(config), false);
    return await startChange(store, upgrade, target, 'upgrade-rollback', config, faults, listener);
  } catch (error) {
    await store.close();
    throw error;
  }
}
