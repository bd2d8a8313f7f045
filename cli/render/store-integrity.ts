// What store check and store recover print.
import type { CheckReport, RecoveryReport } from '../../engine/types.js';

import { count } from '../../shared/words.js';
import { painter } from '../output.js';

// Problems past this many are counted, not listed (a damaged index can name every row).
const LISTED = 20;

const mib = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;

export function renderCheck(report: CheckReport, stream: NodeJS.WriteStream): string {
  const paint = painter(stream);
  const what = `${report.check} of ${count(report.pages, 'page')} (${mib(report.bytes)}) in ${Math.round(report.elapsedMs)} ms`;
  if (report.problems.length === 0) return `${paint('green', '✔')} the database ${report.path} is intact (${what})\n`;
  const lines = [`${paint('red', '✖')} the database ${report.path} is damaged: ${count(report.problems.length, 'problem')} (${what})`];
  for (const p of report.problems.slice(0, LISTED)) lines.push(`  ${p}`);
  if (report.problems.length > LISTED) lines.push(`  … and ${report.problems.length - LISTED} more`);
  if (report.hint) lines.push(`hint: ${report.hint}`);
  return `${lines.join('\n')}\n`;
}

const TABLE_WORDS: Record<string, string> = {
  runs: 'run',
  step_attempts: 'step attempt',
  commands: 'command',
  run_events: 'event',
  run_snapshot_parts: 'snapshot part',
  observations: 'observation',
  cluster_claims: 'cluster claim',
  sim_worlds: 'simulated world',
  sim_objects: 'simulated object',
  sim_faults: 'injected failure',
};

export function renderRecovery(report: RecoveryReport & { from: string; to: string }): string {
  const lines = [`recovered into ${report.to} what reads back from ${report.from}:`];
  for (const t of report.tables) {
    if (t.copied === 0 && t.refused === 0 && t.unreadable.length === 0) continue;
    const word = TABLE_WORDS[t.table] ?? `${t.table} row`;
    const notes: string[] = [];
    if (t.unreadable.length)
      notes.push(`${count(t.unreadable.length, 'unreadable stretch', 'unreadable stretches')} (${t.unreadable.map(stretch).join(', ')})`);
    if (t.refused) notes.push(`${t.refused} left out (a lost parent or a broken constraint)`);
    lines.push(`  ${count(t.copied, word)}${notes.length ? `; ${notes.join('; ')}` : ''}`);
  }
  const lost = report.tables.some((t) => t.unreadable.length || t.refused);
  lines.push(lost ? 'some rows were lost; check the runs you need with "mesh-run runs --db <the new file>"' : 'every row read back');
  lines.push(`then use it with --db ${report.to}, or move it in place of the damaged file (keep that one until you are sure)`);
  return `${lines.join('\n')}\n`;
}

// "ids 41 to 74": the rowids between the last row read before and the first after (both kept).
function stretch(s: { after: number; before: number | null }): string {
  if (s.before === null) return `ids after ${s.after}`;
  return s.before - s.after === 2 ? `id ${s.after + 1}` : `ids ${s.after + 1} to ${s.before - 1}`;
}
