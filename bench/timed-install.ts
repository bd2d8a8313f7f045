// One dry-run install at the realistic latency model, timed: the run most sections measure.
import { prepareInstall } from '../engine/run-service.js';
import { sqlite, TIME_SCALE } from './harness.js';

// One dry run at the realistic latency model; returns its wall time and id.
export async function timedInstall(configPath: string, dbPath: string, extra: Partial<Parameters<typeof prepareInstall>[0]> = {}) {
  const started = performance.now();
  const prepared = await prepareInstall({
    configPath,
    dryRun: true,
    injections: [],
    simulation: { realisticLatency: { timeScale: TIME_SCALE } },
    store: sqlite(dbPath),
    ...extra,
  });
  const { outcome } = await prepared.begin();
  const elapsed = performance.now() - started;
  await prepared.close();
  return { elapsed, runId: prepared.run.id, outcome };
}
