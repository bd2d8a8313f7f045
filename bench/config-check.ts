// config-check: mesh-run config check on the largest fleets.
import { spawnSync } from 'node:child_process';
import { loadConfig } from '../engine/config/mesh-config.js';
import { meshView } from '../engine/views/mesh-view.js';
import { cli, configFor, mixedConfigFor, ms, out } from './harness.js';

// mesh-run config check on the largest fleets: the command as a user runs it (a process, start-up included) and
// the view it prints alone (load the config, derive the view), each the median of 3.
export async function configCheck(): Promise<void> {
  out('section', 'config check (median of 3)', '', '', '');
  out('fleet', 'mesh-run config check', 'load + meshView, in process', '', '');
  const median3 = async (fn: () => unknown) => {
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t = performance.now();
      await fn();
      times.push(performance.now() - t);
    }
    return times.sort((a, b) => a - b)[1] as number;
  };
  for (const n of [256, 1024]) {
    for (const [label, path] of [
      [`primary-remote, ${n} remotes`, configFor(n)],
      // The same number of clusters (a mesh has at most 1025).
      [`mixed, 2 primaries, ${n - 1} remotes, 2 networks`, mixedConfigFor(n - 1)],
    ] as const) {
      const cliTime = await median3(() => {
        const r = spawnSync(process.execPath, [cli, 'config', 'check', '-c', path], { stdio: 'ignore' });
        if (r.status !== 0) throw new Error(`config check of ${label} exited ${r.status}`);
      });
      const viewTime = await median3(() => meshView(loadConfig(path).config));
      out(label, ms(cliTime), ms(viewTime), '', '');
    }
  }
}
