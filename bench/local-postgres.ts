// A private PostgreSQL server for the bench and the tests: initdb in a temporary directory, listening on a
// Unix socket only, stopped afterwards. initdb and pg_ctl refuse to run as root, so as root they run as the
// postgres user (Debian's package creates it), in a directory that user owns.
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface PgServer {
  // A store URL on this server in its own schema (one per test file keeps them apart).
  url(schema: string): string;
  socketDir: string;
  port: number;
  // `immediate` is a crash: no checkpoint, clients cut off at once.
  stop(mode?: 'fast' | 'immediate'): void;
  start(): void;
  // Removes the server and its files.
  destroy(): void;
}

// Where initdb and pg_ctl are (Debian keeps them out of PATH), or undefined when PostgreSQL is not installed.
export function postgresBinaries(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
  for (const v of versions) if (existsSync(join(root, v, 'bin', 'pg_ctl'))) return join(root, v, 'bin');
  return undefined;
}

function ids(user: string): { uid: number; gid: number } | undefined {
  try {
    return { uid: Number(execFileSync('id', ['-u', user]).toString()), gid: Number(execFileSync('id', ['-g', user]).toString()) };
  } catch {
    return undefined;
  }
}

export function startPostgres(options: { durable?: boolean } = {}): PgServer {
  const bin = postgresBinaries();
  if (!bin) throw new Error('PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/pg_ctl); .ci/run installs the postgresql package');
  const asRoot = process.getuid?.() === 0;
  const owner = asRoot ? ids('postgres') : undefined;
  if (asRoot && !owner) throw new Error('running as root, but there is no postgres user to run the server as');
  const dir = mkdtempSync(join(tmpdir(), 'mesh-run-pg-'));
  const data = join(dir, 'data');
  const socketDir = dir;
  if (owner) chownSync(dir, owner.uid, owner.gid);
  const run = (command: string, args: string[]) => {
    const argv = asRoot ? ['runuser', '-u', 'postgres', '--', join(bin, command), ...args] : [join(bin, command), ...args];
    const result = spawnSync(argv[0] as string, argv.slice(1), { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr || result.stdout}`);
  };
  run('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C']);
  // Every role logs in without a password, except mesh_pw (the tests' password logins).
  writeFileSync(join(data, 'pg_hba.conf'), 'local all mesh_pw scram-sha-256\nlocal all all trust\n');
  if (owner) chownSync(join(data, 'pg_hba.conf'), owner.uid, owner.gid);
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  // Tests do not need a server that survives a power cut; the bench asks for one that fsyncs.
  const settings = options.durable ? '' : ' -c fsync=off -c synchronous_commit=off -c full_page_writes=off';
  const start = () =>
    run('pg_ctl', [
      '-D',
      data,
      '-w',
      '-l',
      join(dir, 'server.log'),
      '-o',
      `-k ${socketDir} -p ${port} -c listen_addresses='' -c max_connections=200${settings}`,
      'start',
    ]);
  start();
  let running = true;
  return {
    url: (schema) => `postgresql://postgres@/postgres?host=${encodeURIComponent(socketDir)}&port=${port}&schema=${schema}`,
    socketDir,
    port,
    stop(mode = 'fast') {
      if (!running) return;
      run('pg_ctl', ['-D', data, '-m', mode, '-w', 'stop']);
      running = false;
    },
    start() {
      if (running) return;
      start();
      running = true;
    },
    destroy() {
      try {
        if (running) run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        running = false;
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
