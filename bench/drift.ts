// drift: what one drift check of a primary-remote mesh costs as it grows (2, 16 and 64 remotes): the tool
// processes it starts (kubectl and istioctl calls; a real check starts one process for each) and its wall time
// at the realistic latency model, median of 3 checks on a mesh with no drift.

import { join } from 'node:path';
import type { ClusterTools } from '../adapters/cluster-tools.js';
import { compareMesh } from '../engine/activities/drift.js';
import { readDrift } from '../engine/activities/drift-reads.js';
import { openStore, toolsFor } from '../engine/composition.js';
import { membershipConfig } from '../engine/views/run-config.js';
import { configFor, ms, out, sqlite, TIME_SCALE, work } from './harness.js';
import { timedInstall } from './timed-install.js';

// The tools, counting every command they are asked to run (a pipe is two processes).
function counting(tools: ClusterTools): { tools: ClusterTools; calls: () => number } {
  let calls = 0;
  return {
    calls: () => calls,
    tools: {
      mode: tools.mode,
      run: (command, options) => {
        calls += 1;
        return tools.run(command, options);
      },
      pipe: (source, sink, options) => {
        calls += 2;
        return tools.pipe(source, sink, options);
      },
      presentToken: (probe, options) => {
        calls += 1;
        return tools.presentToken(probe, options);
      },
    },
  };
}

export async function driftCost(): Promise<void> {
  out('section', `drift check of a primary-remote mesh (realistic latency, time scale ${TIME_SCALE}; median of 3)`, '', '', '', '');
  for (const remotes of [2, 16, 64]) {
    const db = join(work, `drift-${remotes}.db`);
    const install = await timedInstall(configFor(remotes), db);
    if (install.outcome.status !== 'succeeded') throw new Error(`the install of ${remotes} remotes did not succeed`);
    const store = await openStore(sqlite(db), 'existing');
    try {
      const run = await store.runs.getRun(install.runId);
      if (!run) throw new Error(`run ${install.runId} is missing`);
      const config = membershipConfig(run);
      const times: number[] = [];
      let processes = 0;
      let items = 0;
      for (let i = 0; i < 3; i++) {
        const probe = counting(await toolsFor('dry-run', config, store, run.simWorld));
        const started = performance.now();
        const result = compareMesh({ config, cacerts: new Set() }, await readDrift(config, probe.tools));
        times.push(performance.now() - started);
        processes = probe.calls();
        items = result.items.length;
      }
      const median = times.sort((a, b) => a - b)[1] as number;
      out(
        `${remotes} remotes`,
        ms(median),
        'tool processes',
        `${processes} (${(processes / (remotes + 1)).toFixed(1)} per cluster)`,
        'drift items',
        `${items}`,
      );
    } finally {
      await store.close();
    }
  }
}
