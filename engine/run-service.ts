// The operations behind the run verbs: prepare a new install, a verify or uninstall, or a resume. Every
// input is validated before anything is written to a store or a cluster; the store backend and the tools
// come from the composition root.

import { randomUUID } from 'node:crypto';
import { resolve as resolvePath } from 'node:path';
import type { ClusterTools } from '../adapters/cluster-tools.js';
import { DEFAULT_GATEWAY_POLL_MS } from '../machines/install-machine.js';
import { slotLabel } from '../machines/steps.js';
import { primariesOf } from '../machines/topology.js';
import { InternalError, NotResumableError, PreconditionError, UsageError } from '../shared/errors.js';
import type { MeshConfig, RunMode } from '../shared/model.js';
import { count, withArticle } from '../shared/words.js';
import type { AttemptRecord, NewRun, RunRecord, RunStore, Store, WorldSeed } from '../store/contract.js';
import { AnswerBook } from './activities/answer-book.js';
import { checkEnvironment, checkOwnership } from './activities/environment-check.js';
import { Inventory } from './activities/inventory.js';
import { precheck } from './activities/precheck.js';
import { sampleManifest } from './activities/sample-manifests.js';
import { bundleFromFiles, checkReusableBundle, TrustMaterialError } from './activities/trust/material.js';
import {
  changesLoadBalancer,
  type FaultSpec,
  faultSeed,
  newWorldSeed,
  openStore,
  realTools,
  resimulate,
  type SimulationOptions,
  type StoreLocation,
  storeExists,
  toolsFor,
  worldSettings,
} from './composition.js';
import { parseFaultSpec } from './config/fault-specs.js';
import { hashText, type LoadedConfig, loadConfig, parseConfigText, readConfigFile } from './config/mesh-config.js';
import { meshTopology } from './config/mesh-shape.js';
import { applyOverrides, type ConfigOverrides, hasOverrides } from './config/overrides.js';
import type { SkippableGate } from './kinds/kind-module.js';
import { KINDS, kindOf, reversalOf } from './kinds/registry.js';
import { restorable, workflowOf } from './kinds/workflows.js';
import { meshInstall } from './run-queries.js';
import { holderAlive, isLeaseStale, LEASE_STALE_MS } from './runtime/lease.js';
import type { ProgressListener } from './runtime/progress-events.js';
import { planRerun } from './runtime/rerun-plan.js';
import { clustersBusy, currentOperator, leaseFor, RunDriver, type RunOutcome, takeLease } from './runtime/run-driver.js';
import { newRunId } from './runtime/run-ids.js';
import { faultIdsBefore, faultsAdded, withdrawUnfired } from './runtime/unfired-faults.js';
import { removalSummary } from './views/removal-summary.js';
import { maybeRunConfig, membershipConfig, runConfig } from './views/run-config.js';
import { checkRunIdFormat, findRun, installRunOf, lineageOf } from './views/run-lookup.js';
import { slotsFor } from './views/run-slots.js';

export type { SimulationOptions } from './composition.js';

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
  store: StoreLocation;
  env?: Record<string, string | undefined>;
}

// How a run ended, with its row and attempts as they stand at the end (none when the journal failed).
export interface FinishedRun {
  outcome: RunOutcome;
  run: RunRecord | undefined;
  attempts: AttemptRecord[];
  // A run that succeeded although an --inject-failure it was given never fired: one line per fault.
  unfiredFaults?: string[];
}

export interface PreparedRun {
  // The run as it stood when prepared (a resumed run: before it resumed).
  run: RunRecord;
  // For signals: interrupt the run, or kill its tool processes at once.
  driver: RunDriver;
  // Set when resume --force accepted a changed or missing config file.
  forcedDetail?: string;
  // What the precheck found that does not block the run (a real install), for the operator to read.
  warnings?: string[];
  // Drives the run to its end (start, or resume from its saved state).
  begin(): Promise<FinishedRun>;
  close(): Promise<void>;
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

// Records a new run with its lease and its claim on its clusters (and a dry run's world), in one
// transaction; exit 3 naming the run that holds them when another live run does.
export async function claimNewRun(store: Store, run: NewRun, world: string, seed?: WorldSeed) {
  const doing = KINDS[run.kind].doing(run.config);
  const operator = currentOperator();
  const leaseToken = randomUUID();
  const claimKeys = clusterKeys(run.mode, run.config, world);
  const claim = { lease: leaseFor(operator, leaseToken, run.createdAt), keys: claimKeys, staleAfterMs: LEASE_STALE_MS, isAlive: holderAlive };
  const faultsBefore = seed && seed.faults.length > 0 ? await faultIdsBefore(store.worlds, seed.faultWorld) : undefined;
  const result = await store.runs.createRun(run, operator, claim, seed);
  if (!result.created) throw clustersBusy(result.busy, Date.now(), doing);
  const recorded = await store.runs.getRun(run.id);
  if (!recorded) throw new InternalError(`run ${run.id} was recorded but does not read back`);
  const injected = seed && faultsBefore ? await faultsAdded(store.worlds, seed.faultWorld, faultsBefore) : undefined;
  return { run: recorded, leaseToken, claimKeys, operator, injected };
}

export type ClaimedRun = Awaited<ReturnType<typeof claimNewRun>>;

// A run just recorded with its claim, ready to begin: its driver over the tools of its mode (a dry run's
// world), with what an uninstall-like run must know of what existed before.
export async function preparedNewRun(
  store: Store,
  claimed: ClaimedRun,
  config: MeshConfig,
  world: string,
  options: { listener?: ProgressListener; gatewayPollMs?: number; warnings?: string[]; answers?: AnswerBook } = {},
): Promise<PreparedRun> {
  const { run, leaseToken, claimKeys, operator } = claimed;
  const driver = new RunDriver({
    store: store.runs,
    tools: await toolsFor(run.mode, config, store, world),
    config,
    run,
    operator,
    leaseToken,
    claimKeys,
    ...(options.gatewayPollMs !== undefined ? { gatewayPollMs: options.gatewayPollMs } : {}),
    ...(await followUpDeps(store.runs, run)),
    ...(options.listener ? { listener: options.listener } : {}),
    ...(options.answers ? { answers: options.answers } : {}),
  });
  const ready = prepared(store, run, driver, () => driver.start(), undefined, options.warnings);
  const { injected } = claimed;
  if (!injected) return ready;
  // A run that succeeded says which of its injected failures never fired (the plan refused those it could).
  return {
    ...ready,
    async begin() {
      const finished = await ready.begin();
      if (finished.outcome.status !== 'succeeded') return finished;
      const unfired = await withdrawUnfired(store.worlds, injected, run.kind, finished.attempts);
      return unfired.length > 0 ? { ...finished, unfiredFaults: unfired } : finished;
    },
  };
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

// A prepared run: begin() drives it to its end and reads back how it ended, so no caller reads the store
// after the driver let go of it.
function prepared(
  store: Store,
  run: RunRecord,
  driver: RunDriver,
  drive: () => Promise<RunOutcome>,
  forcedDetail?: string,
  warnings: string[] = [],
): PreparedRun {
  return {
    run,
    driver,
    ...(forcedDetail ? { forcedDetail } : {}),
    ...(warnings.length > 0 ? { warnings } : {}),
    async begin() {
      const outcome = await drive();
      // A journal that refused a write is not read again: the outcome says what happened.
      if (outcome.storeError) return { outcome, run: undefined, attempts: [] };
      const [ended, attempts] = await Promise.all([store.runs.getRun(run.id), store.runs.listAttempts(run.id)]);
      return { outcome, run: ended, attempts };
    },
    close: () => store.close(),
  };
}

// A run's saved state must restore before it is resumed. A missing one is fine only for a run that never
// started a step (it starts from the beginning); otherwise resuming would run finished steps again.
function checkSavedState(run: RunRecord, attempts: number): void {
  const damaged = (why: string) =>
    new NotResumableError('state-damaged', `run ${run.id} cannot be resumed: its saved state is damaged (${why})`, {
      hint: `start a new ${run.kind} run; its steps are idempotent and converge on what this one did`,
    });
  const raw = run.snapshot?.trim() ?? '';
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
  if (!restorable(run.kind, snapshot)) throw damaged("it does not fit this run's workflow");
}

export const FORCED_UNINSTALL = 'uninstall --force';

// What an uninstall, cluster remove or secrets rotate needs besides its config: what existed before mesh-run
// acted, as the runs that made the mesh (its install and every cluster add since) and their verify runs
// recorded it, and whether it was started with --force.
async function followUpDeps(store: RunStore, run: RunRecord): Promise<{ inventory?: Inventory; force?: boolean }> {
  const kind = kindOf(run.kind);
  // A rollback puts back what its upgrade recorded before each change.
  if (kind.reverses && run.targetRun) {
    const observations = await store.listObservations([run.targetRun]);
    return { inventory: new Inventory(observations, [run.targetRun]) };
  }
  if (!kind.keepsWhatExisted) return {};
  const force = (await store.listEvents(run.id)).some((e) => e.type === 'forced' && (e.detail ?? '').startsWith(FORCED_UNINSTALL));
  if (!run.targetRun) return { force };
  const target = await store.getRun(run.targetRun);
  const lineage = target ? (await lineageOf(store, target)).map((r) => r.id) : [run.targetRun];
  const targeting = (await Promise.all(lineage.map((id) => store.listRunsTargeting(id)))).flat();
  const verifies = targeting.filter((r) => KINDS[r.kind].observesWhatExisted).map((r) => r.id);
  const observations = await store.listObservations([...lineage, ...verifies]);
  return { force, inventory: new Inventory(observations, [...new Set(observations.map((o) => o.runId))]) };
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

export interface ResumeRequest {
  id: string;
  store: StoreLocation;
  force: boolean;
  simulation: SimulationOptions;
  env?: Record<string, string | undefined>;
  // resume --from <step>[@cluster]: run that step and every later one again (a succeeded run too), why.
  from?: string;
  // A secrets rotate: go on without the sync gate from now on (journaled).
  skipSyncGate?: boolean;
  // An upgrade: go on without the waves' proxy gate from now on (journaled).
  skipProxyGate?: boolean;
  reason?: string;
}

// What resume --force may change in a run's config: timeouts, retries, tools and parallelism (and verify's
// sample source). Everything else decides which steps run, on which clusters, with which values: fixed
// when the run started.
const FORCE_MAY_CHANGE: ReadonlySet<string> = new Set(['timeouts', 'retry', 'tools', 'maxParallelRemotes', 'verify']);

function changedFields(before: MeshConfig, after: MeshConfig): string[] {
  const a: Record<string, unknown> = { ...before };
  const b: Record<string, unknown> = { ...after };
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k])).sort();
}

function refuseUnappliable(stored: MeshConfig, fresh: MeshConfig, path: string, runId: string): void {
  const refused = changedFields(stored, fresh).filter((k) => !FORCE_MAY_CHANGE.has(k));
  if (refused.length === 0) return;
  throw new UsageError(
    `${path}: ${refused.join(', ')} changed since run ${runId} started; resume --force applies changes to ${[...FORCE_MAY_CHANGE].join(', ')} only, since the rest decides which steps the run takes: start a new run to apply it`,
  );
}

// The run's refusals, in the order a user fixes them: finished, unknown, damaged, another version.
function checkResumable(run: RunRecord, attempts: number, rerun = false): void {
  if (run.status === 'succeeded' && !rerun)
    throw new NotResumableError('run-succeeded', `run ${run.id} already succeeded; there is nothing to resume`, {
      hint: `run steps again with "mesh-run resume ${run.id} --from <step>", or start a new run with "mesh-run ${run.kind}"`,
    });
  if (run.damaged.includes('kind'))
    throw new NotResumableError('run-kind', `run ${run.id} is of a kind this mesh-run does not know ("${run.storedKind.slice(0, 40)}")`, {
      hint: 'resume it with the mesh-run that started it, or start a new run',
    });
  // Nothing is changed (no lease, no "resumed") before the saved state is known to be usable.
  checkSavedState(run, attempts);
  const version = workflowOf(run.kind).version;
  if (run.machineVersion !== version) {
    throw new NotResumableError(
      'machine-version',
      `run ${run.id} was recorded by a different workflow version (${run.machineVersion}, this mesh-run has ${version})`,
      { hint: 'start a new run; the steps are idempotent' },
    );
  }
}

// The config a resumed run continues with: the one it recorded, or (with --force) its file as it is now.
interface ResumedConfig {
  config: MeshConfig;
  // What --force accepted, for the journal.
  detail?: string;
  // A changed file --force accepted: the run records it as its own.
  replacement?: { config: MeshConfig; hash: string };
  // What the operator must read before the run goes on (a config file --force did without).
  warnings?: string[];
}

function resumedConfig(run: RunRecord, force: boolean, env: Record<string, string | undefined>): ResumedConfig {
  const stored = runConfig(run);
  if (!run.configPath) return { config: stored };
  const read = readConfigFile(run.configPath);
  const text = 'text' in read ? read.text : undefined;
  const changed = text === undefined || hashText(text) !== run.configHash;
  if (!changed) return { config: stored };
  const problem = 'problem' in read ? read.problem : undefined;
  if (!force) {
    const what =
      text === undefined
        ? `config file ${run.configPath} ${problem === 'no such file' ? 'is gone' : `cannot be read (${problem ?? ''})`}`
        : `config file ${run.configPath} changed since run ${run.id} started`;
    throw new NotResumableError('config-changed', what, {
      hint: `resume with --force to continue ${text === undefined ? 'with the configuration recorded at start' : 'with the file as it is now (cluster names and contexts must stay the same)'}`,
    });
  }
  if (text === undefined) {
    const why = problem !== undefined && problem !== 'no such file' ? `cannot be read (${problem})` : 'missing';
    const warning = `config file ${run.configPath} is ${problem !== undefined && problem !== 'no such file' ? `unreadable (${problem})` : 'gone'}; --force continues with the configuration run ${run.id} recorded when it started`;
    return { config: stored, detail: `forced: config file ${run.configPath} ${why}; using the recorded configuration`, warnings: [warning] };
  }
  const fresh = parseConfigText(text, env, run.configPath);
  refuseUnappliable(stored, fresh, run.configPath, run.id);
  const hash = hashText(text);
  return {
    config: fresh,
    replacement: { config: fresh, hash },
    detail: `forced: config ${run.configHash.slice(0, 12)} -> ${hash.slice(0, 12)} (${changedFields(stored, fresh).join(', ')})`,
  };
}

// resume --skip-proxy-gate (an upgrade's waves) or --skip-sync-gate (a rotation's revocations): the run goes on
// without that gate, and records the change as its config. Bad input for a kind without that gate.
function withSkippedGate(run: RunRecord, settled: ResumedConfig, flag: SkippableGate['flag'], skip: boolean | undefined): ResumedConfig {
  if (!skip) return settled;
  const gate = kindOf(run.kind).skippableGate;
  if (gate?.flag !== flag || (flag === '--skip-proxy-gate' && !settled.config.upgrade)) {
    const owner = Object.values(KINDS).find((k) => k.skippableGate?.flag === flag)?.kind ?? '';
    throw new UsageError(`${flag} goes with ${withArticle(owner.replace('-', ' '))} run; run ${run.id} is ${withArticle(run.kind)}`);
  }
  const config = gate.skip(settled.config);
  const detail = gate.detail;
  return { ...settled, config, replacement: { config, hash: run.configHash }, detail: settled.detail ? `${settled.detail}; ${detail}` : `forced: ${detail}` };
}

// An upgrade that a rollback took back (or is taking back) has nothing left to continue: its new revision is
// gone, and its waves would move namespaces to a revision no injector serves.
async function refuseRolledBack(store: RunStore, upgrade: RunRecord): Promise<void> {
  const reversal = reversalOf(upgrade.kind);
  const rollback = (await store.listRunsTargeting(upgrade.id)).filter((r) => r.kind === reversal && r.mode === upgrade.mode).at(-1);
  if (!rollback) return;
  const meshID = runConfig(upgrade).meshID;
  if (rollback.status === 'succeeded')
    throw new NotResumableError('rolled-back', `upgrade ${upgrade.id} was rolled back by run ${rollback.id}; there is nothing to resume`, {
      hint: `start a new upgrade: mesh-run upgrade --mesh ${meshID} --revision <revision>`,
    });
  throw new NotResumableError('rollback-begun', `rollback run ${rollback.id} of upgrade ${upgrade.id} began (${rollback.status}): the upgrade cannot go on`, {
    hint: `finish the rollback: mesh-run resume ${rollback.id}`,
  });
}

// What a resume continues with, from the run as recorded: refused (nothing changed) if it cannot be resumed
// as asked; else the config it settles on, its simulated world, the steps --from runs again.
async function resumePlan(store: Store, run: RunRecord, request: ResumeRequest) {
  const attempts = await store.runs.listAttempts(run.id);
  // Bad input before the run's state: --skip-sync-gate names a step only secrets rotate has.
  if (request.skipSyncGate) withSkippedGate(run, { config: runConfig(run) }, '--skip-sync-gate', true);
  if (request.skipProxyGate) withSkippedGate(run, { config: runConfig(run) }, '--skip-proxy-gate', true);
  checkResumable(run, attempts.length, request.from !== undefined);
  if (reversalOf(run.kind)) await refuseRolledBack(store.runs, run);
  if (run.mode === 'real' && changesLoadBalancer(request.simulation)) {
    throw new UsageError(`--sim-* options apply to dry runs only; run ${run.id} is against real clusters`);
  }
  const settled = withSkippedGate(
    run,
    withSkippedGate(run, resumedConfig(run, request.force, request.env ?? process.env), '--skip-sync-gate', request.skipSyncGate),
    '--skip-proxy-gate',
    request.skipProxyGate,
  );
  const world = run.mode === 'dry-run' ? await worldSettings(store, run.simWorld) : undefined;
  if (run.mode === 'dry-run' && !world) throw new NotResumableError('sim-missing', `the simulated clusters of dry run ${run.id} are missing from the database`);
  const rerun = request.from === undefined ? undefined : planRerun(run.id, run.kind, request.from, slotsFor(run.kind, settled.config, attempts), attempts);
  return { settled, world, rerun };
}

// Checks that a run may be resumed, takes its lease, then checks again and settles which config it continues
// with from the run as it is once held (another driver may have moved it on, or finished it, meanwhile):
// a resume never acts on what it read before it held the run. Returns it ready to begin.
export async function prepareResume(request: ResumeRequest, listener?: ProgressListener): Promise<PreparedRun> {
  checkRunIdFormat(request.id);
  const store = await openStore(request.store, 'existing');
  try {
    const found = await findRun(store.runs, request.id);
    // Refused before anything changes: no lease is taken for a run that cannot be resumed as asked.
    await resumePlan(store, found, request);
    const operator = currentOperator();
    // Refuse a run another live process drives before saying anything about resuming it.
    const lease = await takeLease(store.runs, found.id, operator, clusterKeys(found.mode, runConfig(found), found.simWorld), Date.now());
    try {
      const run = await findRun(store.runs, found.id);
      const { settled, world, rerun } = await resumePlan(store, run, request);
      const driver = new RunDriver({
        store: store.runs,
        tools: await toolsFor(run.mode, settled.config, store, run.simWorld),
        config: settled.config,
        run,
        operator,
        leaseToken: lease.token,
        ...(lease.tookOverFrom ? { tookOverFrom: lease.tookOverFrom } : {}),
        ...(rerun ? { replay: rerun.replay } : {}),
        gatewayPollMs: pollFor(world?.latencyModel?.timeScale),
        claimKeys: clusterKeys(run.mode, settled.config, run.simWorld),
        ...(await followUpDeps(store.runs, run)),
        ...(listener ? { listener } : {}),
      });
      await driver.claim();
      // Only the holder changes the run: its config (--force accepted a new one), its simulated load balancer.
      if (settled.replacement) await store.runs.updateRunConfig(run.id, lease.token, settled.replacement.config, settled.replacement.hash);
      if (world) await resimulate(store, run.simWorld, world, request.simulation, Date.now());
      if (rerun) {
        const detail = `--from ${request.from}${request.reason ? ` (${request.reason})` : ''}: runs again ${rerun.rerun.join(', ')}`;
        return prepared(store, run, driver, () => driver.rerun(detail), settled.detail, settled.warnings);
      }
      return prepared(store, run, driver, () => driver.resume(settled.detail), settled.detail, settled.warnings);
    } catch (error) {
      // Refused once held (finished meanwhile, say): let go of the run as it was found.
      await store.runs.releaseLease(found.id, lease.token).catch(() => undefined);
      throw error;
    }
  } catch (error) {
    await store.close();
    throw error;
  }
}

export interface FollowUpRequest {
  kind: 'verify' | 'uninstall';
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

// The clusters a run claims while it is driven: real kube contexts, or the simulated world it acts on.
function clusterKeys(mode: RunMode, config: MeshConfig, world: string): string[] {
  return mode === 'dry-run' ? [`world:${world}`] : config.clusters.map((c) => `context:${c.context}`);
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
