// mesh-run report <id> --html FILE: one self-contained HTML page for a run.
import { writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { runReport } from '../../engine/run-queries.js';
import { checkRunIdFormat } from '../../engine/views/run-lookup.js';
import { PreconditionError, UsageError } from '../../shared/errors.js';
import { dbOption, withStore } from '../common.js';
import type { Streams } from '../output.js';
import { reportHtml } from '../render/report-html.js';

export function reportCommand(streams: Streams): Command {
  return new Command('report')
    .description("a run's summary, state diagram with progress, and Gantt timeline as one self-contained HTML file")
    .argument('<id>', 'run id (or a unique prefix of it)')
    .requiredOption('--html <file>', 'where to write the page')
    .addOption(dbOption())
    .action(async (id: string, options: { html: string; db?: string }) => {
      const { machineGraph } = await import('../../engine/views/machine-graph.js');
      checkRunIdFormat(id);
      const report = await withStore(options, (runs) => runReport(runs, id));
      const html = reportHtml(report.timeline, machineGraph(report.run.kind), report.marks);
      const runId = report.run.id;
      try {
        writeFileSync(options.html, html);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
        // A path that cannot be a file is bad input; a disk that refuses the bytes is the environment.
        const badPath = ['ENOENT', 'ENOTDIR', 'EISDIR', 'ENAMETOOLONG'].includes(code);
        const message = `--html ${options.html}: cannot write the file (${code})`;
        throw badPath ? new UsageError(message) : new PreconditionError('output-unwritable', message, { hint: 'free disk space or choose another file' });
      }
      streams.stdout.write(`wrote ${options.html} (run ${runId})\n`);
    });
}
