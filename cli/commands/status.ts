// mesh-run status <id> and mesh-run runs: read the journal, never touch a cluster.
import { Command, Option } from 'commander';
import { recentRuns, runStatus } from '../../engine/run-queries.js';
import { checkRunIdFormat } from '../../engine/views/run-lookup.js';
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
    .action(async (id: string, options: ReadOptions) => {
      checkRunIdFormat(id);
      const status = await withStore(options, (runs) => runStatus(runs, id));
      if (options.json) streams.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
      else streams.stdout.write(renderRunStatus(streams.stdout, status.run, status.steps));
    });
}

export function runsCommand(streams: Streams): Command {
  return new Command('runs')
    .description('the runs in the journal, newest first')
    .addOption(dbOption())
    .addOption(new Option('--limit <n>', 'how many runs to list').default('50'))
    .option('--json', 'one JSON array on stdout')
    .action(async (options: ReadOptions) => {
      const limit = Number(options.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 100_000)
        throw new UsageError(`--limit "${options.limit}": expected a whole number from 1 to 100000`);
      const views = await withStore(options, (runs) => recentRuns(runs, limit));
      if (options.json) streams.stdout.write(`${JSON.stringify(views, null, 2)}\n`);
      else streams.stdout.write(renderRuns(streams.stdout, views));
    });
}
