// Where the journal lives: an SQLite file (the embedded default), or a PostgreSQL database shared by a team.
// Chosen by --store / $MESH_RUN_STORE (a postgres:// URL, a sqlite: URL or a path), or --db / $MESH_RUN_DB
// (an SQLite path). A URL is only ever shown with its password masked.
import { homedir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../shared/errors.js';

export interface SqliteLocation {
  kind: 'sqlite';
  path: string;
}

export interface PostgresLocation {
  kind: 'postgres';
  // What node-postgres connects with: the URL without mesh-run's own `schema` parameter.
  connectionString: string;
  // Every table lives in this schema (default mesh_run), so the database can hold other applications.
  schema: string;
  // The URL for messages: password masked.
  display: string;
}

export type StoreLocation = SqliteLocation | PostgresLocation;

export const DEFAULT_SCHEMA = 'mesh_run';
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

// mesh-run's own per-user directory: $XDG_STATE_HOME/mesh-run (~/.local/state when unset).
export function stateDir(env: Record<string, string | undefined> = process.env): string {
  return join(env.XDG_STATE_HOME || join(homedir(), '.local', 'state'), 'mesh-run');
}

// $XDG_STATE_HOME/mesh-run/mesh-run.db.
export function defaultDbPath(env: Record<string, string | undefined> = process.env): string {
  return join(stateDir(env), 'mesh-run.db');
}

// The store the flags and the environment name: flags first, then $MESH_RUN_STORE, then $MESH_RUN_DB.
export function resolveStoreLocation(
  flags: { db?: string | undefined; store?: string | undefined },
  env: Record<string, string | undefined> = process.env,
): StoreLocation {
  if (flags.db !== undefined && flags.store !== undefined)
    throw new UsageError('--db and --store: give one of them (--db names an SQLite file, --store any store)');
  if (flags.store !== undefined) return parseStoreLocation(flags.store, '--store');
  if (flags.db !== undefined) return sqliteAt(flags.db, '--db');
  if (env.MESH_RUN_STORE) return parseStoreLocation(env.MESH_RUN_STORE, 'MESH_RUN_STORE');
  if (env.MESH_RUN_DB) return sqliteAt(env.MESH_RUN_DB, 'MESH_RUN_DB');
  return { kind: 'sqlite', path: defaultDbPath(env) };
}

function sqliteAt(path: string, source: string): SqliteLocation {
  if (path === '') throw new UsageError(`${source} is empty: name an SQLite file`);
  return { kind: 'sqlite', path };
}

// postgres:// and postgresql:// URLs select PostgreSQL; sqlite:<path> or a plain path selects SQLite.
export function parseStoreLocation(text: string, source: string): StoreLocation {
  if (/^postgres(ql)?:\/\//i.test(text)) return postgresAt(text, source);
  if (/^sqlite:/i.test(text)) return sqliteAt(text.replace(/^sqlite:(\/\/)?/i, ''), source);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    throw new UsageError(`${source} "${maskPassword(text).slice(0, 80)}": unknown kind of store; use a postgres:// URL, sqlite:<path> or a path`);
  }
  return sqliteAt(text, source);
}

function postgresAt(text: string, source: string): PostgresLocation {
  const query = text.indexOf('?');
  const base = query < 0 ? text : text.slice(0, query);
  const params = new URLSearchParams(query < 0 ? '' : text.slice(query + 1));
  const schema = params.get('schema') ?? DEFAULT_SCHEMA;
  if (!SCHEMA_NAME.test(schema)) {
    throw new UsageError(
      `${source}: schema "${schema.slice(0, 70)}" is not a PostgreSQL schema name mesh-run uses; use lower-case letters, digits and _ (at most 63)`,
    );
  }
  params.delete('schema');
  const rest = params.toString();
  const connectionString = rest ? `${base}?${rest}` : base;
  return { kind: 'postgres', connectionString, schema, display: maskPassword(text) };
}

// scheme://user:password@host -> scheme://user:***@host; a password in the query (password=) too.
export function maskPassword(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/?#@]*):([^@/?#]*)@/i, '$1:***@').replace(/([?&]password=)[^&]*/gi, '$1***');
}

// How a location is shown in messages.
export function describeLocation(location: StoreLocation): string {
  return location.kind === 'sqlite' ? location.path : location.display;
}
