// drift --watch stays bounded in memory (npm run test:deep): 1,000 intervals of the watch loop with the real
// checker (checkDrift: the journal read, each simulated cluster read as on a real mesh, the comparison), the real
// repairer (watchRepairer: a repair run of kind repair, journaled) and the real journal hook (recordDriftCheck)
// against a simulated mesh, in this process, every 20 ms. Every 100 checks the mesh drifts (a remote secret
// deleted by hand) and the watch repairs it, so the change, journal-hook and repair paths run too, not only the
// quiet one. RSS and heap are measured after a warm-up of 100 checks and at the end, each after a full garbage
// collection: the heap must not grow by 3 MB (a report kept per check would, at some 4 KB each over 900 checks,
// plus the runs and stores opened for each), the RSS by 32 MB (pages V8 and SQLite keep once they have them count
// there, and vary with the machine's load). The figures are printed.
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, expect, it } from 'vitest';
import { storeLocation } from '../../engine/composition.js';
import type { DriftReport } from '../../engine/drift-service.js';
import type { WatchEvent } from '../../engine/drift-watch-model.js';
import { checkDrift, recordDriftCheck, watchDrift, watchRepairer } from '../../engine/run-api.js';
import { sleep } from '../../shared/sleep.js';
import { runCli, tempDir } from '../support/cli.js';
import { copyExamples } from '../support/examples.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

// Garbage not yet collected is not a leak: each sample is taken after a full collection (V8 collects lazily, and
// on a loaded machine it may not have for tens of MB, as one CI run showed: heap 44 -> 83 MB uncollected).
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;
const settled = (): NodeJS.MemoryUsage => {
  collect();
  collect();
  return process.memoryUsage();
};

const CHECKS = 1000;
const WARM_UP = 100;
const MB = 1024 * 1024;

it(`drift --watch: ${CHECKS} intervals with drift and repair every 100, the RSS flat after warm-up`, async () => {
  const examples = join(tmp.dir, 'examples');
  copyExamples(examples);
  const db = join(tmp.dir, 'watch.db');
  const installed = await runCli(['install', '--dry-run', '--sim-lb-delay', '0', '-q', '-c', join(examples, 'primary-remote.yaml'), '--db', db]);
  expect(installed.code, installed.stderr).toBe(0);
  const target = { meshRef: 'mesh1', store: storeLocation({ db }) };
  const { simCommand } = await import('../../engine/run-api.js');

  let checks = 0;
  let warm: NodeJS.MemoryUsage | undefined;
  const counts: Record<string, number> = {};
  const recorded: number[] = [];
  const started = Date.now();
  const check = async (): Promise<DriftReport> => {
    checks++;
    if (checks === WARM_UP) warm = settled();
    if (checks % 100 === 50) {
      const deleted = await simCommand({
        meshRef: 'mesh1',
        context: 'cluster1',
        tool: 'kubectl',
        args: ['-n', 'istio-system', 'delete', 'secret', 'istio-remote-secret-cluster2'],
        store: target.store,
      });
      expect(deleted.exitCode, deleted.stderr).toBe(0);
    }
    return checkDrift(target);
  };
  const summary = await watchDrift(
    {
      check,
      // The journal hook the CLI gives (a drift run per change), counted: what it is given must not be kept.
      onChange: async (_report, changes) => {
        recorded.push(changes.length);
        await recordDriftCheck(target);
      },
      repair: watchRepairer(target).repair,
      sleep,
      now: Date.now,
      emit: (e: WatchEvent) => {
        counts[e.type] = (counts[e.type] ?? 0) + 1;
      },
    },
    { intervalMs: 20, signal: new AbortController().signal, maxChecks: CHECKS },
  );
  const end = settled();
  const seconds = (Date.now() - started) / 1000;
  const at = warm as NodeJS.MemoryUsage;
  const growth = (end.rss - at.rss) / MB;
  console.log(
    [
      `drift --watch, ${summary.checks} checks in ${seconds.toFixed(1)} s (${((seconds * 1000) / summary.checks).toFixed(0)} ms a check with its 20 ms wait), ${summary.repairs} repair runs`,
      `events: ${JSON.stringify(counts)}; journal hook called ${recorded.length} times`,
      `RSS after ${WARM_UP} checks ${(at.rss / MB).toFixed(1)} MB, at the end ${(end.rss / MB).toFixed(1)} MB (${growth >= 0 ? '+' : ''}${growth.toFixed(1)} MB)`,
      `heap used (each after a full collection) ${(at.heapUsed / MB).toFixed(1)} MB -> ${(end.heapUsed / MB).toFixed(1)} MB`,
    ].join('\n'),
  );
  expect(summary.checks).toBe(CHECKS);
  // Each drift made was found and repaired, and found gone.
  expect(counts['drift-found']).toBeGreaterThanOrEqual(10);
  expect(counts['repair-ended']).toBe(summary.repairs);
  expect(summary.repairs).toBeGreaterThanOrEqual(10);
  expect(counts['drift-gone']).toBe(counts['drift-found']);
  // The hook: the first check and each check that changed something, not every interval.
  expect(recorded.length).toBeLessThan(CHECKS / 10);
  expect(growth).toBeLessThan(32);
  // What the process holds on to, garbage aside: a report or run kept per check would grow it by MBs.
  expect((end.heapUsed - at.heapUsed) / MB).toBeLessThan(3);
});
