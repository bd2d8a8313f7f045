#!/usr/bin/env node
// mesh-run's entry point: the only place that exits the process.
import { ExitCode } from '../shared/errors.js';
import { guardOutput, type Streams } from './output.js';
import { ACTING_VERBS, main } from './program.js';

const streams: Streams = { stdout: process.stdout, stderr: process.stderr };
const health = guardOutput(streams);
const argv = process.argv.slice(2);
let code = await main(argv, streams);
// Let what was written reach the file (or fail to) before judging it.
await new Promise<void>((resolve) => streams.stdout.write('', () => resolve()));
await new Promise((resolve) => setImmediate(resolve));
// A read-only command whose output could not be written did not do its job (a reader closing the pipe
// early, as head does, took what it wanted). A command that acts (a run, unlock, store copy) says with its
// exit code what happened, whatever became of its output.
const lost = health.failure('stdout');
if (code === ExitCode.ok && lost && lost !== 'EPIPE' && !ACTING_VERBS.has(argv[0] ?? '')) {
  streams.stderr.write(`mesh-run: error: cannot write output (${lost})\n`);
  code = ExitCode.precondition;
}
process.exitCode = code;
// Flush stdout before leaving; lingering handles (timers, children) must not keep us alive.
streams.stdout.write('', () => process.exit(code));
