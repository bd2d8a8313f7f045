// mesh-run status <id> and mesh-run runs: read the journal, never touch a cluster.
import { Command, Option } from 'commander';
import { recentRuns, runStatus, watchRunStatus } from '../../engine/run-queries.js';
import { checkRunIdFormat } from '../../engine/views/run-lookup.js';
import { UsageError } from '../../shared/errors.js';
import { dbOption, withStore } from '../common.js';
import type { Streams } from '../output.js';
import { renderRunStatus, renderRuns } from '../render/status.js';
import { untilInterrupted } from '../until-interrupted.js';

interface ReadOptions {
  db?: string;
  json?: boolean;
  limit?: string;
  watch?: boolean;
}

export function statusCommand(streams: Streams): Command {
  return new Command('status')
    .description("a run's status, and per step and cluster: status, attempts, times, last error")
    .argument('<id>', 'run id (or a unique prefix of it)')
    .addOption(dbOption())
    .option('--json', 'one JSON document on stdout (with --watch: one per line, per change)')
    .option('-w, --watch', 'keep showing it as it changes, driven from here or any other machine, until the run ends')
    .addHelpText(
      'after',
      '\nExample: follow a run CI is driving, from a laptop sharing its store\n  mesh-run status mr-k3x9p2qa --watch --store postgres://mesh@db.internal/mesh',
    )
    .action(async (id: string, options: ReadOptions) => {
      checkRunIdFormat(id);
      if (options.watch) return watchStatus(id, options, streams);
      const status = await withStore(options, (runs) => runStatus(runs, id));
      if (options.json) streams.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
      else streams.stdout.write(renderRunStatus(streams.stdout, status.run, status.steps));
    });
}

// Redraws the status on a terminal; elsewhere prints each new state under a time line (JSON: one per line).
async function watchStatus(id: string, options: ReadOptions, streams: Streams): Promise<void> {
  const redraw = !options.json && Boolean((streams.stdout as NodeJS.WriteStream).isTTY);
  const last = await untilInterrupted((signal) =>
    withStore(options, (runs) =>
      watchRunStatus(
        runs,
        id,
        (view) => {
          if (options.json) streams.stdout.write(`${JSON.stringify(view)}\n`);
          else if (redraw) streams.stdout.write(`\x1b[H\x1b[2J${renderRunStatus(streams.stdout, view.run, view.steps)}`);
          else streams.stdout.write(`-- ${new Date().toISOString().slice(11, 19)}\n${renderRunStatus(streams.stdout, view.run, view.steps)}\n`);
        },
        signal,
      ),
    ),
  );
  if (!options.json) {
    const end = last.run.status === 'running' ? `its driver is gone; "mesh-run resume ${last.run.id}" continues it` : `${last.run.status}`;
    streams.stderr.write(`run ${last.run.id} ${end}\n`);
  }
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
