// Options and helpers shared by the verbs.
import { Option } from 'commander';
import { openStore, storeLocation } from '../engine/composition.js';
import { parseDuration } from '../shared/durations.js';
import { UsageError } from '../shared/errors.js';
import type { RunStore } from '../store/contract.js';
import { maskPassword } from '../store/location.js';
import { displayArgv } from './render/argv.js';

export interface CommonOptions {
  db?: string;
  // The global --store (copied onto the verb's options before it runs).
  store?: string;
  json?: boolean;
}

export function dbOption(): Option {
  return new Option('--db <file>', 'SQLite journal (default: $MESH_RUN_STORE, else $MESH_RUN_DB, else $XDG_STATE_HOME/mesh-run/mesh-run.db)');
}

export function storeOption(): Option {
  return new Option(
    '--store <url>',
    'the store: postgres://… (a team database; ?schema=, default mesh_run), sqlite:<path> or a path (default: $MESH_RUN_STORE)',
  );
}

// "mesh-run resume <id>", with --db or --store when the store is not the default one (a URL's password masked:
// give it again through PGPASSWORD or PGPASSFILE).
export function resumeHint(options: CommonOptions): (runId: string) => string {
  const where = options.store !== undefined ? ['--store', maskPassword(options.store)] : options.db ? ['--db', options.db] : [];
  return (runId) => displayArgv(['mesh-run', 'resume', runId, ...where]);
}

export function parseDelayOption(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = parseDuration(value);
  if (ms === undefined || ms > 24 * 3_600_000) throw new UsageError(`${flag} "${value}": expected a duration such as 500ms, 5s or 2m`);
  return ms;
}

export const LB_MODES = ['ip', 'hostname', 'none'] as const;

// Opens the journal for a read-only verb (it must already exist), runs `fn`, and closes it.
export async function withStore<T>(options: CommonOptions, fn: (runs: RunStore) => Promise<T>): Promise<T> {
  const store = await openStore(storeLocation(options), 'read-only');
  try {
    return await fn(store.runs);
  } finally {
    await store.close();
  }
}
