// mesh-run's own per-user directory: $XDG_STATE_HOME/mesh-run (~/.local/state/mesh-run when unset). The
// SQLite journal lives there by default, and so does a generated CA no config gives a directory of its own.
import { homedir } from 'node:os';
import { join } from 'node:path';

export function stateDir(env: Record<string, string | undefined> = process.env): string {
  return join(env.XDG_STATE_HOME || join(homedir(), '.local', 'state'), 'mesh-run');
}
