// Injected failures that never fired. The fault parser refuses a step or slot the run's plan does not have,
// before anything is written; what only the run can tell is whether a wave exists at all (an upgrade cuts
// its waves while it runs) and whether a step issues the command the fault strikes (a step with nothing to
// do issues none). A run that succeeded with such a fault left says so, or a rehearsal of a failure would
// pass without having rehearsed it.
import { ALL_CLUSTERS, isStepId, slotLabel, stepInfo, waveNumber } from '../../machines/steps.js';
import { count } from '../../shared/words.js';
import type { SimFault, WorldStore } from '../../store/contract.js';

// The faults a run added to its simulated world, as they were when it was created.
export interface InjectedFaults {
  world: string;
  rows: SimFault[];
}

// Before the run is recorded: the faults its world holds already (an earlier run's leftovers).
export async function faultIdsBefore(worlds: WorldStore, world: string): Promise<Set<number>> {
  return new Set((await worlds.faults(world)).map((f) => f.id));
}

// Once it is recorded: the ones it added.
export async function faultsAdded(worlds: WorldStore, world: string, before: ReadonlySet<number>): Promise<InjectedFaults> {
  return { world, rows: (await worlds.faults(world)).filter((f) => !before.has(f.id)) };
}

// At the end of a run that succeeded: one line per added fault whose count never went down, saying why it
// could not fire. Each is withdrawn: left armed, it would strike a later run on this world by surprise.
export async function withdrawUnfired(
  worlds: WorldStore,
  injected: InjectedFaults,
  kind: string,
  attempts: ReadonlyArray<{ step: string; cluster: string }>,
): Promise<string[]> {
  if (injected.rows.length === 0) return [];
  const now = new Map((await worlds.faults(injected.world)).map((f) => [f.id, f.remaining]));
  const unfired = injected.rows.filter((f) => now.get(f.id) === f.remaining);
  if (unfired.length === 0) return [];
  await worlds.transact(injected.world, (objects) => {
    for (const f of unfired) {
      // The world hands out its faults oldest first: an older one for the same slot goes too.
      for (let left = f.remaining, tries = 0; left > 0 && tries < 10_000; tries++) {
        const taken = objects.takeFault(f.step, f.cluster ?? ALL_CLUSTERS);
        if (!taken) break;
        if (taken.id === f.id) left--;
      }
    }
  });
  return unfired.map((f) => `--inject-failure ${faultLabel(f)} never fired (withdrawn): ${whyNot(f, kind, attempts)}`);
}

function faultLabel(f: SimFault): string {
  return slotLabel(f.step, f.cluster ?? ALL_CLUSTERS);
}

function whyNot(f: SimFault, kind: string, attempts: ReadonlyArray<{ step: string; cluster: string }>): string {
  if (isStepId(f.step) && stepInfo(f.step).scope === 'wave') {
    const waves = Math.max(0, ...attempts.map((a) => waveNumber(a.cluster) ?? 0));
    const wanted = f.cluster === null ? 1 : (waveNumber(f.cluster) ?? 1);
    if (wanted > waves)
      return waves === 0 ? `this ${kind} cut no waves (it found no namespace to move)` : `this ${kind} cut ${count(waves, 'wave')}: there is no wave-${wanted}`;
  }
  const ran = attempts.filter((a) => a.step === f.step && (f.cluster === null || a.cluster === f.cluster || a.cluster === ALL_CLUSTERS));
  if (ran.length === 0) return `step ${f.step} never ran${f.cluster !== null ? ` on ${f.cluster}` : ''} in this ${kind}`;
  // A step of the whole mesh (preflight) may leave a cluster out; a step of a cluster may find nothing to do.
  if (f.cluster !== null && ran.every((a) => a.cluster === ALL_CLUSTERS)) return `${f.step} ran, but sent ${f.cluster} none of the commands the fault strikes`;
  return `${faultLabel(f)} ran, but had nothing to do, so it issued none of the commands the fault strikes`;
}
