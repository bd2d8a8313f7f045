// mesh-run store copy: move history between stores (a laptop's SQLite into the team's PostgreSQL).
// mesh-run store check / recover: is an SQLite journal intact; save what reads back from a damaged one.
import { Command } from 'commander';
import { storeLocation } from '../../engine/composition.js';
import { ExitCode, UsageError } from '../../shared/errors.js';
import { count } from '../../shared/words.js';
import { type CommonOptions, dbOption } from '../common.js';
import { ExitRequest } from '../exit.js';
import type { Streams } from '../output.js';
import { renderCheck, renderRecovery } from '../render/store-integrity.js';

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
      "\nExamples:\n  mesh-run store copy --from ./mesh-run.db --to postgres://mesh@db.internal/mesh\n  mesh-run store check --db ./mesh-run.db\n\nExit codes: see each sub-command's --help.",
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
          import('../../engine/run-api.js'),
          import('../../engine/composition.js'),
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
  store.addCommand(
    new Command('check')
      .description("read every page of an SQLite journal and say whether it is intact (SQLite's integrity_check); changes nothing")
      .addOption(dbOption())
      .option('--quick', 'quick_check: skips comparing each index with its table (about 4x faster on a large journal)')
      .option('--json', 'one JSON document on stdout')
      .addHelpText(
        'after',
        `
Every command that writes the journal runs quick_check when it opens the file, unless the file is exactly
as the last such command left it (a stamp beside it, <file>-checked, records that). This runs the full check.

Example:
  mesh-run store check --db ~/.local/state/mesh-run/mesh-run.db

Exit codes: 0 intact, 2 bad input (a PostgreSQL store), 3 damaged (or the file cannot be read).`,
      )
      .action(async (options: CommonOptions & { quick?: boolean }) => {
        const { checkStore } = await import('../../engine/run-api.js');
        const report = await checkStore(storeLocation(options), { quick: options.quick ?? false });
        const ok = report.problems.length === 0;
        streams.stdout.write(options.json ? `${JSON.stringify({ ok, ...report }, null, 2)}\n` : renderCheck(report, streams.stdout));
        if (!ok) throw new ExitRequest(ExitCode.precondition);
      }),
  );
  store.addCommand(
    new Command('recover')
      .description('copy every row that still reads back from a damaged SQLite journal into a new file; the damaged file is only read')
      .requiredOption('--from <file>', 'the damaged journal')
      .requiredOption('--to <file>', 'the new journal to write (must not exist)')
      .option('--json', 'one JSON document on stdout')
      .addHelpText(
        'after',
        `
A damaged page costs the rows it holds and no others. Rows whose parent was lost (an attempt without its
run) are left out. Check the result, then use it with --db, or move it in place of the damaged file.

Example:
  mesh-run store recover --from mesh-run.db --to mesh-run-recovered.db && mesh-run runs --db mesh-run-recovered.db

Exit codes: 0 written, 2 bad input (--to exists, a PostgreSQL store), 3 nothing can be read from --from.`,
      )
      .action(async (options: { from: string; to: string; json?: boolean }) => {
        const [{ recoverStore }, { parseStoreLocation }] = await Promise.all([import('../../engine/run-api.js'), import('../../engine/composition.js')]);
        const report = await recoverStore(parseStoreLocation(options.from, '--from'), parseStoreLocation(options.to, '--to'));
        streams.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : renderRecovery(report));
      }),
  );
  return store;
}
