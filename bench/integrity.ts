// What finding damage costs on the large journal: the checks SQLite offers, and what a writer pays at open
// (quick_check, unless the file is as the last writer left it: then a stat and a stamp's read).
import { statSync, utimesSync } from 'node:fs';
import Database from 'better-sqlite3';
import { openStore } from '../engine/composition.js';
import { ms, out, sqlite } from './harness.js';

function median3(fn: () => void): number {
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    fn();
    times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b)[1] as number;
}

export async function integrityAtScale(path: string, attempts: number): Promise<void> {
  const mib = (statSync(path).size / 1048576).toFixed(0);
  // SQLite's own checks, on a read-only connection as mesh-run store check opens one.
  const db = new Database(path, { readonly: true, fileMustExist: true });
  const quick = median3(() => db.pragma('quick_check'));
  const full = median3(() => db.pragma('integrity_check'));
  const oneTable = median3(() => db.pragma('quick_check(runs)'));
  db.close();
  // A writer's open and close: the first finds the file changed since the last writer and checks; the next
  // finds it as that one left it.
  const writerOpen = async () => {
    const t = performance.now();
    const store = await openStore(sqlite(path), 'existing');
    const opened = performance.now() - t;
    await store.close();
    return opened;
  };
  // Touched, as a tool that writes the file would leave it: no longer what the last writer recorded.
  const now = new Date();
  utimesSync(path, now, now);
  const unstamped = await writerOpen();
  const stamped = await writerOpen();
  out('section', `integrity of the large journal: ${attempts} step attempts, ${mib} MiB (median of 3)`, '', '');
  out('check', 'time', 'what runs it');
  out('quick_check', ms(quick), 'a writer at open, unless the file is as the last writer left it');
  out('integrity_check', ms(full), 'mesh-run store check (--quick: quick_check)');
  out('quick_check of the runs table only', ms(oneTable), 'nothing (damage elsewhere would go unseen)');
  out('writer open, file changed since the last writer (checks)', ms(unstamped), '');
  out('writer open, file as the last writer left it (stamp)', ms(stamped), '');
}
