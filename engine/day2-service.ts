// The operations behind the day-2 verbs, each a resumable run of its own on a mesh of the journal: a cluster
// joins (cluster add) or leaves (cluster remove), or the remote secrets' tokens are rotated (secrets rotate).
// Everything is checked before anything is written: the mesh, the cluster, whether the mesh's shape allows
// the change; a dry-run mesh changes only its simulated world.

import { ALL_CLUSTERS, slotLabel } from '../machines/steps.js';
import { joinProblems, leaveProblems, secretHoldersOf } from '../machines/topology.js';
import { InternalError, PreconditionError, UsageError } from '../shared/errors.js';
import type { MeshConfig, RunMode } from '../shared/model.js';
import type { RunRecord, Store } from '../store/contract.js';
import { AnswerBook } from './activities/answer-book.js';
import { checkEnvironment, checkOwnership } from './activities/environment-check.js';
import { precheck } from './activities/precheck.js';
import { faultSeed, growWorld, newWorldSeed, openStore, realTools, type StoreLocation, toolsFor, worldSettings } from './composition.js';
import { parseFaultSpec } from './config/fault-specs.js';
import { type JoiningCluster, withClusterAdded } from './config/mesh-config.js';
import { meshTopology, shapeOf } from './config/mesh-shape.js';
import { adoptedObjects } from './follow-up-deps.js';
import { kindOf } from './kinds/registry.js';
import { workflowOf } from './kinds/workflows.js';
import { needsOwnTrust, type RehearsalTrust, removeRehearsalTrust, throwawayTrust, withRehearsalTrust } from './rehearsal-trust.js';
import { listMeshes } from './run-queries.js';
import { claimNewRun, FORCED_UNINSTALL, type PreparedRun, preparedNewRun } from './run-service.js';
import type { ProgressListener } from './runtime/progress-events.js';
import { driveUnrecorded } from './runtime/rehearsal.js';
import { newRunId } from './runtime/run-ids.js';
import { findMesh, type MeshRecord } from './views/mesh-records.js';
import { removalSummary } from './views/removal-summary.js';
import { membershipConfig } from './views/run-config.js';

export interface ClusterAddRequest {
  meshRef: string;
  cluster: JoiningCluster;
  // A real mesh: rehearse on a simulated copy of it instead.
  dryRun?: boolean;
  injections: string[];
  store: StoreLocation;
}

export interface SecretsRotateRequest {
  meshRef: string;
  // A real mesh: rehearse on a simulated copy of it instead.
  dryRun?: boolean;
  // Only this cluster's secret (absent: every cluster's).
  cluster?: string;
  // Do not wait for istiod to report synced before revoking (where no istiod can be asked); journaled.
  skipSyncGate: boolean;
  injections: string[];
  store: StoreLocation;
}

export interface ClusterRemoveRequest {
  meshRef: string;
  name: string;
  // A real mesh: rehearse on a simulated copy of it instead.
  dryRun?: boolean;
  injections: string[];
  // Remove its Istio even where mesh-run did not install it.
  force: boolean;
  store: StoreLocation;
  // A real cluster remove asks before it deletes anything (absent: no question).
  confirm?: (summary: string[]) => Promise<boolean>;
}

// The config of a cluster add: the mesh grown by `joining` (checked as a config file is), naming it. Refused
// (exit 2) when the clusters already there would have to change for it.
export function joinedConfig(config: MeshConfig, joining: JoiningCluster, meshName = config.meshID): MeshConfig {
  const grown: MeshConfig = { ...withClusterAdded(config, joining), subject: joining.name };
  const member = shapeOf(grown).members.find((m) => m.name === joining.name);
  const problems = member ? joinProblems(shapeOf(config), member) : [];
  if (problems.length > 0) throw new UsageError(`cluster add ${joining.name} to mesh ${meshName}: ${problems.join('; ')}`);
  return grown;
}

// The config of a cluster remove: the mesh as it stands, naming the cluster leaving. Refused when it is not a
// member (exit 2), or when the mesh needs it (exit 3: its last primary, a primary serving remotes).
export function leavingConfig(config: MeshConfig, name: string, meshName = config.meshID): MeshConfig {
  if (!config.clusters.some((c) => c.name === name)) {
    throw new UsageError(`--name ${name}: mesh ${meshName} has no such cluster; its clusters are ${config.clusters.map((c) => c.name).join(', ')}`);
  }
  const problems = leaveProblems(shapeOf(config), name);
  if (problems.length > 0) throw new PreconditionError('cluster-needed', `cluster remove ${name}: ${problems.join('; ')}`);
  return { ...config, subject: name };
}

// The membership of a mesh of the journal, as plan cluster-add and cluster-remove start from it.
export async function meshConfigOf(meshRef: string, location: StoreLocation): Promise<MeshConfig> {
  const store = await openStore(location, 'read-only');
  try {
    return (await installedMesh(store, meshRef, 'plan a change of')).config;
  } finally {
    await store.close();
  }
}

// A real cluster add runs install's precheck on the grown mesh first: a problem of the joining cluster (an
// Istio someone else installed, a loopback server, a plugin credential, no load balancer where it needs one)
// or of the whole mesh refuses it (exit 3); what it finds on the clusters already there is a warning (they
// run mesh-run's Istio, as they should).
async function precheckJoining(grown: MeshConfig, joining: string, book: AnswerBook): Promise<string[]> {
  const { findings } = await precheck(grown, await realTools(grown), book);
  const blocking = findings.filter((f) => f.level === 'problem' && (f.cluster === undefined || f.cluster === joining));
  if (blocking.length > 0) {
    const hint =
      blocking.length > 1
        ? `${blocking.length} problems, one per line: fix them, then run again ("mesh-run precheck" gives a hint for each)`
        : blocking[0]?.hint;
    throw new PreconditionError('preflight', blocking.map((p) => `${p.cluster ? `${p.cluster}: ` : ''}${p.message}`).join('\n'), hint ? { hint } : {});
  }
  // The members' own Istio is the mesh's (mesh-run's, or one it adopted): no news for a cluster joining it.
  return findings
    .filter((f) => !blocking.includes(f) && !(f.check === 'existing-istio' && f.cluster !== joining))
    .map((f) => `${f.cluster ? `${f.cluster}: ` : ''}${f.message}`);
}

// The mesh named, installed, and the run its membership comes from.
export async function installedMesh(store: Store, ref: string, verb: string): Promise<{ mesh: MeshRecord; run: RunRecord; config: MeshConfig }> {
  const mesh = findMesh(await listMeshes(store.runs), ref);
  if (mesh.state !== 'installed') {
    throw new PreconditionError(
      'mesh-not-installed',
      `mesh ${mesh.name} is ${mesh.state === 'removed' ? 'uninstalled' : 'not installed yet (no install of it succeeded)'}: there is nothing to ${verb}`,
      {
        hint: mesh.state === 'removed' ? 'install it again first' : `finish its install first ("mesh-run resume ${mesh.install}")`,
      },
    );
  }
  const run = await store.runs.getRun(mesh.install);
  if (!run) throw new PreconditionError('mesh-not-installed', `run ${mesh.install} of mesh ${mesh.name} is missing from the journal`);
  return { mesh, run, config: membershipConfig(run) };
}

// Where a day-2 run acts: the real clusters of a real mesh, the simulated world of a dry-run mesh, or (--dry-run
// on a real mesh) a simulated copy of it made for the run.
export interface Target {
  mode: RunMode;
  // The simulated world (dry runs).
  world?: string;
  // A copy made for this run: its world is new, and the run says so.
  rehearsal?: boolean;
  // The copy's own CA (a scratch directory): the run uses it too, and its close removes it.
  trust?: RehearsalTrust;
}

export function targetOf(base: RunRecord): Target {
  return base.mode === 'dry-run' ? { mode: 'dry-run', world: base.simWorld } : { mode: 'real' };
}

// --dry-run on a real mesh: a new simulated world holding the mesh as its journal records it (its membership
// installed there by a run journaled nowhere). The real clusters are not asked anything, and the real trust
// directory is not written: a mesh whose CA mesh-run keeps in one (or, ownRoot, any mesh) gets a throwaway CA.
export async function rehearsalOf(store: Store, mesh: MeshConfig, clusters: MeshConfig['clusters'], options: { ownRoot?: boolean } = {}): Promise<Target> {
  const own = options.ownRoot || needsOwnTrust(mesh.trust) ? throwawayTrust() : undefined;
  // The world holds `clusters` (a joining one too); the copy's install, the mesh as it stands.
  const copy = withRehearsalTrust(mesh, own);
  try {
    const world = newRunId();
    const seed = newWorldSeed(world, { ...copy, clusters }, { loadBalancerDelayMs: 0 }, [], Date.now());
    if (!seed.world) throw new InternalError('a new simulated world without settings');
    await store.worlds.putWorld(world, seed.world.settingsJson);
    const scratch = await openStore({ kind: 'sqlite', path: ':memory:' }, 'create');
    try {
      await driveUnrecorded(scratch, `rehearsal-${world}`, 'install', copy, await toolsFor('dry-run', copy, store, world), world);
    } finally {
      await scratch.close();
    }
    return { mode: 'dry-run', world, rehearsal: true, ...(own ? { trust: own } : {}) };
  } catch (error) {
    removeRehearsalTrust(own);
    throw error;
  }
}

// Where the request asks the run to act (a rehearsal copy is made only once the request has passed its checks).
export function wantsRehearsal(base: RunRecord, dryRun: boolean | undefined): boolean {
  return Boolean(dryRun) && base.mode === 'real';
}

// The run of a day-2 change, recorded with its claim on the mesh's clusters (or its world), ready to begin.
export async function startChange(
  store: Store,
  base: RunRecord,
  target: Target,
  kind: Day2Kind,
  config: MeshConfig,
  faults: ReturnType<typeof parseFaultSpec>[],
  listener: ProgressListener | undefined,
  events: Array<{ type: string; detail: string }> = [],
  answers?: AnswerBook,
): Promise<PreparedRun> {
  try {
    const ready = await claimChange(store, base, target, kind, withRehearsalTrust(config, target.trust), faults, listener, events, answers);
    // The throwaway CA goes with the run's session (a rehearsal is made again, never resumed for its keys).
    return target.trust ? { ...ready, close: () => ready.close().finally(() => removeRehearsalTrust(target.trust)) } : ready;
  } catch (error) {
    removeRehearsalTrust(target.trust);
    throw error;
  }
}

async function claimChange(...[store, base, target, kind, config, faults, listener, events = [], answers]: Parameters<typeof startChange>) {
  const runId = newRunId();
  const world = target.world ?? runId;
  const now = Date.now();
  const rehearsed = target.rehearsal
    ? [{ type: 'rehearsal', detail: `--dry-run: on a simulated copy of real mesh ${config.meshID} as run ${base.id} left it; no real cluster is touched` }]
    : [];
  if (target.trust)
    rehearsed.push({
      type: 'rehearsal-trust',
      detail: `the copy's CA is a throwaway root in ${target.trust.dir}, never the real one; removed when the run ends`,
    });
  const claimed = await claimNewRun(
    store,
    {
      id: runId,
      kind,
      topology: meshTopology(config),
      mode: target.mode,
      config,
      configHash: base.configHash,
      configPath: null,
      createdAt: now,
      machineVersion: workflowOf(kind).version,
      targetRun: base.id,
      simWorld: target.mode === 'dry-run' ? world : null,
      ...(events.length + rehearsed.length > 0 ? { events: [...rehearsed, ...events] } : {}),
    },
    world,
    target.mode === 'dry-run' ? faultSeed(world, faults) : undefined,
  );
  return preparedNewRun(store, claimed, config, world, { ...(listener ? { listener } : {}), ...(answers ? { answers } : {}) });
}

export type Day2Kind = 'cluster-add' | 'cluster-remove' | 'secrets-rotate' | 'upgrade' | 'upgrade-rollback' | 'repair' | 'trust-rotate';

export function faultsFor(injections: readonly string[], config: MeshConfig, kind: Day2Kind, mode: RunMode) {
  const faults = injections.map((spec) => parseFaultSpec(spec, config, kind));
  if (mode === 'real' && faults.length > 0)
    throw new UsageError(
      '--inject-failure only applies to simulated clusters; this mesh was installed on real ones (add --dry-run to rehearse on a simulated copy)',
    );
  return faults;
}

// cluster add: checks the joining cluster against the mesh, then records the run (its config: the grown mesh).
export async function prepareClusterAdd(request: ClusterAddRequest, listener?: ProgressListener): Promise<PreparedRun> {
  const store = await openStore(request.store, 'existing');
  try {
    const { mesh, run: base, config } = await installedMesh(store, request.meshRef, 'add a cluster to');
    const grown = joinedConfig(config, request.cluster, mesh.name);
    const rehearse = wantsRehearsal(base, request.dryRun);
    if (!rehearse) await refuseUnfinished(store, mesh, 'revisions');
    const faults = faultsFor(request.injections, grown, 'cluster-add', rehearse ? 'dry-run' : base.mode);
    let target = targetOf(base);
    let warnings: string[] = [];
    // The precheck's answers serve the run's preflight step (no check asked twice).
    const answers = new AnswerBook();
    if (rehearse) target = await rehearsalOf(store, config, grown.clusters);
    else if (base.mode === 'real') warnings = await precheckJoining(grown, request.cluster.name, answers);
    else {
      const world = await worldSettings(store, base.simWorld);
      if (!world) throw new PreconditionError('sim-missing', `the simulated clusters of mesh ${mesh.name} are missing from the database`);
      await growWorld(store, base.simWorld, world, grown.clusters);
    }
    const started = await startChange(store, base, target, 'cluster-add', grown, faults, listener, [], answers);
    return warnings.length > 0 ? { ...started, warnings } : started;
  } catch (error) {
    await store.close();
    throw error;
  }
}

// cluster remove: refuses what would strand the mesh (its last primary, a primary that serves remotes), then
// records the run (its config: the mesh as it stands, naming the cluster leaving).
export async function prepareClusterRemove(request: ClusterRemoveRequest, listener?: ProgressListener): Promise<PreparedRun> {
  const store = await openStore(request.store, 'existing');
  try {
    const { mesh, run: base, config } = await installedMesh(store, request.meshRef, 'remove a cluster from');
    const current = leavingConfig(config, request.name, mesh.name);
    const leaving = current.clusters.find((c) => c.name === request.name) as MeshConfig['clusters'][number];
    const rehearse = wantsRehearsal(base, request.dryRun);
    if (!rehearse) await refuseUnfinished(store, mesh, 'revisions');
    const faults = faultsFor(request.injections, current, 'cluster-remove', rehearse ? 'dry-run' : base.mode);
    const target = rehearse ? await rehearsalOf(store, config, config.clusters) : targetOf(base);
    const alone = { ...current, clusters: [leaving] };
    const tools = await toolsFor(target.mode, current, store, target.world ?? '');
    if (target.mode === 'real') await checkEnvironment(current, await realTools(current), false);
    if (!request.force) await refuseAdoptedCluster(store, base, request.name);
    if (!request.force) await checkOwnership(alone, tools);
    if (target.mode === 'real' && request.confirm && !(await request.confirm(removalSummary(current, request.force, 'cluster-remove')))) {
      throw new UsageError('cluster remove not confirmed: nothing was changed');
    }
    const forced = request.force
      ? [{ type: 'forced', detail: `${FORCED_UNINSTALL}: the ownership check of ${request.name} was skipped, and what existed before mesh-run is removed too` }]
      : [];
    return await startChange(store, base, target, 'cluster-remove', current, faults, listener, forced);
  } catch (error) {
    await store.close();
    throw error;
  }
}

// A cluster an adoption found is not mesh-run's to empty: refused (exit 3), naming what --force deletes.
async function refuseAdoptedCluster(store: Store, base: RunRecord, name: string): Promise<void> {
  const adopted = await adoptedObjects(store.runs, base);
  const found = adopted.clusters.find((c) => c.cluster === name);
  if (!adopted.adoption || !found) return;
  throw new PreconditionError(
    'mesh-adopted',
    `cluster ${name} was adopted with its Istio (run ${adopted.adoption}), which mesh-run did not install: cluster remove would delete ${found.objects.join(', ') || 'it'}`,
    { hint: 'cluster remove --force removes it, naming each object as it deletes it' },
  );
}

// " at <step>@<cluster>", where a run that stopped says it stopped ('' when it names no step).
function stoppedAt(run: RunRecord): string {
  return run.error?.step ? ` at ${slotLabel(run.error.step, run.error.cluster || ALL_CLUSTERS)}` : '';
}

// What an unfinished run holds, and what ends the hold. An upgrade or rollback that is not over holds the mesh
// between two revisions (another upgrade, a cluster joining or leaving, or new tokens would act on one of them
// only); one that succeeded since leaves it on one revision. A rotation that is not over may have swapped new
// tokens in and not yet revoked the old ones, which only it knows: a later rotation does not revoke those.
const HOLDS = {
  revisions: { code: 'upgrade-unfinished', endedBySuccess: true },
  tokens: { code: 'rotation-unfinished', endedBySuccess: false },
  certificates: { code: 'rotation-unfinished', endedBySuccess: false },
} as const;

// Refuses (exit 3, naming it) a change while a run of this mesh that holds `holds` is not over, also when it is
// still recorded as running (its process may have been killed). A rehearsal on a simulated copy of a real mesh
// changed nothing and does not count.
export async function refuseUnfinished(store: Store, mesh: MeshRecord, holds: keyof typeof HOLDS): Promise<void> {
  const rule = HOLDS[holds];
  for (const { id, kind, status } of [...mesh.runs].reverse()) {
    const blocking = kindOf(kind).blocking;
    if (blocking?.holds !== holds) continue;
    const unfinished = status === 'failed' || status === 'interrupted' || status === 'running';
    if (!unfinished && !(rule.endedBySuccess && status === 'succeeded')) continue;
    const run = await store.runs.getRun(id);
    if (run?.mode !== mesh.mode) continue;
    if (!unfinished) return;
    const finish = blocking.way(id, run.error?.step);
    throw new PreconditionError(
      rule.code,
      `${blocking.noun} run ${id} of mesh ${mesh.name} ${status === 'running' ? 'is running' : status}${stoppedAt(run)}: ${blocking.why}`,
      { hint: status === 'running' ? `wait for it to end; if its process was killed, ${finish}` : finish },
    );
  }
}

// The config of a secrets rotate: the mesh as it stands, naming the one cluster whose secret is rotated when
// --cluster asks for one (refused, exit 2, when no primary holds that cluster's secret).
export function rotationConfig(config: MeshConfig, cluster: string | undefined, meshName: string): MeshConfig {
  if (cluster === undefined) return config;
  const shape = shapeOf(config);
  const held = shape.members.filter((m) => secretHoldersOf(shape, m.name).length > 0).map((m) => m.name);
  if (!held.includes(cluster))
    throw new UsageError(
      `--cluster ${cluster}: ${config.clusters.some((c) => c.name === cluster) ? `no primary of mesh ${meshName} holds its secret` : `mesh ${meshName} has no such cluster`}; the clusters whose secrets can be rotated are ${held.join(', ') || 'none'}`,
    );
  return { ...config, subject: cluster };
}

// secrets rotate: every remote secret of the mesh (or one cluster's) gets a new token; the run's config is
// the mesh as it stands, naming the cluster when one is asked for.
export async function prepareSecretsRotate(request: SecretsRotateRequest, listener?: ProgressListener): Promise<PreparedRun> {
  const store = await openStore(request.store, 'existing');
  try {
    const { mesh, run: base, config } = await installedMesh(store, request.meshRef, 'rotate secrets of');
    const rotated: MeshConfig = {
      ...rotationConfig(config, request.cluster, mesh.name),
      ...(request.skipSyncGate ? { skipSyncGate: true } : {}),
    };
    const rehearse = wantsRehearsal(base, request.dryRun);
    if (!rehearse) {
      await refuseUnfinished(store, mesh, 'revisions');
      await refuseUnfinished(store, mesh, 'tokens');
    }
    const faults = faultsFor(request.injections, rotated, 'secrets-rotate', rehearse ? 'dry-run' : base.mode);
    const target = rehearse ? await rehearsalOf(store, config, config.clusters) : targetOf(base);
    if (target.mode === 'real') await checkEnvironment(rotated, await realTools(rotated), false);
    const events = request.skipSyncGate
      ? [{ type: 'forced', detail: '--skip-sync-gate: old tokens are revoked without istiod reporting the clusters synced with the new ones' }]
      : [];
    return await startChange(store, base, target, 'secrets-rotate', rotated, faults, listener, events);
  } catch (error) {
    await store.close();
    throw error;
  }
}
