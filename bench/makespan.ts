// makespan: install dry runs at the realistic latency model against the critical path and the sequential baseline.
import { join } from 'node:path';
import { loadConfig } from '../engine/config/mesh-config.js';
import { planInstall } from '../engine/plan.js';
import { criticalPath } from './critical-path.js';
import { configFor, MAX_PARALLEL, ms, out, rss, TIME_SCALE, work } from './harness.js';
import { sequentialBaseline } from './sequential-baseline.js';
import { timedInstall } from './timed-install.js';

// MESH_RUN_BENCH_REMOTES=1,4,16 picks the fleet sizes (default: up to 1024).
const FLEETS = (process.env.MESH_RUN_BENCH_REMOTES ?? '1,4,16,64,256,1024').split(',').map(Number);
// Past this many remotes the sequential baseline (the page run one remote after another) takes minutes and
// says nothing new: its cost grows linearly.
const BASELINE_UP_TO = 64;

export async function makespans(): Promise<void> {
  out('section', 'makespan at the realistic latency model', `time scale ${TIME_SCALE}`, '', '', '', '');
  out('remotes', 'makespan', 'critical path', 'ratio', 'sequential baseline', 'speed-up vs baseline', 'peak RSS so far');
  for (const n of FLEETS) {
    const path = configFor(n);
    const { config } = loadConfig(path);
    const run = await timedInstall(path, join(work, `makespan-${n}.db`));
    if (run.outcome.status !== 'succeeded') throw new Error(`bench run with ${n} remotes ended ${run.outcome.status}`);
    const plan = await planInstall(config);
    // Past MAX_PARALLEL remotes wait for a slot: the critical path (everything at once) is no longer the bound.
    const cp = criticalPath(plan.commands, config, run.runId);
    const comparable = n <= MAX_PARALLEL;
    const baseline = n <= BASELINE_UP_TO ? await sequentialBaseline(config, run.runId) : undefined;
    out(
      n,
      ms(run.elapsed),
      comparable ? ms(cp) : `${ms(cp)} (${MAX_PARALLEL} at once)`,
      comparable ? (run.elapsed / cp).toFixed(3) : '-',
      baseline === undefined ? '-' : ms(baseline),
      baseline === undefined ? '-' : `${(baseline / run.elapsed).toFixed(1)}x`,
      rss(),
    );
  }
}
