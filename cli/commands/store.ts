// mesh-run store copy: move history between stores (a laptop's SQLite into the team's PostgreSQL).
import { Command } from 'commander';
import { UsageError } from '../../shared/errors.js';
import { count } from '../../shared/words.js';
import type { Streams } from '../output.js';

interface CopyOptions {
  from: string;
  to: string;
  json?: boolean;
}

export function storeCommand(streams: Streams): Command {
  const store = new Command('store')
    .description('operations on a store as a whole')
    .addHelpText(
      'after',
      '\nExample:\n  mesh-run store copy --from ./mesh-run.db --to postgres://mesh@db.internal/mesh\n\nExit codes: see mesh-run store copy --help.',
    );
  store.addCommand(
    new Command('copy')
      .description('copy every run (attempts, commands, events, simulated clusters) from one store into another; idempotent by run id')
      .requiredOption('--from <store>', 'the source: a path, sqlite:<path> or postgres://… (read only)')
      .requiredOption('--to <store>', 'the target (created or migrated if needed)')
      .option('--json', 'one JSON document on stdout')
      .addHelpText(
        'after',
        `
Example: bring a laptop's history into the team store
  mesh-run store copy --from ~/.local/state/mesh-run/mesh-run.db --to postgres://mesh@db.internal/mesh

A run the target already has, identical, is left alone; a run that differs stops the copy before anything is
written (exit 3). Copy runs that are over: a running run goes on changing at its source.

Exit codes: 0 copied (or already there), 2 bad input, 3 a store cannot be opened or written, or a run differs.`,
      )
      .action(async (options: CopyOptions) => {
        const [{ copyStore, sameStore }, { parseStoreLocation }] = await Promise.all([
          import('../../engine/store-service.js'),
          import('../../store/location.js'),
        ]);
        const from = parseStoreLocation(options.from, '--from');
        const to = parseStoreLocation(options.to, '--to');
        if (sameStore(from, to)) throw new UsageError('--from and --to name the same store');
        const report = await copyStore(from, to);
        if (options.json) {
          streams.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
          return;
        }
        const worlds = report.worlds.length ? ` and ${count(report.worlds.length, 'simulated world')}` : '';
        streams.stdout.write(`copied ${count(report.copied.length, 'run')}${worlds}; ${count(report.present.length, 'run')} already there\n`);
      }),
  );
  return store;
}
