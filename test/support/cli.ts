// Runs the built mesh-run CLI as a child process, the way a user would.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  input?: string;
  // Runs the CLI as if on another machine: in a UTS namespace of its own with this host name (needs root).
  host?: string;
}

// mesh-run's per-user directory (a generated CA without outputDir, the default journal) for the CLIs this test
// process starts: a directory of its own, never the home of whoever runs the tests, removed at exit.
let stateHome: string | undefined;
function testStateHome(): string {
  if (!stateHome) {
    const dir = mkdtempSync(join(tmpdir(), 'mesh-run-state-'));
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    stateHome = dir;
  }
  return stateHome;
}

export function childEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NO_COLOR: '1',
    CTX_CLUSTER1: '',
    CTX_CLUSTER2: '',
    MESH_RUN_DB: '',
    MESH_RUN_STORE: '',
    XDG_STATE_HOME: testStateHome(),
  };
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

// Starts the CLI; the caller decides when to wait for it or kill it.
export function startCli(args: readonly string[], options: CliOptions = {}): { child: ChildProcess; done: Promise<CliResult> } {
  // unshare and sh exec into node, so the child's pid is mesh-run's.
  const argv = options.host
    ? ['unshare', '--uts', 'sh', '-c', 'hostname "$0" && exec "$@"', options.host, process.execPath, CLI, ...args]
    : [process.execPath, CLI, ...args];
  const child = spawn(argv[0] as string, argv.slice(1), { env: childEnv(options.env), cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin?.end(options.input ?? '');
  const done = new Promise<CliResult>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, done };
}

export function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  return startCli(args, options).done;
}

// A fresh temporary directory, removed by the returned cleanup.
export function tempDir(prefix = 'mesh-run-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

// The run id a CLI printed on its first stdout line.
export function runIdFrom(result: CliResult): string {
  const match = /^run (mr-[a-z0-9]+)/m.exec(result.stdout);
  if (!match) throw new Error(`no run id in output:\n${result.stdout}\n${result.stderr}`);
  return match[1] as string;
}
