// Options and helpers shared by the verbs.
import { Option } from 'commander';
import { parseDuration } from '../shared/durations.js';
import { UsageError } from '../shared/errors.js';
import { defaultDbPath } from '../store/db-path.js';
import { openDb } from '../store/open-db.js';
import { createSqliteRunStore } from '../store/sqlite-run-store.js';
import type { RunStore } from '../store/types.js';
import { displayArgv } from './render/argv.js';

export interface CommonOptions {
  db?: string;
  json?: boolean;
}

export function dbOption(): Option {
  return new Option('--db <file>', 'SQLite journal (default: $MESH_RUN_DB, else $XDG_STATE_HOME/mesh-run/mesh-run.db)');
}

export function dbPath(options: CommonOptions): string {
  return options.db ?? defaultDbPath();
}

// "mesh-run resume <id>", with --db when the database is not the default one.
export function resumeCommand(options: CommonOptions): (runId: string) => string {
  return (runId) => displayArgv(['mesh-run', 'resume', runId, ...(options.db ? ['--db', options.db] : [])]);
}

export function parseDelayOption(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = parseDuration(value);
  if (ms === undefined || ms > 24 * 3_600_000) throw new UsageError(`${flag} "${value}": expected a duration such as 500ms, 5s or 2m`);
  return ms;
}

export const LB_MODES = ['ip', 'hostname', 'none'] as const;

// Opens the journal for a read-only verb (it must already exist), runs `fn`, and closes it.
export function withStore<T>(options: CommonOptions, fn: (store: RunStore) => T): T {
  const store = createSqliteRunStore(openDb(dbPath(options), { readOnly: true }));
  try {
    return fn(store);
  } finally {
    store.close();
  }
}
