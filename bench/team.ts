// team: several drivers sharing one store.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { cli, configFor, ms, out, postgres, TIME_SCALE, work } from './harness.js';

// 8 drivers on 8 runs sharing one store, each a mesh-run process, against one run alone on that store.
export async function team(): Promise<void> {
  out('section', `8 drivers on 8 runs sharing one store (CLI processes, 2 remotes, realistic latency, time scale ${TIME_SCALE})`, '', '', '', '');
  out('store', 'one run alone', '8 at once (slowest)', 'slowdown', '', '');
  const config = configFor(2);
  const cliRun = (where: string[]) =>
    new Promise<number>((resolve, reject) => {
      const started = performance.now();
      const child = spawn(
        process.execPath,
        [cli, 'install', '--config', config, '--dry-run', '--sim-latency', 'realistic', '--time-scale', String(TIME_SCALE), '-q', ...where],
        { stdio: 'ignore' },
      );
      child.on('close', (code) => (code === 0 ? resolve(performance.now() - started) : reject(new Error(`install exited ${code}`))));
    });
  const stores: Array<[string, string[]]> = [['SQLite file', ['--db', join(work, 'team.db')]]];
  const pg = postgres();
  if (pg) stores.push(['PostgreSQL (local server)', ['--store', pg.url('team')]]);
  for (const [label, where] of stores) {
    await cliRun(where);
    const alone = await cliRun(where);
    const together = Math.max(...(await Promise.all(Array.from({ length: 8 }, () => cliRun(where)))));
    out(label, ms(alone), ms(together), `${(together / alone).toFixed(2)}x`, '', '');
  }
}
