// mesh-run unlock <id>: release the lease of a run whose driver is gone (modelled on terraform force-unlock).
import { Command } from 'commander';
import { dbOption } from '../common.js';
import { confirm } from '../confirm.js';
import type { Streams } from '../output.js';

interface UnlockOptions {
  db?: string;
  store?: string;
  yes?: boolean;
  json?: boolean;
}

export function unlockCommand(streams: Streams): Command {
  return new Command('unlock')
    .description('release the lease of a run whose driver is gone (a crashed laptop, a cancelled CI job), so it can be resumed; journaled')
    .argument('<id>', 'run id (or a unique prefix of it)')
    .option('-y, --yes', 'do not ask for confirmation')
    .option('--json', 'one JSON document on stdout')
    .addOption(dbOption())
    .addHelpText(
      'after',
      `
Examples:
  mesh-run unlock mr-k3x9p2qa                 asks, then releases the lease of a driver that is gone
  mesh-run unlock mr-k3x9p2qa --yes           the same without asking (no terminal, CI)

A driver that dies is taken over automatically (at once on PostgreSQL, when its session ends; on SQLite when
its pid is gone on this host, or after 30 s without a heartbeat). unlock is for the rest: a holder on another
machine that will never come back. A holder known to be alive is refused.

Exit codes: 0 released (or there was no lease), 2 not confirmed, 3 the holder is alive or took the run meanwhile,
4 no such run.`,
    )
    .action(async (id: string, options: UnlockOptions) => {
      const [{ unlockRun }, { storeLocation }] = await Promise.all([import('../../engine/run-api.js'), import('../../engine/composition.js')]);
      const result = await unlockRun({
        id,
        store: storeLocation(options),
        confirm: (question) =>
          confirm(question, streams, { yes: Boolean(options.yes), refusal: 'unlock changes who may drive a run: confirm on a terminal, or pass --yes' }),
      });
      if (options.json) {
        streams.stdout.write(`${JSON.stringify({ run: result.runId, released: result.released ?? null }, null, 2)}\n`);
        return;
      }
      if (!result.released) streams.stdout.write(`run ${result.runId} holds no lease: nothing to unlock\n`);
      else
        streams.stdout.write(
          `released the lease of run ${result.runId} (pid ${result.released.pid} on ${result.released.host}); "mesh-run resume ${result.runId}" continues it\n`,
        );
    });
}
