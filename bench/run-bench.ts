// npm run bench: the engine's schedule against the critical path, its own overhead, resume, start-up,
// memory, and history queries on a large journal. Prints figures; asserts nothing.
// node dist/bench/run-bench.js <section> runs one section (makespan, overhead, resume, lifecycle, startup,
// config-check, history, team, drift); without one, all of them in that order.
import { configCheck } from './config-check.js';
import { driftCost } from './drift.js';
import { cleanUp, printFigures } from './harness.js';
import { historyAtScale } from './history.js';
import { lifecycle } from './lifecycle.js';
import { makespans } from './makespan.js';
import { overhead } from './overhead.js';
import { resumeCost } from './resume.js';
import { startup } from './startup.js';
import { team } from './team.js';

const SECTIONS: Array<[string, () => Promise<void>]> = [
  ['makespan', makespans],
  ['overhead', overhead],
  ['resume', resumeCost],
  ['lifecycle', lifecycle],
  ['startup', startup],
  ['config-check', configCheck],
  ['history', historyAtScale],
  ['team', team],
  ['drift', driftCost],
];

const only = process.argv[2];
try {
  for (const [name, section] of SECTIONS) if (!only || only === name) await section();
} finally {
  cleanUp();
}
printFigures();
