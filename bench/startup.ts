// startup: the CLI's start-up against node's own.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { prepareInstall } from '../engine/run-service.js';
import { cli, configFor, ms, out, sqlite, work } from './harness.js';

export async function startup(): Promise<void> {
  out('section', 'CLI start-up (median of 15)', '', '', '', '');
  // A journal with a few runs for `mesh-run runs` to list.
  const db = join(work, 'startup.db');
  for (let i = 0; i < 5; i++) {
    const prepared = await prepareInstall({
      configPath: configFor(2),
      dryRun: true,
      injections: [],
      simulation: { loadBalancerDelayMs: 0 },
      store: sqlite(db),
    });
    await prepared.begin();
    await prepared.close();
  }
  const median = (args: string[]) => {
    const times: number[] = [];
    for (let i = 0; i < 15; i++) {
      const t = performance.now();
      const r = spawnSync(process.execPath, args, { stdio: 'ignore' });
      if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}`);
      times.push(performance.now() - t);
    }
    return times.sort((a, b) => a - b)[7] as number;
  };
  const node = median(['-e', '0']);
  const version = median([cli, '--version']);
  const runs = median([cli, 'runs', '--db', db]);
  out(
    'node -e 0',
    ms(node),
    'mesh-run --version',
    `${ms(version)} (${(version / node).toFixed(2)}x)`,
    'mesh-run runs',
    `${ms(runs)} (${(runs / node).toFixed(2)}x)`,
  );
}
