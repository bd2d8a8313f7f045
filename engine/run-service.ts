// The operations behind the CLI verbs: prepare a new install, prepare a resume, read status and runs.
// Every input is validated before anything is written to a store or a cluster.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import type { ClusterTools } from '../adapters/cluster-tools.js';
import { createExecaTools } from '../adapters/execa-tools.js';
import type { FaultSpec } from '../adapters/simulator/faults.js';
import { MEAN_MS } from '../adapters/simulator/latency-model.js';
import { createSimulatedTools } from '../adapters/simulator/simulated-tools.js';
import { createWorld, type LoadBalancerMode, readWorld, setLoadBalancer } from '../adapters/simulator/world.js';
import { DEFAULT_GATEWAY_POLL_MS, MACHINE_VERSION } from '../machines/install-machine.js';
import { isRunKind, type RunKind, slotLabel } from '../machines/steps.js';
import { NotResumableError, PreconditionError, UsageError } from '../shared/errors.js';
import type { MeshConfig } from '../shared/model.js';
import { count } from '../shared/words.js';
import { type Db, openDb } from '../store/open-db.js';
import { createSimStore } from '../store/sim-store.js';
import { createSqliteRunStore } from '../store/sqlite-run-store.js';
import type { Actor, ClaimRequest, NewRun, RunRecord, RunStore } from '../store/types.js';
import { hashText, type LoadedConfig, loadConfig, parseConfigText, readConfigFile } from './config.js';
import { checkEnvironment, checkOwnership } from './environment-check.js';
import { parseFaultSpec } from './fault-specs.js';
import { Inventory } from './inventory.js';
import { holderAlive, isLeaseStale, LEASE_STALE_MS } from './lease.js';
import type { ProgressListener } from './progress-events.js';
import { maybeRunConfig, runConfig } from './run-config.js';
import { clustersBusy, currentOperator, leaseFor, RunDriver } from './run-driver.js';
import { newRunId } from './run-ids.js';
import { checkRunIdFormat, findRun } from './run-lookup.js';
import { sampleManifest } from './sample-manifests.js';
import { bundleFromFiles, checkReusableBundle, TrustMaterialError } from './trust/material.js';
import { restorable, workflowOf } from './workflows.js';

export interface SimulationOptions {
  loadBalancer?: LoadBalancerMode;
  loadBalancerDelayMs?: number;
  commandLatencyMs?: number;
  // Durations after real installs (docs/benchmarks.md), multiplied by timeScale.
  realisticLatency?: { timeScale: number };
}

// The gateway wait polls once a second; a time-scaled simulation polls proportionally faster.
function pollFor(timeScale: number | undefined): number {
  return timeScale === undefined ? DEFAULT_GATEWAY_POLL_MS : Math.max(5, Math.round(DEFAULT_GATEWAY_POLL_MS * timeScale));
}

export interface InstallRequest {
  configPath?: string;
  // The config already loaded from configPath (saves reading it twice).
  loaded?: LoadedConfig;
  dryRun: boolean;
  injections: string[];
  simulation: SimulationOptions;
  dbPath: string;
  env?: Record<string, string | undefined>;
}

export interface PreparedRun {
  runId: string;
  run: RunRecord;
  driver: RunDriver;
  store: RunStore;
  // Set when --force accepted a changed or missing config file; journaled once the lease is held.
  forcedDetail?: string;
  close(): void;
}

function toolsFor(run: RunRecord, config: MeshConfig, db: Db): ClusterTools {
  if (run.mode === 'dry-run') return createSimulatedTools({ store: createSimStore(db), world: run.simWorld });
  return createExecaTools(config.tools);
}

// Validates everything, then records the run; returns a driver ready to start.
export async function prepareInstall(request: InstallRequest, listener?: ProgressListener): Promise<PreparedRun> {
  const loaded = request.loaded ?? loadConfig(request.configPath, request.env ?? process.env);
  const faults: FaultSpec[] = request.injections.map((spec) => parseFaultSpec(spec, loaded.config));
  if (!request.dryRun && (faults.length > 0 || Object.keys(request.simulation).length > 0)) {
    throw new UsageError('--inject-failure and --sim-* options only apply to simulated clusters; add --dry-run');
  }
  checkTrustFiles(loaded.config);
  if (!request.dryRun) await checkEnvironment(loaded.config, createExecaTools(loaded.config.tools));
  const db = openDb(request.dbPath);
  const store = createSqliteRunStore(db);
  const operator = currentOperator();
  const runId = newRunId();
  const now = Date.now();
  const realistic = request.simulation.realisticLatency;
  const mode = request.dryRun ? 'dry-run' : 'real';
  const sim = createSimStore(db);
  const leaseToken = randomUUID();
  const claimKeys = clusterKeys(mode, loaded.config, runId);
  // The run row (with its lease and its claim on the clusters), its simulated world and its injected
  // faults appear together or not at all.
  try {
    sim.atomically(() => {
      claimOrRefuse(
        store,
        {
          id: runId,
          kind: 'install',
          topology: 'primary-remote',
          mode,
          configJson: JSON.stringify(loaded.config),
          configHash: loaded.hash,
          configPath: loaded.path ? resolvePath(loaded.path) : null,
          createdAt: now,
          machineVersion: MACHINE_VERSION,
        },
        operator,
        { lease: leaseFor(operator, leaseToken, now), keys: claimKeys, staleAfterMs: LEASE_STALE_MS, isAlive: holderAlive },
        'installing on',
      );
      if (request.dryRun) {
        createWorld(
          sim,
          runId,
          [loaded.config.primary, ...loaded.config.remotes],
          {
            loadBalancer: {
              mode: request.simulation.loadBalancer ?? 'ip',
              delayMs: request.simulation.loadBalancerDelayMs ?? (realistic ? Math.round(MEAN_MS.loadBalancerAddress * realistic.timeScale) : 1500),
            },
            ...(request.simulation.commandLatencyMs !== undefined ? { commandLatencyMs: request.simulation.commandLatencyMs } : {}),
            ...(realistic ? { latencyModel: { timeScale: realistic.timeScale, jitter: 0.15, seed: runId } } : {}),
          },
          now,
        );
        for (const f of faults) sim.addFault(runId, { step: f.step, cluster: f.cluster ?? null, remaining: f.count, kind: f.kind });
      }
    });
  } catch (error) {
    store.close();
    throw error;
  }
  const run = store.getRun(runId) as RunRecord;
  const driver = new RunDriver({
    store,
    tools: toolsFor(run, loaded.config, db),
    config: loaded.config,
    run,
    operator,
    gatewayPollMs: pollFor(realistic?.timeScale),
    leaseToken,
    claimKeys,
    ...(listener ? { listener } : {}),
  });
  return { runId, run, driver, store, close: () => store.close() };
}

// A run's saved state must restore before it is resumed. A missing one is fine only for a run that never
// started a step (it starts from the beginning); otherwise resuming would run finished steps again.
function checkSavedState(run: RunRecord, attempts: number): void {
  const damaged = (why: string) =>
    new NotResumableError('state-damaged', `run ${run.id} cannot be resumed: its saved state is damaged (${why})`, {
      hint: `start a new ${run.kind} run; its steps are idempotent and converge on what this one did`,
    });
  const raw = run.snapshotJson?.trim() ?? '';
  if (raw === '' || raw === 'null') {
    if (attempts === 0) return;
    throw damaged(`missing, although ${count(attempts, 'step attempt')} ran`);
  }
  let snapshot: unknown;
  try {
    snapshot = JSON.parse(raw);
  } catch {
    throw damaged('not JSON');
  }
  if (!restorable(run.kind as RunKind, snapshot)) throw damaged("it does not fit this run's workflow");
}

const FORCED_UNINSTALL = 'uninstall --force';

// What an uninstall run needs besides its config: what existed before mesh-run acted, as the install it
// acts on and the verify runs of that install recorded it, and whether it was started with --force.
function followUpDeps(store: RunStore, run: RunRecord): { inventory?: Inventory; force?: boolean } {
  if (run.kind !== 'uninstall') return {};
  const force = store.listEvents(run.id).some((e) => e.type === 'forced' && (e.detail ?? '').startsWith(FORCED_UNINSTALL));
  if (!run.targetRun) return { force };
  const sources = [
    run.targetRun,
    ...store
      .listRunsTargeting(run.targetRun)
      .filter((r) => r.kind === 'verify')
      .map((r) => r.id),
  ];
  const observations = store.listObservations(sources);
  return { force, inventory: new Inventory(observations, [...new Set(observations.map((o) => o.runId))]) };
}

// CA files named in trust: must be a usable plugin CA before anything runs (exit 2 otherwise).
function checkTrustFiles(config: MeshConfig): void {
  const trust = config.trust;
  if (!trust) return;
  const dir = trust.source === 'files' ? trust.caDir : trust.outputDir;
  if (!dir) return;
  try {
    if (trust.source === 'files') bundleFromFiles(dir, config.primary.name);
    else checkReusableBundle(dir, config.primary.name);
  } catch (error) {
    if (error instanceof TrustMaterialError) throw new UsageError(error.message);
    throw error;
  }
}

export interface ResumeRequest {
  id: string;
  dbPath: string;
  force: boolean;
  simulation: SimulationOptions;
  env?: Record<string, string | undefined>;
}

// What resume --force may change in a run's config: timeouts, retries, tools and parallelism (and verify's
// sample source). Everything else decides which steps run, on which clusters, with which values: fixed
// when the run started.
const FORCE_MAY_CHANGE: ReadonlySet<string> = new Set(['timeouts', 'retry', 'tools', 'maxParallelRemotes', 'verify']);

function changedFields(before: MeshConfig, after: MeshConfig): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys]
    .filter((k) => JSON.stringify((before as unknown as Record<string, unknown>)[k]) !== JSON.stringify((after as unknown as Record<string, unknown>)[k]))
    .sort();
}

function refuseUnappliable(stored: MeshConfig, fresh: MeshConfig, path: string, runId: string): void {
  const refused = changedFields(stored, fresh).filter((k) => !FORCE_MAY_CHANGE.has(k));
  if (refused.length === 0) return;
  throw new UsageError(
    `${path}: ${refused.join(', ')} changed since run ${runId} started; resume --force applies changes to ${[...FORCE_MAY_CHANGE].join(', ')} only, since the rest decides which steps the run takes: start a new run to apply it`,
  );
}

function identity(config: MeshConfig): string {
  return JSON.stringify({
    meshID: config.meshID,
    network: config.network,
    revision: config.revision ?? null,
    primary: config.primary,
    remotes: config.remotes.map((r) => ({ name: r.name, context: r.context })),
  });
}

// Checks that a run may be resumed, settles which config it continues with, returns a driver.
export function prepareResume(request: ResumeRequest, listener?: ProgressListener): PreparedRun {
  checkRunIdFormat(request.id);
  const db = openDb(request.dbPath, { mustExist: true });
  const store = createSqliteRunStore(db);
  try {
    const run = findRun(store, request.id);
    if (run.status === 'succeeded')
      throw new NotResumableError('run-succeeded', `run ${run.id} already succeeded; there is nothing to resume`, {
        hint: `start a new run with "mesh-run ${run.kind}" to re-apply`,
      });
    if (!isRunKind(run.kind))
      throw new NotResumableError('run-kind', `run ${run.id} is of a kind this mesh-run does not know ("${run.kind.slice(0, 40)}")`, {
        hint: 'resume it with the mesh-run that started it, or start a new run',
      });
    // Nothing is changed (no lease, no "resumed") before the saved state is known to be usable.
    checkSavedState(run, store.listAttempts(run.id).length);
    const version = workflowOf(run.kind).version;
    if (run.machineVersion !== version) {
      throw new NotResumableError(
        'machine-version',
        `run ${run.id} was recorded by a different workflow version (${run.machineVersion}, this mesh-run has ${version})`,
        { hint: 'start a new run; the steps are idempotent' },
      );
    }
    if (run.mode === 'real' && (request.simulation.loadBalancer !== undefined || request.simulation.loadBalancerDelayMs !== undefined)) {
      throw new UsageError(`--sim-* options apply to dry runs only; run ${run.id} is against real clusters`);
    }
    const stored = runConfig(run);
    let config = stored;
    let detail: string | undefined;
    let forcedConfig: { json: string; hash: string } | undefined;
    if (run.configPath) {
      const read = readConfigFile(run.configPath);
      const text = 'text' in read ? read.text : undefined;
      const changed = text === undefined || hashText(text) !== run.configHash;
      if (changed && !request.force) {
        const gone = 'problem' in read && read.problem === 'no such file';
        const what =
          text === undefined
            ? `config file ${run.configPath} ${gone ? 'is gone' : `cannot be read (${'problem' in read ? read.problem : ''})`}`
            : `config file ${run.configPath} changed since run ${run.id} started`;
        throw new NotResumableError('config-changed', what, {
          hint: `resume with --force to continue ${text === undefined ? 'with the configuration recorded at start' : 'with the file as it is now (cluster names and contexts must stay the same)'}`,
        });
      }
      if (changed && text !== undefined) {
        const fresh = parseConfigText(text, request.env ?? process.env, run.configPath);
        refuseUnappliable(stored, fresh, run.configPath, run.id);
        config = fresh;
        forcedConfig = { json: JSON.stringify(fresh), hash: hashText(text) };
        detail = `forced: config ${run.configHash.slice(0, 12)} -> ${hashText(text).slice(0, 12)} (${changedFields(stored, fresh).join(', ')})`;
      } else if (changed) {
        detail = `forced: config file ${run.configPath} ${'problem' in read && read.problem !== 'no such file' ? `cannot be read (${read.problem})` : 'missing'}; using the recorded configuration`;
      }
    }
    if (run.mode === 'dry-run') {
      const sim = createSimStore(db);
      if (!readWorld(sim, run.simWorld))
        throw new NotResumableError('sim-missing', `the simulated clusters of dry run ${run.id} are missing from the database`);
      if (request.simulation.loadBalancer !== undefined || request.simulation.loadBalancerDelayMs !== undefined) {
        const current = readWorld(sim, run.simWorld);
        setLoadBalancer(
          sim,
          run.simWorld,
          {
            mode: request.simulation.loadBalancer ?? current?.loadBalancer.mode ?? 'ip',
            ...(request.simulation.loadBalancerDelayMs !== undefined ? { delayMs: request.simulation.loadBalancerDelayMs } : {}),
          },
          Date.now(),
        );
      }
    }
    const operator = currentOperator();
    const timeScale = run.mode === 'dry-run' ? readWorld(createSimStore(db), run.simWorld)?.latencyModel?.timeScale : undefined;
    const driver = new RunDriver({
      store,
      tools: toolsFor(run, config, db),
      config,
      run,
      operator,
      gatewayPollMs: pollFor(timeScale),
      claimKeys: clusterKeys(run.mode, config, run.simWorld),
      ...followUpDeps(store, run),
      ...(listener ? { listener } : {}),
    });
    // Refuse a run another live process drives before saying anything about resuming it.
    driver.claim();
    // The run goes on with the config --force accepted, and records it as its own.
    if (forcedConfig) store.updateRunConfig(run.id, forcedConfig.json, forcedConfig.hash);
    return { runId: run.id, run, driver, store, close: () => store.close(), ...(detail ? { forcedDetail: detail } : {}) };
  } catch (error) {
    store.close();
    throw error;
  }
}

export interface FollowUpRequest {
  kind: 'verify' | 'uninstall';
  // --run: the install run (or a run that acted on it) whose clusters and config to use.
  runRef?: string;
  configPath?: string;
  dryRun: boolean;
  injections: string[];
  // uninstall: purge even clusters whose Istio mesh-run did not install.
  force: boolean;
  dbPath: string;
  env?: Record<string, string | undefined>;
}

interface FollowUpTarget {
  config: MeshConfig;
  hash: string;
  configPath: string | null;
  mode: 'dry-run' | 'real';
  targetRun: string | null;
  // Dry runs: the simulated clusters to act on; undefined means new, empty ones.
  world: string | undefined;
}

function sameClusters(a: MeshConfig, b: MeshConfig): boolean {
  return identity(a) === identity(b);
}

// The clusters a run claims while it is driven: real kube contexts, or the simulated world it acts on.
function clusterKeys(mode: 'dry-run' | 'real', config: MeshConfig, world: string): string[] {
  return mode === 'dry-run' ? [`world:${world}`] : [config.primary, ...config.remotes].map((c) => `context:${c.context}`);
}

// Records the run with its lease and its claim on its clusters, in one transaction; exit 3 naming the run
// that holds them when another live run does.
function claimOrRefuse(store: RunStore, run: NewRun, operator: Actor, claim: ClaimRequest, doing: string): void {
  const result = store.createClaimedRun(run, operator, claim);
  if (!result.created) throw clustersBusy(result.busy, Date.now(), doing);
}

// The run a verify or uninstall acts on: the one named by --run, or the latest install with the same clusters.
function resolveTarget(request: FollowUpRequest, store: RunStore | undefined, loaded: LoadedConfig | undefined): FollowUpTarget {
  if (request.runRef !== undefined && store) {
    let run = findRun(store, request.runRef);
    if (run.kind !== 'install' && run.targetRun) run = store.getRun(run.targetRun) ?? run;
    if (request.dryRun && run.mode === 'real') throw new UsageError(`--dry-run: run ${run.id} installed real clusters; drop --dry-run to ${request.kind} them`);
    if (request.kind === 'verify') refuseUnfinishedInstall(run);
    return {
      config: runConfig(run),
      hash: run.configHash,
      configPath: null,
      mode: run.mode,
      targetRun: run.id,
      world: run.mode === 'dry-run' ? run.simWorld : undefined,
    };
  }
  const config = (loaded as LoadedConfig).config;
  const mode = request.dryRun ? 'dry-run' : 'real';
  // Simulated clusters are found the way real ones are: by the same names and contexts.
  const installs = (store?.listRuns(500) ?? []).filter((r) => {
    const recorded = maybeRunConfig(r);
    return r.kind === 'install' && r.mode === mode && recorded !== undefined && sameClusters(recorded, config);
  });
  // Verify needs a finished mesh. Real clusters hold what the latest install left; each dry-run install has
  // clusters of its own, so the latest that succeeded is the one to verify.
  let latest = installs[0];
  if (request.kind === 'verify') {
    latest = mode === 'dry-run' ? (installs.find((r) => r.status === 'succeeded') ?? installs[0]) : installs[0];
    if (latest) refuseUnfinishedInstall(latest);
  }
  return {
    config,
    hash: (loaded as LoadedConfig).hash,
    configPath: loaded?.path ? resolvePath(loaded.path) : null,
    mode,
    targetRun: latest?.id ?? null,
    world: mode === 'dry-run' ? latest?.simWorld : undefined,
  };
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
function checkFollowUpInput(request: FollowUpRequest, config: MeshConfig, mode: 'dry-run' | 'real'): FaultSpec[] {
  const faults = request.injections.map((spec) => parseFaultSpec(spec, config, request.kind));
  if (mode === 'real' && faults.length > 0) throw new UsageError('--inject-failure only applies to simulated clusters; add --dry-run (or --run a dry run)');
  // A samplesDir that lacks the release's manifests is bad input: refuse before anything runs.
  if (request.kind === 'verify' && config.verify.samplesDir) for (const version of ['v1', 'v2'] as const) sampleManifest(version, config.verify.samplesDir);
  return faults;
}

// Validates a verify or uninstall request, checks the clusters, records the run; returns a driver ready to start.
// Nothing is written (not even an empty database) until every check has passed.
export async function prepareFollowUp(request: FollowUpRequest, listener?: ProgressListener): Promise<PreparedRun> {
  if (request.runRef !== undefined && request.configPath !== undefined)
    throw new UsageError('--run and --config: give one of them (--run reuses the config recorded by that run)');
  if (request.force && request.kind !== 'uninstall') throw new UsageError('--force applies to uninstall only');
  if (request.runRef !== undefined) checkRunIdFormat(request.runRef);
  const loaded = request.runRef === undefined ? loadConfig(request.configPath, request.env ?? process.env) : undefined;
  // A config file is checked before any database is touched; a run's recorded config once it is read.
  const early = loaded ? checkFollowUpInput(request, loaded.config, request.dryRun ? 'dry-run' : 'real') : undefined;
  const exists = request.dbPath === ':memory:' || existsSync(request.dbPath);
  let db: Db | undefined = request.runRef !== undefined || exists ? openDb(request.dbPath, { mustExist: request.runRef !== undefined }) : undefined;
  try {
    const target = resolveTarget(request, db ? createSqliteRunStore(db) : undefined, loaded);
    const faults = early ?? checkFollowUpInput(request, target.config, target.mode);
    const runId = newRunId();
    const world = target.world ?? runId;
    if (target.mode === 'real') {
      const tools = createExecaTools(target.config.tools);
      await checkEnvironment(target.config, tools, false);
      if (request.kind === 'uninstall' && !request.force) await checkOwnership(target.config, tools);
    } else if (request.kind === 'uninstall' && !request.force && target.world && db) {
      // New simulated clusters are empty: nothing there to own.
      await checkOwnership(target.config, createSimulatedTools({ store: createSimStore(db), world }));
    }
    db ??= openDb(request.dbPath);
    const store = createSqliteRunStore(db);
    const sim = createSimStore(db);
    const tools = target.mode === 'dry-run' ? createSimulatedTools({ store: sim, world }) : createExecaTools(target.config.tools);
    const now = Date.now();
    const operator = currentOperator();
    const leaseToken = randomUUID();
    const claimKeys = clusterKeys(target.mode, target.config, world);
    sim.atomically(() => {
      if (target.mode === 'dry-run' && !target.world)
        createWorld(sim, world, [target.config.primary, ...target.config.remotes], { loadBalancer: { mode: 'ip', delayMs: 1500 } }, now);
      claimOrRefuse(
        store,
        {
          id: runId,
          kind: request.kind,
          topology: 'primary-remote',
          mode: target.mode,
          configJson: JSON.stringify(target.config),
          configHash: target.hash,
          configPath: target.configPath,
          createdAt: now,
          machineVersion: workflowOf(request.kind).version,
          targetRun: target.targetRun,
          simWorld: target.mode === 'dry-run' ? world : null,
        },
        operator,
        { lease: leaseFor(operator, leaseToken, now), keys: claimKeys, staleAfterMs: LEASE_STALE_MS, isAlive: holderAlive },
        request.kind === 'verify' ? 'verifying' : 'removing the mesh on',
      );
      for (const f of faults) sim.addFault(world, { step: f.step, cluster: f.cluster ?? null, remaining: f.count, kind: f.kind });
      if (request.force)
        store.addEvent(runId, 'forced', operator, now, `${FORCED_UNINSTALL}: the ownership check was skipped, and what existed before mesh-run is removed too`);
    });
    const run = store.getRun(runId) as RunRecord;
    const driver = new RunDriver({
      store,
      tools,
      config: target.config,
      run,
      operator,
      leaseToken,
      claimKeys,
      ...followUpDeps(store, run),
      ...(listener ? { listener } : {}),
    });
    return { runId, run, driver, store, close: () => store.close() };
  } catch (error) {
    db?.close();
    throw error;
  }
}
