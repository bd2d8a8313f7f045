// mesh-run status <id> and mesh-run runs: read the journal, never touch a cluster.
import { Command, Option } from 'commander';
import { isLeaseStale } from '../../engine/lease.js';
import { checkRunIdFormat, findRun } from '../../engine/run-lookup.js';
import { runView, slotViews } from '../../engine/status-view.js';
import { UsageError } from '../../shared/errors.js';
import { dbOption, withStore } from '../common.js';
import type { Streams } from '../output.js';
import { renderRunStatus, renderRuns } from '../render/status.js';

interface ReadOptions {
  db?: string;
  json?: boolean;
  limit?: string;
}

export function statusCommand(streams: Streams): Command {
  return new Command('status')
    .description("a run's status, and per step and cluster: status, attempts, times, last error")
    .argument('<id>', 'run id (or a unique prefix of it)')
    .addOption(dbOption())
    .option('--json', 'one JSON document on stdout')
    .action((id: string, options: ReadOptions) => {
      checkRunIdFormat(id);
      withStore(options, (store) => {
        const run = findRun(store, id);
        const attempts = store.listAttempts(run.id);
        const view = runView(run, attempts, Date.now(), (r) => isLeaseStale(r), store.listEvents(run.id));
        const slots = slotViews(run, attempts);
        if (options.json) streams.stdout.write(`${JSON.stringify({ run: view, steps: slots }, null, 2)}\n`);
        else streams.stdout.write(renderRunStatus(streams.stdout, view, slots));
      });
    });
}

export function runsCommand(streams: Streams): Command {
  return new Command('runs')
    .description('the runs in the journal, newest first')
    .addOption(dbOption())
    .addOption(new Option('--limit <n>', 'how many runs to list').default('50'))
    .option('--json', 'one JSON array on stdout')
    .action((options: ReadOptions) => {
      const limit = Number(options.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 100_000)
        throw new UsageError(`--limit "${options.limit}": expected a whole number from 1 to 100000`);
      withStore(options, (store) => {
        const now = Date.now();
        const views = store.listRuns(limit).map((run) => runView(run, store.listAttempts(run.id), now, (r) => isLeaseStale(r, now), store.listEvents(run.id)));
        if (options.json) streams.stdout.write(`${JSON.stringify(views, null, 2)}\n`);
        else streams.stdout.write(renderRuns(streams.stdout, views));
      });
    });
}
