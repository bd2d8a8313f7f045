// resume: refused before anything changes when the run cannot be resumed as asked; checked again once its lease is held.

import { NotResumableError, UsageError } from '../shared/errors.js';
import type { RunRecord, Store } from '../store/contract.js';
import { changesLoadBalancer, openStore, resimulate, type SimulationOptions, type StoreLocation, toolsFor, worldSettings } from './composition.js';
import { followUpDeps } from './follow-up-deps.js';
import { reversalOf } from './kinds/registry.js';
import { clusterKeys, type PreparedRun, pollFor, prepared } from './prepared-run.js';
import { checkResumable, refuseRolledBack } from './resume-checks.js';
import { resumedConfig, withSkippedGate } from './resumed-config.js';
import type { ProgressListener } from './runtime/progress-events.js';
import { planRerun } from './runtime/rerun-plan.js';
import { currentOperator, RunDriver, takeLease } from './runtime/run-driver.js';
import { runConfig } from './views/run-config.js';
import { checkRunIdFormat, findRun } from './views/run-lookup.js';
import { slotsFor } from './views/run-slots.js';

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
    const lease = await takeLease(store.runs, found.id, operator, clusterKeys(found.kind, found.mode, runConfig(found), found.simWorld), Date.now());
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
        claimKeys: clusterKeys(run.kind, run.mode, settled.config, run.simWorld),
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
