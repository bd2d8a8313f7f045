// What every bench section shares: the time scale, a scratch directory, the CLI, the table of figures it
// prints, the stores it measures on, and the configs it generates.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StoreLocation } from '../engine/composition.js';
import { parseStoreLocation } from '../store/location.js';
import { type PgServer, postgresBinaries, startPostgres } from './local-postgres.js';

export const TIME_SCALE = Number(process.env.MESH_RUN_BENCH_SCALE ?? 0.01);
export const work = mkdtempSync(join(tmpdir(), 'mesh-run-bench-'));
export const cli = fileURLToPath(new URL('../cli/main.js', import.meta.url));
// The most remotes a run lets run steps at once (maxParallelRemotes' bound).
export const MAX_PARALLEL = 256;

// The figures, one row each; a row whose first cell is 'section' heads a table.
const rows: string[][] = [];
export const out = (...cells: Array<string | number>) => rows.push(cells.map(String));
export const ms = (n: number) => `${n.toFixed(n < 10 ? 2 : 0)} ms`;
export const rss = () => `${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`;

export const sqlite = (path: string): StoreLocation => ({ kind: 'sqlite', path });

// A durable local PostgreSQL (fsync on, as a team's would run), started on first use; none where PostgreSQL
// is not installed (its rows are left out).
let pgServer: PgServer | undefined;
export function postgres(): PgServer | undefined {
  if (!pgServer && postgresBinaries()) pgServer = startPostgres({ durable: true });
  return pgServer;
}
export const postgresAt = (server: PgServer, schema: string) => parseStoreLocation(server.url(schema), 'bench') as StoreLocation & { kind: 'postgres' };

// Stops the PostgreSQL server (if one was started) and removes the scratch directory.
export function cleanUp(): void {
  pgServer?.destroy();
  rmSync(work, { recursive: true, force: true });
}

export function printFigures(): void {
  for (const r of rows) {
    if (r[0] === 'section') console.log(`\n## ${r.slice(1).filter(Boolean).join(', ')}`);
    else console.log(r.filter((c, i) => c !== '' || i === 0).join(' | '));
  }
}

// The primary-remote form with `remotes` remotes, all of them allowed to run at once (up to MAX_PARALLEL).
export function configFor(remotes: number, extra = ''): string {
  const file = join(work, `remotes-${remotes}.yaml`);
  const list = Array.from({ length: remotes }, (_, i) => `  - {name: remote${i + 1}, context: remote${i + 1}}`).join('\n');
  writeFileSync(file, `remotes:\n${list}\nmaxParallelRemotes: ${Math.min(Math.max(remotes, 1), MAX_PARALLEL)}\n${extra}`);
  return file;
}

// A mixed fleet: two primaries on two networks, each serving half the remotes, a third of them on the other network.
export function mixedConfigFor(remotes: number): string {
  const file = join(work, `mixed-${remotes}.yaml`);
  const lines = ['meshID: fleet', 'network: east', 'trust: {outputDir: ./certs}', 'clusters:'];
  lines.push('  - {name: east-1, context: east-1, role: primary}', '  - {name: west-1, context: west-1, role: primary, network: west}');
  for (let i = 0; i < remotes; i++)
    lines.push(`  - {name: r${i}, context: r${i}, role: remote, controlPlane: ${i % 2 ? 'east-1' : 'west-1'}, network: ${i % 3 ? 'east' : 'west'}}`);
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}
