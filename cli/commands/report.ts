// mesh-run report <id> [-o FILE]: one self-contained HTML page for a run (<id>.html by default).
import { writeFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { checkRunIdFormat, runReport } from '../../engine/query-api.js';
import { PreconditionError, UsageError } from '../../shared/errors.js';
import { dbOption, withStore } from '../common.js';
import type { Streams } from '../output.js';
import { reportHtml } from '../render/report-html.js';

export function reportCommand(streams: Streams): Command {
  return new Command('report')
    .description("a run's summary, state diagram with progress, and Gantt timeline as one self-contained HTML file")
    .argument('<id>', 'run id (or a unique prefix of it)')
    .option('-o, --output <file>', 'where to write the page (default: <run id>.html in this directory)')
    .addOption(new Option('--html <file>', 'the same as -o').hideHelp())
    .addOption(dbOption())
    .addHelpText(
      'after',
      `
Examples:
  mesh-run report mr-k3x9p2qa                 writes mr-k3x9p2qa.html
  mesh-run report mr-k3x9p2qa -o /tmp/install-report.html

Exit codes: 0 written, 2 bad input (a path that cannot be a file), 3 store or disk problem, 4 no such run.`,
    )
    .action(async (id: string, options: { output?: string; html?: string; db?: string }) => {
      if (options.output !== undefined && options.html !== undefined && options.output !== options.html)
        throw new UsageError('-o and --html name two files: give one');
      const { machineGraph } = await import('../../engine/run-api.js');
      checkRunIdFormat(id);
      const report = await withStore(options, (runs) => runReport(runs, id));
      const html = reportHtml(report.timeline, machineGraph(report.run.kind), report.marks);
      const runId = report.run.id;
      const file = options.output ?? options.html ?? `${runId}.html`;
      try {
        writeFileSync(file, html);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
        // A path that cannot be a file is bad input; a disk that refuses the bytes is the environment.
        const badPath = ['ENOENT', 'ENOTDIR', 'EISDIR', 'ENAMETOOLONG'].includes(code);
        const message = `${options.html !== undefined ? '--html' : '-o'} ${file}: cannot write the file (${code})`;
        throw badPath ? new UsageError(message) : new PreconditionError('output-unwritable', message, { hint: 'free disk space or choose another file' });
      }
      streams.stdout.write(`wrote ${file} (run ${runId})\n`);
    });
}
