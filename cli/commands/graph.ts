// mesh-run graph: the machine as a diagram, generated from its definition; --run marks a run's progress.
import { Command, Option } from 'commander';
import { checkRunIdFormat, runProgress } from '../../engine/query-api.js';
import { RUN_KINDS, type RunKind } from '../../engine/types.js';
import { UsageError } from '../../shared/errors.js';
import { withArticle } from '../../shared/words.js';
import { dbOption, withStore } from '../common.js';
import type { Streams } from '../output.js';
import { addOutputOption, formatOf, type OutputFlags, renderDocument } from '../output-format.js';

const GRAPH_FORMATS = ['mermaid', 'dot', 'json'] as const;

import { toDot, toMermaid } from '../render/graph.js';

export function graphCommand(streams: Streams): Command {
  return addOutputOption(
    new Command('graph').description("a run kind's machine as a diagram (states, guards, parallel per-cluster regions)"),
    GRAPH_FORMATS,
    'diagram language',
  )
    .addOption(new Option('--format <format>', 'the same as -o').choices(GRAPH_FORMATS).hideHelp())
    .addOption(new Option('--kind <kind>', 'which workflow (default: install, or the kind of --run)').choices(RUN_KINDS))
    .option('--run <id>', "mark a run's completed, failed and current steps")
    .addOption(dbOption())
    .addHelpText(
      'after',
      `
Examples:
  mesh-run graph                              the install machine as Mermaid
  mesh-run graph --kind uninstall -o dot | dot -Tsvg > uninstall.svg
  mesh-run graph --run mr-k3x9p2qa            with that run's finished, failed and current steps marked

Exit codes: 0 drawn, 2 bad input, 3 store problem, 4 no such run.`,
    )
    .action(async (options: OutputFlags & { run?: string; db?: string; kind?: RunKind }) => {
      const format = formatOf(options, GRAPH_FORMATS);
      const { machineGraph } = await import('../../engine/run-api.js');
      let marks = new Map();
      let kind: RunKind = options.kind ?? 'install';
      if (options.run !== undefined) {
        checkRunIdFormat(options.run);
        const runId = options.run;
        const progress = await withStore(options, (runs) => runProgress(runs, runId));
        const run = progress.run;
        if (options.kind !== undefined && options.kind !== run.kind)
          throw new UsageError(`--kind ${options.kind}: run ${run.id} is ${withArticle(run.kind)} run; drop --kind`);
        kind = run.kind;
        marks = progress.marks;
      }
      const graph = machineGraph(kind);
      streams.stdout.write(format === 'dot' ? toDot(graph, marks) : format === 'json' ? renderDocument(graph, 'json') : toMermaid(graph, marks));
    });
}
