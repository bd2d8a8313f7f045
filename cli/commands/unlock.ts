// mesh-run unlock <id>: release the lease of a run whose driver is gone (modelled on terraform force-unlock).
import { createInterface } from 'node:readline/promises';
import { Command } from 'commander';
import { UsageError } from '../../shared/errors.js';
import { dbOption } from '../common.js';
import type { Streams } from '../output.js';

interface UnlockOptions {
  db?: string;
  store?: string;
  yes?: boolean;
  json?: boolean;
}

// Asks on the terminal; only "yes" confirms. Without a terminal, --yes is the only way to confirm.
async function ask(question: string, streams: Streams, yes: boolean): Promise<boolean> {
  if (yes) return true;
  if (!process.stdin.isTTY) throw new UsageError('unlock changes who may drive a run: confirm on a terminal, or pass --yes');
  const prompt = createInterface({ input: process.stdin, output: streams.stderr });
  try {
    const answer = await prompt.question(`${question}\n  Only 'yes' will be accepted to confirm: `);
    return answer.trim() === 'yes';
  } finally {
    prompt.close();
  }
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
A driver that dies is taken over automatically (at once on PostgreSQL, when its session ends; on SQLite when
its pid is gone on this host, or after 30 s without a heartbeat). unlock is for the rest: a holder on another
machine that will never come back. A holder known to be alive is refused.

Exit codes: 0 released (or there was no lease), 2 not confirmed, 3 the holder is alive or took the run meanwhile,
4 no such run.`,
    )
    .action(async (id: string, options: UnlockOptions) => {
      const [{ unlockRun }, { storeLocation }] = await Promise.all([import('../../engine/store-service.js'), import('../../engine/composition.js')]);
      const result = await unlockRun({ id, store: storeLocation(options), confirm: (question) => ask(question, streams, Boolean(options.yes)) });
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
