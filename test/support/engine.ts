// Drives runs in the test process, through the engine functions the CLI's run verbs call (cli/commands/*.ts,
// cli/run-session.ts), for tests whose subject is not the CLI: a run as setup, a journal to read. The only
// test module that knows the engine's service modules: when they move, this file changes, not the tests.
import type { JoiningCluster } from '../../engine/config/mesh-config.js';
import { loadConfig } from '../../engine/config/mesh-config.js';
import { applyOverrides } from '../../engine/config/overrides.js';
import { prepareClusterAdd, prepareClusterRemove, prepareSecretsRotate } from '../../engine/day2-service.js';
import { type FinishedRun, type PreparedRun, prepareFollowUp, prepareInstall, prepareResume, type SimulationOptions } from '../../engine/run-service.js';
import { prepareRollback, prepareUpgrade } from '../../engine/upgrade-service.js';
import { ALL_CLUSTERS, slotLabel } from '../../machines/steps.js';
import type { RunRecord } from '../../store/contract.js';
import { parseStoreLocation, type StoreLocation } from '../../store/location.js';

export type { SimulationOptions };

export interface EngineRun {
  id: string;
  status: FinishedRun['outcome']['status'];
  // The run's row at its end (its kind, targetRun, config...).
  run: RunRecord;
  finished: FinishedRun;
}

// What the CLI's child environment blanks (test/support/cli.ts): the Istio page's context variables.
const ENV: Record<string, string | undefined> = { ...process.env, CTX_CLUSTER1: '', CTX_CLUSTER2: '' };

// `where` is what the tests pass as --db or --store: an SQLite path or a store URL.
const at = (where: string): StoreLocation => parseStoreLocation(where, 'test');

// Begins a prepared run and waits for its end, as runVerb does (without progress, signals or output).
async function drive(prepared: Promise<PreparedRun>): Promise<EngineRun> {
  const ready = await prepared;
  try {
    const finished = await ready.begin();
    if (finished.outcome.storeError) throw finished.outcome.storeError;
    return { id: ready.run.id, status: finished.outcome.status, run: finished.run ?? ready.run, finished };
  } finally {
    await ready.close();
  }
}

// Where a run that did not succeed stopped, as the CLI's "failed at <step>[@cluster]" line names it.
export function stoppedAt(run: EngineRun): string | undefined {
  const error = run.finished.outcome.error;
  return error?.step ? slotLabel(error.step, error.cluster ?? ALL_CLUSTERS) : undefined;
}

export interface InstallOptions {
  config?: string;
  injectFailure?: string[];
  // Default: the load balancer answers at once (the CLI's --sim-lb-delay 0).
  simulation?: SimulationOptions;
  // --context cluster=context
  contexts?: string[];
  // A real install (default: a dry run).
  real?: boolean;
}

export function install(where: string, options: InstallOptions = {}): Promise<EngineRun> {
  const loaded = applyOverrides(loadConfig(options.config, ENV), { contexts: options.contexts ?? [] });
  return drive(
    prepareInstall({
      ...(options.config ? { configPath: options.config } : {}),
      loaded,
      dryRun: !options.real,
      injections: options.injectFailure ?? [],
      simulation: options.simulation ?? { loadBalancerDelayMs: 0 },
      store: at(where),
      env: ENV,
    }),
  );
}

// verify or uninstall of an install run (`run`) or of a mesh (`mesh`).
export interface FollowUpOptions {
  run?: string;
  mesh?: string;
  config?: string;
  dryRun?: boolean;
  injectFailure?: string[];
  force?: boolean;
}

function followUp(kind: 'verify' | 'uninstall', where: string, options: FollowUpOptions): Promise<EngineRun> {
  return drive(
    prepareFollowUp({
      kind,
      ...(options.run !== undefined ? { runRef: options.run } : {}),
      ...(options.mesh !== undefined ? { meshRef: options.mesh } : {}),
      ...(options.config !== undefined ? { configPath: options.config } : {}),
      dryRun: Boolean(options.dryRun),
      injections: options.injectFailure ?? [],
      overrides: { contexts: [] },
      force: Boolean(options.force),
      store: at(where),
      env: ENV,
    }),
  );
}

export const verify = (where: string, options: FollowUpOptions): Promise<EngineRun> => followUp('verify', where, options);
export const uninstall = (where: string, options: FollowUpOptions): Promise<EngineRun> => followUp('uninstall', where, options);

export interface ResumeOptions {
  force?: boolean;
  from?: string;
  reason?: string;
  skipSyncGate?: boolean;
  skipProxyGate?: boolean;
  simulation?: SimulationOptions;
}

export function resume(where: string, id: string, options: ResumeOptions = {}): Promise<EngineRun> {
  return drive(
    prepareResume({
      id,
      store: at(where),
      force: Boolean(options.force),
      simulation: options.simulation ?? {},
      env: ENV,
      ...(options.from !== undefined ? { from: options.from } : {}),
      ...(options.reason !== undefined ? { reason: options.reason } : {}),
      ...(options.skipSyncGate ? { skipSyncGate: true } : {}),
      ...(options.skipProxyGate ? { skipProxyGate: true } : {}),
    }),
  );
}

export interface Day2Options {
  dryRun?: boolean;
  injectFailure?: string[];
}

// cluster add: `cluster` as the CLI's --name/--context/--role... give it (role defaults to remote).
export function clusterAdd(where: string, mesh: string, cluster: Omit<JoiningCluster, 'role'> & Partial<JoiningCluster>, options: Day2Options = {}) {
  return drive(
    prepareClusterAdd({
      meshRef: mesh,
      cluster: { role: 'remote', ...cluster } as JoiningCluster,
      injections: options.injectFailure ?? [],
      dryRun: Boolean(options.dryRun),
      store: at(where),
    }),
  );
}

export function clusterRemove(where: string, mesh: string, name: string, options: Day2Options & { force?: boolean } = {}) {
  return drive(
    prepareClusterRemove({
      meshRef: mesh,
      name,
      injections: options.injectFailure ?? [],
      dryRun: Boolean(options.dryRun),
      force: Boolean(options.force),
      store: at(where),
    }),
  );
}

export function secretsRotate(where: string, mesh: string, options: Day2Options & { cluster?: string; skipSyncGate?: boolean } = {}) {
  return drive(
    prepareSecretsRotate({
      meshRef: mesh,
      ...(options.cluster !== undefined ? { cluster: options.cluster } : {}),
      skipSyncGate: Boolean(options.skipSyncGate),
      dryRun: Boolean(options.dryRun),
      injections: options.injectFailure ?? [],
      store: at(where),
    }),
  );
}

export interface UpgradeOptions extends Day2Options {
  istioctl?: string;
  namespaces?: string;
  // The CLI's defaults: waves of 5, gates of 5 minutes.
  waveSize?: number;
  gateTimeoutMs?: number;
  keepOld?: boolean;
  skipProxyGate?: boolean;
}

export function upgrade(where: string, mesh: string, revision: string, options: UpgradeOptions = {}) {
  return drive(
    prepareUpgrade({
      meshRef: mesh,
      revision,
      ...(options.istioctl !== undefined ? { istioctl: options.istioctl } : {}),
      ...(options.namespaces !== undefined ? { namespaces: options.namespaces } : {}),
      waveSize: options.waveSize ?? 5,
      gateTimeoutMs: options.gateTimeoutMs ?? 5 * 60_000,
      keepOld: Boolean(options.keepOld),
      skipProxyGate: Boolean(options.skipProxyGate),
      dryRun: Boolean(options.dryRun),
      injections: options.injectFailure ?? [],
      store: at(where),
    }),
  );
}

export function rollback(where: string, upgradeRun: string, options: Day2Options = {}) {
  return drive(prepareRollback({ runRef: upgradeRun, injections: options.injectFailure ?? [], store: at(where) }));
}
