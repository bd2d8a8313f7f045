// One private PostgreSQL server for the whole test run; each test file works in its own schema on it.
import type { TestProject } from 'vitest/node';
import { type PgServer, postgresBinaries, startPostgres } from './postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    // The server's socket directory and port ('' when PostgreSQL is not installed here).
    pgSocket: string;
    pgPort: number;
  }
}

let server: PgServer | undefined;

export function setup(project: TestProject): void {
  if (!postgresBinaries()) {
    console.warn('PostgreSQL is not installed: the PostgreSQL store tests are skipped (.ci/run installs it)');
    project.provide('pgSocket', '');
    project.provide('pgPort', 0);
    return;
  }
  server = startPostgres();
  project.provide('pgSocket', server.socketDir);
  project.provide('pgPort', server.port);
}

export function teardown(): void {
  server?.destroy();
}
