// The stores tests run against: an SQLite file, or a schema on the private PostgreSQL server the global
// setup started (test/support/pg-global-setup.ts).
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { inject } from 'vitest';

export type Backend = 'sqlite' | 'postgres';

// The server's URL for a schema, or undefined when PostgreSQL is not installed here.
export function postgresUrl(schema: string): string | undefined {
  const socket = inject('pgSocket');
  if (!socket) return undefined;
  return `postgresql://postgres@/postgres?host=${encodeURIComponent(socket)}&port=${inject('pgPort')}&schema=${schema}`;
}

export const havePostgres = (): boolean => Boolean(inject('pgSocket'));

// A fresh schema name (lower case, as mesh-run accepts).
export function freshSchema(prefix = 't'): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

// A new, empty store of this backend: an SQLite file in `dir`, or a new schema; `args` selects it on the CLI.
export function newStore(backend: Backend, dir: string, name: string): { where: string; args: string[] } {
  if (backend === 'sqlite') {
    const path = join(dir, `${name}-${randomBytes(4).toString('hex')}.db`);
    return { where: path, args: ['--db', path] };
  }
  const url = postgresUrl(freshSchema(name.replace(/[^a-z0-9_]/g, '_').slice(0, 30)));
  if (!url) throw new Error('PostgreSQL is not installed here');
  return { where: url, args: ['--store', url] };
}
