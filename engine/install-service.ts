// install: every input validated (and a real install's precheck passed) before the run is recorded.

import { resolve as resolvePath } from 'node:path';
import type { ClusterTools } from '../adapters/cluster-tools.js';
import { primariesOf } from '../machines/topology.js';
import { PreconditionError, UsageError } from '../shared/errors.js';
import type { MeshConfig, RunMode } from '../shared/model.js';
import { AnswerBook } from './activities/answer-book.js';
import { precheck } from './activities/precheck.js';
import { bundleFromFiles, checkReusableBundle, TrustMaterialError } from './activities/trust/material.js';
import { type FaultSpec, newWorldSeed, openStore, realTools, type SimulationOptions, type StoreLocation } from './composition.js';
import { parseFaultSpec } from './config/fault-specs.js';
import { type LoadedConfig, loadConfig } from './config/mesh-config.js';
import { meshTopology } from './config/mesh-shape.js';
import { workflowOf } from './kinds/workflows.js';
import { claimNewRun, preparedNewRun } from './new-run.js';
import { type PreparedRun, pollFor } from './prepared-run.js';
import type { ProgressListener } from './runtime/progress-events.js';
import { newRunId } from './runtime/run-ids.js';

export interface InstallRequest {
  configPath?: string;
  // The config already loaded from configPath (saves reading it twice).
  loaded?: LoadedConfig;
  dryRun: boolean;
  injections: string[];
  simulation: SimulationOptions;
  store: StoreLocation;
  env?: Record<string, string | undefined>;
}

// Validates everything, then records the run (with its claim on the clusters, and a dry run's world);
// returns it ready to begin.
export async function prepareInstall(request: InstallRequest, listener?: ProgressListener): Promise<PreparedRun> {
  const loaded = request.loaded ?? loadConfig(request.configPath, request.env ?? process.env);
  const faults: FaultSpec[] = request.injections.map((spec) => parseFaultSpec(spec, loaded.config));
  if (!request.dryRun && (faults.length > 0 || Object.keys(request.simulation).length > 0)) {
    throw new UsageError('--inject-failure and --sim-* options only apply to simulated clusters; add --dry-run');
  }
  checkTrustFiles(loaded.config);
  // A real install runs every precheck first: any problem refuses it (exit 3, nothing recorded).
  // Its answers serve the run's preflight step, which then asks the clusters nothing the precheck just asked.
  const answers = new AnswerBook();
  const warnings = request.dryRun ? [] : await precheckInstall(loaded.config, await realTools(loaded.config), answers);
  const store = await openStore(request.store, 'create');
  try {
    const runId = newRunId();
    const now = Date.now();
    const mode: RunMode = request.dryRun ? 'dry-run' : 'real';
    const seed = request.dryRun ? newWorldSeed(runId, loaded.config, request.simulation, faults, now) : undefined;
    const claimed = await claimNewRun(
      store,
      {
        id: runId,
        kind: 'install',
        topology: meshTopology(loaded.config),
        mode,
        config: loaded.config,
        configHash: loaded.hash,
        configPath: loaded.path ? resolvePath(loaded.path) : null,
        createdAt: now,
        machineVersion: workflowOf('install').version,
      },
      runId,
      seed,
    );
    return await preparedNewRun(store, claimed, loaded.config, runId, {
      gatewayPollMs: pollFor(request.simulation.realisticLatency?.timeScale),
      warnings,
      answers,
      ...(listener ? { listener } : {}),
    });
  } catch (error) {
    await store.close();
    throw error;
  }
}

// The precheck of a real install: its problems refuse the install (one line each), its warnings are returned.
async function precheckInstall(config: MeshConfig, tools: ClusterTools, book?: AnswerBook): Promise<string[]> {
  const { findings } = await precheck(config, tools, book);
  const problems = findings.filter((f) => f.level === 'problem');
  if (problems.length > 0) {
    const hint =
      problems.length > 1
        ? `${problems.length} problems, one per line: fix them, then run again ("mesh-run precheck" gives a hint for each)`
        : problems[0]?.hint;
    throw new PreconditionError('preflight', problems.map((p) => p.message).join('\n'), hint ? { hint } : {});
  }
  return findings.map((f) => `${f.cluster ? `${f.cluster}: ` : ''}${f.message}`);
}

// CA files named in trust: must be a usable plugin CA before anything runs (exit 2 otherwise).
function checkTrustFiles(config: MeshConfig): void {
  const trust = config.trust;
  if (!trust) return;
  const dir = trust.source === 'files' ? trust.caDir : trust.outputDir;
  if (!dir) return;
  try {
    for (const primary of primariesOf({ members: config.clusters })) {
      if (trust.source === 'files') bundleFromFiles(dir, primary.name);
      else checkReusableBundle(dir, primary.name);
    }
  } catch (error) {
    if (error instanceof TrustMaterialError) throw new UsageError(error.message);
    throw error;
  }
}
