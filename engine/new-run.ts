// A new run of any kind: recorded with its lease and its claim on its clusters, then ready to begin.

import { randomUUID } from 'node:crypto';
import { outwaitBusy } from '../shared/busy-wait.js';
import { InternalError } from '../shared/errors.js';
import type { MeshConfig } from '../shared/model.js';
import type { NewRun, Store, WorldSeed } from '../store/contract.js';
import type { AnswerBook } from './activities/answer-book.js';
import { toolsFor } from './composition.js';
import { followUpDeps } from './follow-up-deps.js';
import { KINDS } from './kinds/registry.js';
import { clusterKeys, type PreparedRun, prepared } from './prepared-run.js';
import { holderAlive, LEASE_STALE_MS } from './runtime/lease.js';
import type { ProgressListener } from './runtime/progress-events.js';
import { clustersBusy, currentOperator, leaseFor, RunDriver } from './runtime/run-driver.js';
import { faultIdsBefore, faultsAdded, withdrawUnfired } from './runtime/unfired-faults.js';

// Records a new run with its lease and its claim on its clusters (and a dry run's world), in one
// transaction; exit 3 naming the run that holds them when another live run does. A store busy with another
// process's write is waited out with a run's own patience: the transaction did not begin, so trying it again is
// safe, and runs started side by side on one file all start. `stop` ends that wait early (a signal).
export async function claimNewRun(store: Store, run: NewRun, world: string, seed?: WorldSeed, stop?: () => boolean) {
  const doing = KINDS[run.kind].doing(run.config);
  const operator = currentOperator();
  const leaseToken = randomUUID();
  const claimKeys = clusterKeys(run.kind, run.mode, run.config, world);
  const claim = { lease: leaseFor(operator, leaseToken, run.createdAt), keys: claimKeys, staleAfterMs: LEASE_STALE_MS, isAlive: holderAlive };
  const faultsBefore = seed && seed.faults.length > 0 ? await faultIdsBefore(store.worlds, seed.faultWorld) : undefined;
  const result = await outwaitBusy(() => store.runs.createRun(run, operator, claim, seed), stop);
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
