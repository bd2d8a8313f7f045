// Why a run cannot be resumed: finished, of an unknown kind, damaged, recorded by another workflow version,
// or an upgrade a rollback took back.
import { NotResumableError } from '../shared/errors.js';
import { count } from '../shared/words.js';
import type { RunRecord, RunStore } from '../store/contract.js';
import { reversalOf } from './kinds/registry.js';
import { restorable, workflowOf } from './kinds/workflows.js';
import { runConfig } from './views/run-config.js';

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

// The run's refusals, in the order a user fixes them: finished, unknown, damaged, another version.
export function checkResumable(run: RunRecord, attempts: number, rerun = false): void {
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

// An upgrade that a rollback took back (or is taking back) has nothing left to continue: its new revision is
// gone, and its waves would move namespaces to a revision no injector serves.
export async function refuseRolledBack(store: RunStore, upgrade: RunRecord): Promise<void> {
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
