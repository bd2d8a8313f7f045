// mesh-run graph: the machine as a diagram, generated from its definition; --run marks a run's progress.
import { Command, Option } from 'commander';
import { checkRunIdFormat, findRun } from '../../engine/run-lookup.js';
import { slotViews, stepMarks } from '../../engine/status-view.js';
import { dbOption, withStore } from '../common.js';
import type { Streams } from '../output.js';
import { toDot, toMermaid } from '../render/graph.js';

export function graphCommand(streams: Streams): Command {
  return new Command('graph')
    .description('the install machine as a diagram (states, guards, parallel remote regions)')
    .addOption(new Option('--format <format>', 'diagram language').choices(['mermaid', 'dot']).default('mermaid'))
    .option('--run <id>', "mark a run's completed, failed and current steps")
    .addOption(dbOption())
    .action(async (options: { format: 'mermaid' | 'dot'; run?: string; db?: string }) => {
      const { machineGraph } = await import('../../engine/machine-graph.js');
      let marks = new Map();
      if (options.run !== undefined) {
        checkRunIdFormat(options.run);
        const runId = options.run;
        marks = withStore(options, (store) => {
          const run = findRun(store, runId);
          return stepMarks(slotViews(run, store.listAttempts(run.id)), run.status);
        });
      }
      const graph = machineGraph();
      streams.stdout.write(options.format === 'dot' ? toDot(graph, marks) : toMermaid(graph, marks));
    });
}
