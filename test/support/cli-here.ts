// Runs mesh-run's CLI inside the test process: the same parse, call and render as the binary (the built
// dist/cli/program.js's main, which dist/cli/main.js calls; built, so what is found from the module's place,
// such as the examples and package.json, is the binary's), in the environment cli.ts gives its children, but
// without starting a Node process per call (about 0.4 s of CPU each, against some 70 ms here once warm). For
// tests whose subject is what a verb does and says. What only a process shows stays with cli.ts: exit by
// signal, a TTY or a closed pipe, several drivers at once, kills, and settings read when a module loads.
import { Writable } from 'node:stream';
import { type CliOptions, type CliResult, childEnv, runCli as runCliProcess } from './cli.js';

type Program = typeof import('../../cli/program.js');
const PROGRAM = new URL('../../dist/cli/program.js', import.meta.url).href;
let program: Promise<Program> | undefined;

// Read when their modules load: a process of its own is the only way to set them.
const LOAD_TIME = ['MESH_RUN_CRASH_AT', 'MESH_RUN_CRASH_TRACE', 'MESH_RUN_LEASE_STALE_MS'];

// The environment every child of cli.ts starts with is this process's for good: calls that add nothing to it
// run side by side; one that changes it (env or cwd) runs alone, and puts it back.
const BASE = childEnv();
Object.assign(process.env, BASE);
let running = 0;
let alone: Promise<unknown> = Promise.resolve();
let idle: (() => void) | undefined;

// A call that needs a process of its own gets one: another host name, typed input, a setting read at load
// time, or a verb that follows another driver live (it must run beside the calls that follow, not before them).
export function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  const live = args.includes('--watch') || args.includes('--follow');
  if (live || options.host || options.input !== undefined || LOAD_TIME.some((name) => options.env?.[name] !== undefined)) return runCliProcess(args, options);
  if (!options.env && !options.cwd) return alone.then(() => shared(args));
  const call = alone.then(async () => {
    await drained();
    const restore = borrow(options);
    try {
      return await runMain(args);
    } finally {
      restore();
    }
  });
  alone = call.catch(() => undefined);
  return call;
}

async function shared(args: readonly string[]): Promise<CliResult> {
  running++;
  try {
    return await runMain(args);
  } finally {
    running--;
    if (running === 0) idle?.();
  }
}

function drained(): Promise<void> {
  return running === 0 ? Promise.resolve() : new Promise((resolve) => (idle = resolve));
}

async function runMain(args: readonly string[]): Promise<CliResult> {
  program ??= import(PROGRAM) as Promise<Program>;
  const { main } = await program;
  const stdout = capture();
  const stderr = capture();
  const code = await main(args, { stdout: stdout.stream, stderr: stderr.stream });
  return { code, signal: null, stdout: stdout.text(), stderr: stderr.text() };
}

// A stream that keeps what is written to it, and is no terminal.
function capture(): { stream: NodeJS.WriteStream; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return { stream: Object.assign(stream, { isTTY: false }) as unknown as NodeJS.WriteStream, text: () => chunks.join('') };
}

// Makes process.env exactly what a child with `options` gets (in place: modules hold the object) and enters
// its working directory; returns how to put both back.
function borrow(options: CliOptions): () => void {
  const cwd = process.cwd();
  const set = (next: NodeJS.ProcessEnv) => {
    for (const key of Object.keys(process.env)) if (!(key in next)) delete process.env[key];
    for (const [key, value] of Object.entries(next)) if (value !== undefined) process.env[key] = value;
  };
  set(childEnv(options.env));
  if (options.cwd) process.chdir(options.cwd);
  return () => {
    process.chdir(cwd);
    set(BASE);
  };
}
