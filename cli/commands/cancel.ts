// mesh-run cancel <id>: stop a run driven by another process (another terminal, a CI job, another host).
import { Command } from 'commander';
import { ExitCode } from '../../shared/errors.js';
import { dbOption, parseDelayOption } from '../common.js';
import { ExitRequest } from '../exit.js';
import type { Streams } from '../output.js';

interface CancelOptions {
  wait?: string;
  db?: string;
  store?: string;
  json?: boolean;
}

export function cancelCommand(streams: Streams): Command {
  return new Command('cancel')
    .description('ask the live driver of a run, wherever it runs, to stop it (through the store); the run ends interrupted and stays resumable')
    .argument('<id>', 'run id (or a unique prefix of it)')
    .option('--wait <duration>', 'how long to wait for the driver to stop the run (default 30s)')
    .option('--json', 'one JSON document on stdout')
    .addOption(dbOption())
    .addHelpText(
      'after',
      `
Examples:
  mesh-run cancel mr-k3x9p2qa                 stop the install another terminal is driving
  mesh-run cancel mr-k3x9p2qa --store postgres://ci@db/mesh   a run a CI job drives against the team store

The request is journaled with who made it; the driver stops its kubectl and istioctl processes and records
"cancelled by <user>@<host>". "mesh-run resume <id>" continues the run later.

Exit codes: 0 cancelled (or it ended by itself meanwhile), 2 bad input, 3 the run is not running, has no live
driver, or is still running after --wait, 4 no such run.`,
    )
    .action(async (id: string, options: CancelOptions) => {
      const [{ cancelRun }, { storeLocation }] = await Promise.all([import('../../engine/run-api.js'), import('../../engine/composition.js')]);
      const waitMs = parseDelayOption(options.wait, '--wait') ?? 30_000;
      const result = await cancelRun({ id, store: storeLocation(options), waitMs });
      const holder = `pid ${result.holder.pid} on ${result.holder.host}`;
      if (options.json) {
        streams.stdout.write(`${JSON.stringify({ run: result.runId, outcome: result.outcome, status: result.status, driver: result.holder }, null, 2)}\n`);
      } else if (result.outcome === 'interrupted') {
        streams.stdout.write(`run ${result.runId} cancelled: its driver (${holder}) stopped it; "mesh-run resume ${result.runId}" continues it\n`);
      } else if (result.outcome === 'finished') {
        streams.stdout.write(`run ${result.runId} ended ${result.status} before its driver saw the request\n`);
      } else {
        streams.stderr.write(
          `mesh-run: error: run ${result.runId} is still running after ${options.wait ?? '30s'}: its driver (${holder}) has not stopped it yet\n`,
        );
        streams.stderr.write('mesh-run: hint: the request stays in the journal; the driver acts on it when it next reads it\n');
      }
      if (result.outcome === 'waiting') throw new ExitRequest(ExitCode.precondition);
    });
}
