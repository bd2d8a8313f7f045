// The operations behind the CLI verbs: prepare a new install, prepare a resume, read status and runs.
// Every input is validated before anything is written to a store or a cluster.
import { resolve as resolvePath } from 'node:path';
import { readFileSync } from 'node:fs';
import type { ClusterTools } from '../adapters/cluster-tools.js';
import { createExecaTools } from '../adapters/execa-tools.js';
import type { FaultSpec } from '../adapters/simulator/faults.js';
import { createSimulatedTools } from '../adapters/simulator/simulated-tools.js';
import { createWorld, type LoadBalancerMode, readWorld, setLoadBalancer } from '../adapters/simulator/world.js';
import { DEFAULT_GATEWAY_POLL_MS, MACHINE_VERSION } from '../machines/install-machine.js';
import { MEAN_MS } from '../adapters/simulator/latency-model.js';
import { openDb, type Db } from '../store/open-db.js';
import { createSimStore } from '../store/sim-store.js';
import { createSqliteRunStore } from '../store/sqlite-run-store.js';
import type { RunRecord, RunStore } from '../store/types.js';
import { hashText, type LoadedConfig, loadConfig, type MeshConfig, parseConfigText } from './config.js';
import { NotResumableError, UsageError } from './errors.js';
import { checkRunIdFormat, findRun } from './run-lookup.js';
import { checkEnvironment } from './environment-check.js';
import { parseFaultSpec } from './fault-specs.js';
import type { ProgressListener } from './progress-events.js';
import { currentOperator, RunDriver } from './run-driver.js';
import { newRunId } from './run-ids.js';

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
  if (run.mode === 'dry-run') return createSimulatedTools({ store: createSimStore(db), world: run.id });
  return createExecaTools(config.tools);
}

// Validates everything, then records the run; returns a driver ready to start.
export async function prepareInstall(request: InstallRequest, listener?: ProgressListener): Promise<PreparedRun> {
  const loaded = request.loaded ?? loadConfig(request.configPath, request.env ?? process.env);
  const faults: FaultSpec[] = request.injections.map((spec) => parseFaultSpec(spec, loaded.config));
  if (!request.dryRun && (faults.length > 0 || Object.keys(request.simulation).length > 0)) {
    throw new UsageError('--inject-failure and --sim-* options only apply to simulated clusters; add --dry-run');
  }
  if (!request.dryRun) await checkEnvironment(loaded.config, createExecaTools(loaded.config.tools));
  const db = openDb(request.dbPath);
  const store = createSqliteRunStore(db);
  const operator = currentOperator();
  const runId = newRunId();
  const now = Date.now();
  const realistic = request.simulation.realisticLatency;
  const mode = request.dryRun ? 'dry-run' : 'real';
  const sim = createSimStore(db);
  // The run row, its simulated world and its injected faults appear together or not at all.
  sim.atomically(() => {
    store.createRun(
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
    );
    if (request.dryRun) {
      createWorld(
        sim,
        runId,
        [loaded.config.primary, ...loaded.config.remotes],
        {
          loadBalancer: { mode: request.simulation.loadBalancer ?? 'ip', delayMs: request.simulation.loadBalancerDelayMs ?? (realistic ? Math.round(MEAN_MS.loadBalancerAddress * realistic.timeScale) : 1500) },
          ...(request.simulation.commandLatencyMs !== undefined ? { commandLatencyMs: request.simulation.commandLatencyMs } : {}),
          ...(realistic ? { latencyModel: { timeScale: realistic.timeScale, jitter: 0.15, seed: runId } } : {}),
        },
        now,
      );
      for (const f of faults) sim.addFault(runId, { step: f.step, cluster: f.cluster ?? null, remaining: f.count, kind: f.kind });
    }
  });
  const run = store.getRun(runId) as RunRecord;
  const driver = new RunDriver({ store, tools: toolsFor(run, loaded.config, db), config: loaded.config, run, operator, gatewayPollMs: pollFor(realistic?.timeScale), ...(listener ? { listener } : {}) });
  return { runId, run, driver, store, close: () => store.close() };
}

export interface ResumeRequest {
  id: string;
  dbPath: string;
  force: boolean;
  simulation: SimulationOptions;
  env?: Record<string, string | undefined>;
}

function identity(config: MeshConfig): string {
  return JSON.stringify({ meshID: config.meshID, network: config.network, revision: config.revision ?? null, primary: config.primary, remotes: config.remotes.map((r) => ({ name: r.name, context: r.context })) });
}

// Checks that a run may be resumed, settles which config it continues with, returns a driver.
export function prepareResume(request: ResumeRequest, listener?: ProgressListener): PreparedRun {
  checkRunIdFormat(request.id);
  const db = openDb(request.dbPath, { mustExist: true });
  const store = createSqliteRunStore(db);
  try {
    const run = findRun(store, request.id);
    if (run.status === 'succeeded') throw new NotResumableError('run-succeeded', `run ${run.id} already succeeded; there is nothing to resume`, { hint: 'start a new run with "mesh-run install" to re-apply' });
    if (run.machineVersion !== MACHINE_VERSION) {
      throw new NotResumableError('machine-version', `run ${run.id} was recorded by a different workflow version (${run.machineVersion}, this mesh-run has ${MACHINE_VERSION})`, { hint: 'start a new run; the steps are idempotent' });
    }
    if (run.mode === 'real' && (request.simulation.loadBalancer !== undefined || request.simulation.loadBalancerDelayMs !== undefined)) {
      throw new UsageError(`--sim-* options apply to dry runs only; run ${run.id} is against real clusters`);
    }
    const stored = JSON.parse(run.configJson) as MeshConfig;
    let config = stored;
    let detail: string | undefined;
    if (run.configPath) {
      let text: string | undefined;
      try {
        text = readFileSync(run.configPath, 'utf8');
      } catch {
        text = undefined;
      }
      const changed = text === undefined || hashText(text) !== run.configHash;
      if (changed && !request.force) {
        const what = text === undefined ? `config file ${run.configPath} is gone` : `config file ${run.configPath} changed since run ${run.id} started`;
        throw new NotResumableError('config-changed', what, { hint: `resume with --force to continue ${text === undefined ? 'with the configuration recorded at start' : 'with the file as it is now (cluster names and contexts must stay the same)'}` });
      }
      if (changed && text !== undefined) {
        const fresh = parseConfigText(text, request.env ?? process.env, run.configPath);
        if (identity(fresh) !== identity(stored)) {
          throw new UsageError(`${run.configPath}: meshID, network, revision or the clusters' names and contexts changed since run ${run.id} started; start a new run instead`);
        }
        config = fresh;
        detail = `forced: config ${run.configHash.slice(0, 12)} -> ${hashText(text).slice(0, 12)}`;
      } else if (changed) {
        detail = `forced: config file ${run.configPath} missing; using the recorded configuration`;
      }
    }
    if (run.mode === 'dry-run') {
      const sim = createSimStore(db);
      if (!readWorld(sim, run.id)) throw new NotResumableError('sim-missing', `the simulated clusters of dry run ${run.id} are missing from the database`);
      if (request.simulation.loadBalancer !== undefined || request.simulation.loadBalancerDelayMs !== undefined) {
        const current = readWorld(sim, run.id);
        setLoadBalancer(sim, run.id, { mode: request.simulation.loadBalancer ?? current?.loadBalancer.mode ?? 'ip', ...(request.simulation.loadBalancerDelayMs !== undefined ? { delayMs: request.simulation.loadBalancerDelayMs } : {}) }, Date.now());
      }
    }
    const operator = currentOperator();
    const timeScale = run.mode === 'dry-run' ? readWorld(createSimStore(db), run.id)?.latencyModel?.timeScale : undefined;
    const driver = new RunDriver({ store, tools: toolsFor(run, config, db), config, run, operator, gatewayPollMs: pollFor(timeScale), ...(listener ? { listener } : {}) });
    return { runId: run.id, run, driver, store, close: () => store.close(), ...(detail ? { forcedDetail: detail } : {}) };
  } catch (error) {
    store.close();
    throw error;
  }
}
