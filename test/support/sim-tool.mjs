#!/usr/bin/env node
// kubectl or istioctl for scripts, answered by a dry run's simulated clusters:
//   node sim-tool.mjs <db> <world> kubectl|istioctl args...
// Lets a test run "mesh-run plan --format sh" scripts the way a person would, against the simulator.
import { readFileSync } from 'node:fs';
import { createSimulatedTools } from '../../dist/adapters/simulator/simulated-tools.js';
import { openSqliteStore } from '../../dist/store/sqlite/index.js';

const [db, world, tool, ...args] = process.argv.slice(2);
let stdin = '';
try {
  stdin = readFileSync(0, 'utf8');
} catch {
  stdin = '';
}
const context = (args.find((a) => a.startsWith('--context=')) ?? '').slice('--context='.length);
const store = openSqliteStore(db, { mustExist: true });
const tools = createSimulatedTools({ store: store.worlds, world });
const result = await tools.run(
  { tool, args, context, ...(stdin ? { stdin } : {}) },
  { signal: new AbortController().signal, timeoutMs: 60_000, step: 'preflight', cluster: context },
);
await store.close();
process.stdout.write(result.stdout);
process.stderr.write(result.stderr);
process.exitCode = result.exitCode;
