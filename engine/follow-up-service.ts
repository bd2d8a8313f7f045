// verify (and verify-links, its links alone) and uninstall: the install they act on (named, or found by the
// config's clusters), checked before the run is recorded.

import { resolve as resolvePath } from 'node:path';
import { slotLabel } from '../machines/steps.js';
import { PreconditionError, UsageError } from '../shared/errors.js';
import type { MeshConfig, RunMode } from '../shared/model.js';
import type { RunRecord, RunStore, Store } from '../store/contract.js';
import { checkEnvironment, checkOwnership } from './activities/environment-check.js';
import { sampleManifest } from './activities/sample-manifests.js';
import { type FaultSpec, faultSeed, newWorldSeed, openStore, realTools, type StoreLocation, storeExists, toolsFor } from './composition.js';
import { parseFaultSpec } from './config/fault-specs.js';
import { type LoadedConfig, loadConfig } from './config/mesh-config.js';
import { meshTopology } from './config/mesh-shape.js';
import { applyOverrides, type ConfigOverrides, hasOverrides } from './config/overrides.js';
import { adoptedObjects, FORCED_UNINSTALL } from './follow-up-deps.js';
import { KINDS } from './kinds/registry.js';
import { workflowOf } from './kinds/workflows.js';
import { claimNewRun, preparedNewRun } from './new-run.js';
import type { PreparedRun } from './prepared-run.js';
import { meshInstall } from './run-queries.js';
import { isLeaseStale } from './runtime/lease.js';
import type { ProgressListener } from './runtime/progress-events.js';
import { newRunId } from './runtime/run-ids.js';
import { removalSummary } from './views/removal-summary.js';
import { maybeRunConfig, membershipConfig } from './views/run-config.js';
import { checkRunIdFormat, installRunOf } from './views/run-lookup.js';

export interface FollowUpRequest {
  kind: 'verify' | 'verify-links' | 'uninstall';
  // --run: the install run (or a run that acted on it) whose clusters and config to use.
  runRef?: string;
  // --mesh: a mesh of the journal (its latest successful install stands for it).
  meshRef?: string;
  configPath?: string;
  dryRun: boolean;
  injections: string[];
  // uninstall: purge even clusters whose Istio mesh-run did not install.
  force: boolean;
  store: StoreLocation;
  env?: Record<string, string | undefined>;
  // --context and --kubeconfig (with a config file, not with --run).
  overrides?: ConfigOverrides;
  // A real uninstall asks before it deletes anything (the CLI: a prompt, or --yes); absent: no question.
  confirm?: (summary: string[]) => Promise<boolean>;
}

interface FollowUpTarget {
  config: MeshConfig;
  hash: string;
  configPath: string | null;
  mode: RunMode;
  targetRun: string | null;
  // Dry runs: the simulated clusters to act on; undefined means new, empty ones.
  world: string | undefined;
}

// --mesh names the install run that stands for the mesh; the rest is as --run.
async function withMeshTarget(request: FollowUpRequest): Promise<FollowUpRequest> {
  if (request.runRef !== undefined || request.configPath !== undefined) throw new UsageError('--mesh, --run and --config: give one of them');
  const store = await openStore(request.store, 'read-only');
  try {
    const { meshRef, ...rest } = request;
    return { ...rest, runRef: await meshInstall(store.runs, meshRef as string) };
  } finally {
    await store.close();
  }
}

// The names and contexts that say two configs are about the same clusters.
function identity(config: MeshConfig): string {
  return JSON.stringify({
    meshID: config.meshID,
    revision: config.revision ?? null,
    clusters: config.clusters.map((c) => ({ name: c.name, context: c.context, role: c.role, network: c.network, controlPlane: c.controlPlane ?? null })),
  });
}

// The install named by --run (or the install a named verify or uninstall acted on).
async function namedTarget(request: FollowUpRequest, runs: RunStore, ref: string): Promise<FollowUpTarget> {
  const run = await installRunOf(runs, ref);
  if (request.dryRun && run.mode === 'real') throw new UsageError(`--dry-run: run ${run.id} installed real clusters; drop --dry-run to ${request.kind} them`);
  if (KINDS[request.kind].needsFinishedMesh) refuseUnfinishedInstall(run);
  return {
    config: membershipConfig(run),
    hash: run.configHash,
    configPath: null,
    mode: run.mode,
    targetRun: run.id,
    world: run.mode === 'dry-run' ? run.simWorld : undefined,
  };
}

// The latest install with the same clusters as the config file (none in a store that does not exist yet).
async function latestTarget(request: FollowUpRequest, runs: RunStore | undefined, loaded: LoadedConfig): Promise<FollowUpTarget> {
  const config = loaded.config;
  const mode: RunMode = request.dryRun ? 'dry-run' : 'real';
  const wanted = identity(config);
  // Simulated clusters are found the way real ones are: by the same names and contexts.
  const installs = ((await runs?.listRuns(500)) ?? []).filter((r) => {
    const recorded = maybeRunConfig(r);
    return KINDS[r.kind].mesh === 'founds' && r.mode === mode && recorded !== undefined && identity(recorded) === wanted;
  });
  // Verify needs a finished mesh. Real clusters hold what the latest install left; each dry-run install has
  // clusters of its own, so the latest that succeeded is the one to verify.
  let latest = installs[0];
  if (KINDS[request.kind].needsFinishedMesh) {
    latest = mode === 'dry-run' ? (installs.find((r) => r.status === 'succeeded') ?? installs[0]) : installs[0];
    if (latest) refuseUnfinishedInstall(latest);
  }
  return {
    config,
    hash: loaded.hash,
    configPath: loaded.path ? resolvePath(loaded.path) : null,
    mode,
    targetRun: latest?.id ?? null,
    world: mode === 'dry-run' ? latest?.simWorld : undefined,
  };
}

// An adopted mesh is not mesh-run's to remove: uninstall refuses it (exit 3), naming what --force would delete.
async function refuseAdopted(runs: RunStore, targetRun: string): Promise<void> {
  const run = await runs.getRun(targetRun);
  const adopted = run ? await adoptedObjects(runs, run) : { clusters: [] };
  if (!adopted.adoption) return;
  const per = adopted.clusters.map((c) => `${c.cluster}: ${c.objects.length > 0 ? c.objects.join(', ') : 'nothing recorded'}`);
  throw new PreconditionError(
    'mesh-adopted',
    `mesh ${run?.config?.meshID ?? ''} was adopted (run ${adopted.adoption}), not installed by mesh-run: uninstall would delete an Istio mesh-run never installed\n${per.join('\n')}`,
    { hint: 'uninstall --force removes it, naming each object as it deletes it' },
  );
}

// Verify checks a mesh an install finished: an install that failed, or is still running, is refused at once.
function refuseUnfinishedInstall(install: RunRecord): void {
  if (install.status === 'succeeded') return;
  const where = install.error?.step ? ` at ${slotLabel(install.error.step, install.error.cluster ?? '*')}` : '';
  const state = install.status === 'running' ? (isLeaseStale(install) ? 'was stopped before it finished' : 'is still running') : `${install.status}${where}`;
  throw new PreconditionError('install-unfinished', `install run ${install.id} ${state}: there is no finished mesh to verify`, {
    hint:
      install.status === 'running' && !isLeaseStale(install)
        ? `wait for it ("mesh-run status ${install.id}"), then verify`
        : `finish it first with "mesh-run resume ${install.id}", then verify`,
  });
}

// What can be wrong with a request whatever the clusters hold: fault specs, flags, the samples directory.
function checkFollowUpInput(request: FollowUpRequest, config: MeshConfig, mode: RunMode): FaultSpec[] {
  const faults = request.injections.map((spec) => parseFaultSpec(spec, config, request.kind));
  if (mode === 'real' && faults.length > 0) throw new UsageError('--inject-failure only applies to simulated clusters; add --dry-run (or --run a dry run)');
  // A samplesDir that lacks the release's manifests is bad input: refuse before anything runs.
  if (KINDS[request.kind].deploysSamples && config.verify.samplesDir)
    for (const version of ['v1', 'v2'] as const) sampleManifest(version, config.verify.samplesDir);
  return faults;
}

// Validates a verify or uninstall request, checks the clusters, records the run; returns it ready to begin.
// Nothing is written (not even an empty database) until every check has passed.
export async function prepareFollowUp(given: FollowUpRequest, listener?: ProgressListener): Promise<PreparedRun> {
  const request = given.meshRef !== undefined ? await withMeshTarget(given) : given;
  if (request.runRef !== undefined && request.configPath !== undefined)
    throw new UsageError('--run and --config: give one of them (--run reuses the config recorded by that run)');
  const removes = KINDS[request.kind].removesMesh === true;
  if (request.force && !removes) throw new UsageError('--force applies to uninstall only');
  if (request.runRef !== undefined) checkRunIdFormat(request.runRef);
  if (request.runRef !== undefined && request.overrides && hasOverrides(request.overrides)) {
    throw new UsageError('--context and --kubeconfig go with --config: --run acts with the contexts that run recorded');
  }
  const loaded = request.runRef === undefined ? applyOverrides(loadConfig(request.configPath, request.env ?? process.env), request.overrides ?? {}) : undefined;
  // A config file is checked before any database is touched; a run's recorded config once it is read.
  const early = loaded ? checkFollowUpInput(request, loaded.config, request.dryRun ? 'dry-run' : 'real') : undefined;
  let store: Store | undefined =
    request.runRef !== undefined
      ? await openStore(request.store, 'existing')
      : (await storeExists(request.store))
        ? await openStore(request.store, 'create')
        : undefined;
  try {
    const target = loaded ? await latestTarget(request, store?.runs, loaded) : await namedTarget(request, (store as Store).runs, request.runRef as string);
    const faults = early ?? checkFollowUpInput(request, target.config, target.mode);
    if (removes && !request.force && store && target.targetRun) await refuseAdopted(store.runs, target.targetRun);
    const runId = newRunId();
    const world = target.world ?? runId;
    if (target.mode === 'real') {
      const tools = await realTools(target.config);
      await checkEnvironment(target.config, tools, false);
      if (removes && !request.force) await checkOwnership(target.config, tools);
      if (removes && request.confirm && !(await request.confirm(removalSummary(target.config, request.force)))) {
        throw new UsageError('uninstall not confirmed: nothing was changed');
      }
    } else if (removes && !request.force && target.world && store) {
      // New simulated clusters are empty: nothing there to own.
      await checkOwnership(target.config, await toolsFor('dry-run', target.config, store, world));
    }
    store ??= await openStore(request.store, 'create');
    const now = Date.now();
    const seed = target.mode === 'real' ? undefined : target.world ? faultSeed(world, faults) : newWorldSeed(world, target.config, {}, faults, now);
    const forced = `${FORCED_UNINSTALL}: the ownership check was skipped, and what existed before mesh-run is removed too`;
    const claimed = await claimNewRun(
      store,
      {
        id: runId,
        kind: request.kind,
        topology: meshTopology(target.config),
        mode: target.mode,
        config: target.config,
        configHash: target.hash,
        configPath: target.configPath,
        createdAt: now,
        machineVersion: workflowOf(request.kind).version,
        targetRun: target.targetRun,
        simWorld: target.mode === 'dry-run' ? world : null,
        ...(request.force ? { events: [{ type: 'forced', detail: forced }] } : {}),
      },
      world,
      seed,
    );
    return await preparedNewRun(store, claimed, target.config, world, listener ? { listener } : {});
  } catch (error) {
    await store?.close();
    throw error;
  }
}
