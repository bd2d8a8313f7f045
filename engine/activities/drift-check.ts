// check-drift: a drift run's one step. It reads every cluster as "mesh-run drift" reads them (drift-reads.ts),
// through this step's runtime, so each command is journaled with the run, compares them with the journal
// (drift.ts) and records what it found (drift-record.ts). Reads only: run twice, it records the same again
// (the first record of a run stands). A token probed is held in memory only, as the reads always do.
import type { ClusterTools } from '../../adapters/cluster-tools.js';
import type { DriftCheckDone } from '../../machines/drift-machine.js';
import type { StepInput } from '../../machines/types.js';
import { expectedCacerts } from './cacerts-journal.js';
import { compareMesh } from './drift.js';
import { readDrift } from './drift-reads.js';
import { driftObservations, driftSummary } from './drift-record.js';
import type { ActivityDeps } from './install-common.js';
import type { StepRuntime } from './step-runtime.js';

// The step's runtime as the reads take their tools: each command and token probe goes through the step
// (journaled, cancelled with it, under its timeout), not straight to the tools.
function stepTools(rt: StepRuntime, mode: ClusterTools['mode']): ClusterTools {
  return {
    mode,
    run: (command) => rt.run(command),
    pipe: (source, sink) => rt.pipe(source, sink),
    presentToken: (probe) => rt.presentToken(probe),
  };
}

export async function checkDrift(rt: StepRuntime, _input: StepInput, deps: ActivityDeps): Promise<DriftCheckDone> {
  const config = deps.config;
  // What cacerts the mesh should have, from what its runs observed (deps.inventory: follow-up-deps.ts expectedInventory).
  const { cacerts, certs } = expectedCacerts(deps.inventory, config);
  const facts = await readDrift(config, stepTools(rt, deps.mode ?? 'real'));
  const result = compareMesh({ config, cacerts, certs }, facts);
  for (const observation of driftObservations(config, result)) await rt.observe(observation);
  await rt.report('drift', driftSummary(result));
  return { finishedAt: rt.now(), found: result.items.length, unread: result.unreadable.length };
}
