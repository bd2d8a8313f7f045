// Where the journal lives when --db is not given (no SQLite import here: the CLI reads it at start-up).
import { homedir } from 'node:os';
import { join } from 'node:path';

// --db, else $MESH_RUN_DB, else $XDG_STATE_HOME/mesh-run/mesh-run.db (~/.local/state when unset).
export function defaultDbPath(env: Record<string, string | undefined> = process.env): string {
  if (env.MESH_RUN_DB) return env.MESH_RUN_DB;
  const stateHome = env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return join(stateHome, 'mesh-run', 'mesh-run.db');
}
