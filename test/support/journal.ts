// Reads a mesh-run database the way the tests need: runs, attempts, commands, simulated objects.
import Database from 'better-sqlite3';
import { openStore } from '../../engine/composition.js';
import type { AttemptRecord, CommandRecord, RunRecord } from '../../store/contract.js';
import { parseStoreLocation } from '../../store/location.js';

export interface Journal {
  run: RunRecord;
  attempts: AttemptRecord[];
  commands: CommandRecord[];
  events: Array<{ type: string; detail: string | null }>;
  // Simulated objects, normalised: no uids, timestamps, resource versions or secret digests.
  cluster: Record<string, string[]>;
}

// `where`: an SQLite path or a store URL.
export async function readJournal(where: string, runId: string): Promise<Journal> {
  const store = await openStore(parseStoreLocation(where, 'test'), 'existing');
  try {
    const run = await store.runs.getRun(runId);
    if (!run) throw new Error(`no run ${runId}`);
    const cluster = await store.worlds.transact(run.simWorld, (objects) => {
      const found: Record<string, string[]> = {};
      for (const context of (run.config?.clusters ?? []).map((c) => c.context)) {
        const listed = objects.list(context).map((o) => normalise(o.bodyJson));
        if (listed.length > 0) found[context] = listed.sort();
      }
      return found;
    });
    const [attempts, commands, events] = await Promise.all([store.runs.listAttempts(runId), store.runs.listCommands(runId), store.runs.listEvents(runId)]);
    return { run, attempts, commands, events, cluster };
  } finally {
    await store.close();
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
