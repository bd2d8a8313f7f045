// A test-only fault hook: with MESH_RUN_CRASH_AT set, the process SIGKILLs itself at the chosen point,
// so tests can prove a run killed at any instant resumes. Unset (production), every call is a no-op.
//   MESH_RUN_CRASH_AT=17                   the 17th crash point of any kind
//   MESH_RUN_CRASH_AT=after-command:3      the 3rd "after-command" point
//   MESH_RUN_CRASH_TRACE=/path/file        append every point's name to a file (to count them)
import { appendFileSync } from 'node:fs';

export type CrashPoint = 'journal-write' | 'in-transaction' | 'before-command' | 'after-command';

const spec = process.env.MESH_RUN_CRASH_AT;
const trace = process.env.MESH_RUN_CRASH_TRACE;
const match = spec ? /^(?:([a-z-]+):)?(\d+)$/.exec(spec) : null;
const targetName = match?.[1];
const targetCount = match ? Number(match[2]) : 0;
let seen = 0;

export const crashPointsEnabled = Boolean(match || trace);

export function crashPoint(name: CrashPoint): void {
  if (!crashPointsEnabled) return;
  if (trace) appendFileSync(trace, `${name}\n`);
  if (!match || (targetName !== undefined && targetName !== name)) return;
  seen++;
  if (seen === targetCount) process.kill(process.pid, 'SIGKILL');
}
