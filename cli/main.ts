#!/usr/bin/env node
// mesh-run's entry point: the only place that exits the process.
import { ExitCode } from '../shared/errors.js';
import { guardOutput, type Streams } from './output.js';
import { ACTING_VERBS, main } from './program.js';

const streams: Streams = { stdout: process.stdout, stderr: process.stderr };
const argv = process.argv.slice(2);
const acting = ACTING_VERBS.has(argv[0] ?? '');
const health = guardOutput(streams, { keepStdout: acting });
let code = await main(argv, streams);
// Let what was written reach the file (or fail to) before judging it.
await new Promise<void>((resolve) => streams.stdout.write('', () => resolve()));
await new Promise((resolve) => setImmediate(resolve));
// A command whose output could not be written did not do its job (a reader closing the pipe early, as head
// does, took what it wanted). One that acted (a run, unlock, store copy) did, but what it said there (the run
// id above all) is said again on stderr, and its exit code is not 0; a run that failed keeps its own code.
const lost = health.failure('stdout');
if (lost && lost !== 'EPIPE') {
  if (acting) {
    const said = health.keptStdout();
    streams.stderr.write(`mesh-run: error: cannot write output (${lost}); what it said follows on stderr${said ? '' : ' (nothing)'}\n${said}`);
    if (code === ExitCode.ok) code = ExitCode.precondition;
  } else if (code === ExitCode.ok) {
    streams.stderr.write(`mesh-run: error: cannot write output (${lost})\n`);
    code = ExitCode.precondition;
  }
}
process.exitCode = code;
// Flush stdout before leaving; lingering handles (timers, children) must not keep us alive.
streams.stdout.write('', () => process.exit(code));
