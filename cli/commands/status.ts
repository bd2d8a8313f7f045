// mesh-run status <id> and mesh-run runs: read the journal, never touch a cluster.
import { Command, Option } from 'commander';
import { checkRunIdFormat, type RunStatusView, recentRuns, runStatus, watchRunStatus } from '../../engine/query-api.js';
import { UsageError } from '../../shared/errors.js';
import { dbOption, withStore } from '../common.js';
import type { Streams } from '../output.js';
import { addOutputOption, formatOf, type OutputFlags, renderDocument } from '../output-format.js';
import { renderRunStatus, renderRuns, runsCsv, statusChanges, statusCsv } from '../render/status.js';
import { untilInterrupted } from '../until-interrupted.js';

interface ReadOptions extends OutputFlags {
  db?: string;
  limit?: string;
  watch?: boolean;
}

export function statusCommand(streams: Streams): Command {
  return addOutputOption(
    new Command('status')
      .description("a run's status, and per step and cluster: status, attempts, times, last error")
      .argument('<id>', 'run id (or a unique prefix of it)')
      .addOption(dbOption()),
    STATUS_FORMATS,
    'output format (with --watch, json is one document per line, per change)',
  )
    .option('-w, --watch', 'keep showing it as it changes, driven from here or any other machine, until the run ends')
    .addHelpText(
      'after',
      `
Examples:
  mesh-run status mr-k3x9p2qa                 where the run stands, per step and cluster
  mesh-run status mr-k3x9p2qa -o yaml
  mesh-run status mr-k3x9p2qa --watch --store postgres://mesh@db.internal/mesh
                                              follow a run CI is driving, from a laptop sharing its store

Exit codes: 0 shown, 2 bad input, 3 store problem, 4 no such run.`,
    )
    .action(async (id: string, options: ReadOptions) => {
      checkRunIdFormat(id);
      const format = formatOf(options, STATUS_FORMATS);
      if (options.watch) return watchStatus(id, options, format, streams);
      const status = await withStore(options, (runs) => runStatus(runs, id));
      if (format === 'csv') streams.stdout.write(statusCsv(status.run, status.steps));
      else if (format !== 'text') streams.stdout.write(renderDocument(status, format));
      else streams.stdout.write(renderRunStatus(streams.stdout, status.run, status.steps));
    });
}

// Redraws the status on a terminal; elsewhere prints each new state under a time line (JSON: one per line).
async function watchStatus(id: string, options: ReadOptions, format: string, streams: Streams): Promise<void> {
  if (format === 'csv') throw new UsageError('-o csv with --watch: a CSV table holds one moment; watch with text (a line per change) or json');
  const redraw = format === 'text' && Boolean((streams.stdout as NodeJS.WriteStream).isTTY);
  // Where nothing can be redrawn (a pipe, a file, CI's log), the status is printed once, then a line per change.
  let shown: RunStatusView | undefined;
  const last = await untilInterrupted((signal) =>
    withStore(options, (runs) =>
      watchRunStatus(
        runs,
        id,
        (view) => {
          if (format === 'json') streams.stdout.write(`${JSON.stringify(view)}\n`);
          else if (format === 'yaml') streams.stdout.write(`---\n${renderDocument(view, 'yaml')}`);
          else if (redraw) streams.stdout.write(`\x1b[H\x1b[2J${renderRunStatus(streams.stdout, view.run, view.steps)}`);
          else streams.stdout.write(shown ? statusChanges(streams.stdout, shown, view) : `${renderRunStatus(streams.stdout, view.run, view.steps)}\n`);
          shown = view;
        },
        signal,
      ),
    ),
  );
  if (format === 'text') {
    const end = last.run.status === 'running' ? `its driver is gone; "mesh-run resume ${last.run.id}" continues it` : `${last.run.status}`;
    streams.stderr.write(`run ${last.run.id} ${end}\n`);
  }
}

const STATUS_FORMATS = ['text', 'json', 'yaml', 'csv'] as const;
const RUNS_FORMATS = ['text', 'json', 'yaml', 'csv'] as const;

export function runsCommand(streams: Streams): Command {
  return addOutputOption(
    new Command('runs')
      .description('the runs in the journal, newest first')
      .addOption(dbOption())
      .addOption(new Option('--limit <n>', 'how many runs to list').default('50')),
    RUNS_FORMATS,
  )
    .addHelpText(
      'after',
      `
Examples:
  mesh-run runs                               the latest 50 runs
  mesh-run runs --limit 500 -o csv > runs.csv

Exit codes: 0 listed, 2 bad input, 3 store problem.`,
    )
    .action(async (options: ReadOptions) => {
      const format = formatOf(options, RUNS_FORMATS);
      const limit = Number(options.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 100_000)
        throw new UsageError(`--limit "${options.limit}": expected a whole number from 1 to 100000`);
      const views = await withStore(options, (runs) => recentRuns(runs, limit));
      if (format === 'csv') streams.stdout.write(runsCsv(views));
      else if (format !== 'text') streams.stdout.write(renderDocument(views, format));
      else streams.stdout.write(renderRuns(streams.stdout, views));
    });
}
