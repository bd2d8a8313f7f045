#!/usr/bin/env node
// mesh-run's entry point: the only place that exits the process.
import { exitQuietlyOnEpipe, type Streams } from './output.js';
import { main } from './program.js';

const streams: Streams = { stdout: process.stdout, stderr: process.stderr };
exitQuietlyOnEpipe(process.stdout);
exitQuietlyOnEpipe(process.stderr);
const code = await main(process.argv.slice(2), streams);
process.exitCode = code;
// Flush stdout before leaving; lingering handles (timers, children) must not keep us alive.
streams.stdout.write('', () => process.exit(code));
