// lifecycle: install, verify and uninstall on the same simulated clusters, and what generating a CA costs.
import { join } from 'node:path';
import { generateIntermediate, generateRoot } from '../engine/activities/trust/ca.js';
import { prepareFollowUp } from '../engine/run-service.js';
import { configFor, ms, out, sqlite, TIME_SCALE, work } from './harness.js';
import { timedInstall } from './timed-install.js';

// The three runs of the lifecycle on the same simulated clusters, and what generating a CA costs.
export async function lifecycle(): Promise<void> {
  out('section', `install, verify, uninstall (4 remotes, realistic latency, time scale ${TIME_SCALE})`, '', '', '', '');
  const db = join(work, 'lifecycle.db');
  const install = await timedInstall(configFor(4), db);
  out('install', ms(install.elapsed));
  for (const kind of ['verify', 'uninstall'] as const) {
    const started = performance.now();
    const prepared = await prepareFollowUp({ kind, runRef: install.runId, dryRun: false, injections: [], force: false, store: sqlite(db) });
    const { outcome } = await prepared.begin();
    const elapsed = performance.now() - started;
    await prepared.close();
    if (outcome.status !== 'succeeded') throw new Error(`${kind} did not succeed: ${outcome.error?.message ?? ''}`);
    out(kind, ms(elapsed), 'ratio to install', `${(elapsed / install.elapsed).toFixed(2)}`);
  }
  out('section', 'CA generation (root + one intermediate, median of 3)', '', '', '', '');
  for (const keySize of [2048, 4096] as const) {
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      const options = { keySize, rootDays: 3650, intermediateDays: 730 };
      await generateIntermediate(await generateRoot(options), 'cluster1', options);
      times.push(performance.now() - started);
    }
    out(`RSA ${keySize}`, ms(times.sort((a, b) => a - b)[1] as number));
  }
}
