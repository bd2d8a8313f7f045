// overhead: the engine's own cost per transition with zero simulated latency, on each store.
import { join } from 'node:path';
import { openStore, type StoreLocation } from '../engine/composition.js';
import { prepareInstall } from '../engine/run-service.js';
import { configFor, ms, out, postgres, postgresAt, sqlite, work } from './harness.js';

export async function overhead(): Promise<void> {
  out('section', 'engine overhead with zero simulated latency (16 remotes)', '', '', '', '');
  out('store', 'wall time', 'transitions', 'per transition', '', '');
  const path = configFor(16);
  let commands = 0;
  const stores: Array<[string, StoreLocation]> = [
    ['durable SQLite (WAL, synchronous=FULL)', sqlite(join(work, 'overhead.db'))],
    ['in-memory SQLite', sqlite(':memory:')],
  ];
  const pg = postgres();
  if (pg) stores.push(['durable PostgreSQL (local server, fsync on, Unix socket)', postgresAt(pg, 'overhead')]);
  for (const [label, location] of stores) {
    // Warm once, then measure.
    for (let i = 0; i < 2; i++) {
      const started = performance.now();
      const prepared = await prepareInstall({ configPath: path, dryRun: true, injections: [], simulation: { loadBalancerDelayMs: 0 }, store: location });
      const finished = await prepared.begin();
      const elapsed = performance.now() - started;
      await prepared.close();
      if (finished.outcome.status !== 'succeeded') throw new Error('overhead run failed');
      // The same workflow journals the same commands on either store; count them where they outlive the run.
      if (location.kind === 'postgres' || location.path !== ':memory:') {
        const reader = await openStore(location, 'read-only');
        commands = (await reader.runs.listCommands(prepared.run.id)).length;
        await reader.close();
      }
      // Each attempt is opened and closed by a transition; each command is journaled before and after it runs.
      const transitions = finished.attempts.length * 2;
      if (i === 1) out(label, ms(elapsed), `${transitions} (+${commands} commands)`, ms(elapsed / transitions), '', '');
    }
  }
}
