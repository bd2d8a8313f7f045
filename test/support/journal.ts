import Database from 'better-sqlite3';
// Reads a mesh-run database the way the tests need: runs, attempts, commands, simulated objects.
import { openDb } from '../../store/open-db.js';
import { createSimStore } from '../../store/sim-store.js';
import { createSqliteRunStore } from '../../store/sqlite-run-store.js';
import type { AttemptRecord, CommandRecord, RunRecord } from '../../store/types.js';

export interface Journal {
  run: RunRecord;
  attempts: AttemptRecord[];
  commands: CommandRecord[];
  events: Array<{ type: string; detail: string | null }>;
  // Simulated objects, normalised: no uids, timestamps, resource versions or secret digests.
  cluster: Record<string, string[]>;
}

export function readJournal(dbPath: string, runId: string): Journal {
  const db = openDb(dbPath, { mustExist: true });
  try {
    const store = createSqliteRunStore(db);
    const run = store.getRun(runId);
    if (!run) throw new Error(`no run ${runId}`);
    const sim = createSimStore(db);
    const cluster: Record<string, string[]> = {};
    for (const context of ['cluster1', 'cluster2', 'cluster3', 'cluster4']) {
      const objects = sim.list(run.simWorld, context).map((o) => normalise(o.bodyJson));
      if (objects.length > 0) cluster[context] = objects.sort();
    }
    return { run, attempts: store.listAttempts(runId), commands: store.listCommands(runId), events: store.listEvents(runId), cluster };
  } finally {
    db.close();
  }
}

function normalise(json: string): string {
  const obj = JSON.parse(json) as { kind: string; metadata: Record<string, unknown>; data?: Record<string, string>; stringData?: Record<string, string> };
  delete obj.metadata.uid;
  delete obj.metadata.creationTimestamp;
  delete obj.metadata.resourceVersion;
  // The simulator's request counter (its round-robin state) is not cluster state: a re-run sends more requests.
  const annotations = obj.metadata.annotations as Record<string, string> | undefined;
  if (annotations) {
    delete annotations['sim.mesh-run/requests'];
    if (Object.keys(annotations).length === 0) delete obj.metadata.annotations;
  }
  for (const field of ['data', 'stringData'] as const) {
    if (obj[field]) obj[field] = Object.fromEntries(Object.keys(obj[field] as object).map((k) => [k, 'digest']));
  }
  return JSON.stringify(obj);
}

export function attemptsOf(journal: Journal, step: string, cluster: string): AttemptRecord[] {
  return journal.attempts.filter((a) => a.step === step && a.cluster === cluster);
}

// Reads from a database another process is writing, without taking write locks; undefined if not there yet.
export function peek<T>(dbPath: string, sql: string): T[] | undefined {
  try {
    const handle = new Database(dbPath, { readonly: true, fileMustExist: true, timeout: 2000 });
    try {
      return handle.prepare(sql).all() as T[];
    } finally {
      handle.close();
    }
  } catch {
    return undefined;
  }
}
