// One driver at a time, provably: a driver that was paused (a stopped CI runner, a suspended VM) or whose
// lock session died, and that wakes after another driver took its run over, issues nothing and writes
// nothing more, not even the closing of its own attempts, and exits 3 naming who took the run.
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../engine/composition.js';
import { parseStoreLocation } from '../store/location.js';
import { runCli, startCli, tempDir } from './support/cli.js';
import { readJournal } from './support/journal.js';
import { type Backend, havePostgres, newStore } from './support/stores.js';

const tmp = tempDir();
const paused: number[] = [];
afterAll(() => {
  for (const pid of paused) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  tmp.cleanup();
});
const backends: Backend[] = havePostgres() ? ['sqlite', 'postgres'] : ['sqlite'];
// A silent holder stops counting after 1.5 s here, so a pause need not last the default 30 s.
const env = { MESH_RUN_LEASE_STALE_MS: '1500' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

// Everything the store holds about a run, ids and all, and its simulated clusters: as one string.
async function everything(where: string, id: string): Promise<string> {
  const store = await openStore(parseStoreLocation(where, 'test'), 'read-only');
  try {
    const run = await store.runs.exportRun(id);
    return JSON.stringify({ run, world: run ? await store.worlds.exportWorld(run.run.simWorld ?? id) : undefined });
  } finally {
    await store.close();
  }
}

async function commandsOf(where: string, id: string): Promise<number> {
  const store = await openStore(parseStoreLocation(where, 'test'), 'read-only');
  try {
    return (await store.runs.listCommands(id)).length;
  } finally {
    await store.close();
  }
}

// What makes the paused driver lose its run: on SQLite, a pause past the stale time; on PostgreSQL, its
// sessions cut (the lock goes with them, so the run is taken over at once).
async function loseLease(backend: Backend, where: string, pid: number): Promise<void> {
  if (backend === 'sqlite') {
    await sleep(2500);
    return;
  }
  const pg = (await import('pg')).default;
  const client = new pg.Client({ connectionString: where });
  await client.connect();
  try {
    const { rowCount } = await client.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE $1 AND pid <> pg_backend_pid()',
      [`mesh-run:${pid}@%`],
    );
    expect(rowCount).toBeGreaterThan(0);
  } finally {
    await client.end();
  }
}

// An install whose driver is paused mid-run (commands journaled, others still to come).
async function pausedInstall(backend: Backend, name: string) {
  const store = newStore(backend, tmp.dir, name);
  const first = startCli(['install', '--dry-run', '--sim-lb-delay', '0', '--sim-latency', '250ms', '-q', ...store.args], { env });
  const pid = first.child.pid as number;
  let stdout = '';
  first.child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  const id = await until('the run id', async () => /^run (mr-[a-z0-9]+)/m.exec(stdout)?.[1]);
  await until('a few commands', async () => ((await commandsOf(store.where, id)) >= 3 ? true : undefined));
  process.kill(pid, 'SIGSTOP');
  paused.push(pid);
  return { store, id, pid, first };
}

describe.each(backends)('one driver at a time, on %s', (backend) => {
  it('a driver paused until another took its run over and finished it wakes, exits 3 naming that driver, and changes nothing', async () => {
    const { store, id, pid, first } = await pausedInstall(backend, 'fence-after');
    await loseLease(backend, store.where, pid);
    const second = await runCli(['resume', id, '-q', ...store.args], { env });
    expect(second.code, second.stderr).toBe(0);
    const left = await everything(store.where, id);
    process.kill(pid, 'SIGCONT');
    const woken = await first.done;
    expect(woken.code, woken.stderr).toBe(3);
    expect(woken.stderr).toMatch(
      new RegExp(`run ${id} was taken over by pid \\d+ on \\S+ \\(user \\S+\\); it is succeeded now; this process stopped and changed nothing more`),
    );
    expect(woken.stderr).not.toContain(`pid ${pid} `);
    // Byte for byte what the second driver left: no command, attempt, event or simulated object more.
    expect(await everything(store.where, id)).toBe(left);
  });

  it('a driver woken while the new holder still drives stops at once, and the run ends as if it had never woken', async () => {
    const reference = newStore(backend, tmp.dir, 'fence-ref');
    const clean = await runCli(['install', '--dry-run', '--sim-lb-delay', '0', '-q', ...reference.args]);
    expect(clean.code, clean.stderr).toBe(0);
    const cleanId = /^run (mr-[a-z0-9]+)/m.exec(clean.stdout)?.[1] as string;

    const { store, id, pid, first } = await pausedInstall(backend, 'fence-during');
    await loseLease(backend, store.where, pid);
    const second = startCli(['resume', id, '-q', ...store.args], { env });
    // The new holder is under way: it took the run and ran commands of its own.
    const before = await commandsOf(store.where, id);
    await until('the new holder running commands', async () => ((await commandsOf(store.where, id)) >= before + 2 ? true : undefined));
    process.kill(pid, 'SIGCONT');
    const woken = await first.done;
    expect(woken.code, woken.stderr).toBe(3);
    expect(woken.stderr).toMatch(
      new RegExp(`run ${id} was taken over by pid ${second.child.pid} on \\S+ \\(user \\S+\\); this process stopped and changed nothing more`),
    );
    const done = await second.done;
    expect(done.code, done.stderr).toBe(0);

    const journal = await readJournal(store.where, id);
    expect(journal.run.status).toBe('succeeded');
    const takeover = journal.events.findIndex((e) => e.type === 'lease-taken-over');
    expect(takeover).toBeGreaterThan(0);
    // After the takeover, nothing is signed by the first driver; no attempt is left open or cut short by it.
    const full = await openStore(parseStoreLocation(store.where, 'test'), 'read-only');
    try {
      const events = await full.runs.listEvents(id);
      const takenAt = events.find((e) => e.type === 'lease-taken-over')?.at as number;
      expect(events.filter((e) => e.at >= takenAt && e.pid === pid)).toEqual([]);
      expect(journal.attempts.filter((a) => a.outcome === 'running')).toEqual([]);
      // Attempts the takeover found open were closed by the resume, at its own time, and by nothing later.
      const resumedAt = events.find((e) => e.type === 'resumed' && e.at >= takenAt)?.at as number;
      expect(journal.attempts.filter((a) => a.outcome === 'interrupted' && a.endedAt !== resumedAt)).toEqual([]);
      // Every command row after the takeover belongs to an attempt the new holder opened.
      const opened = new Set(journal.attempts.filter((a) => a.startedAt >= takenAt).map((a) => a.id));
      expect(journal.commands.filter((c) => c.startedAt > takenAt && !opened.has(c.attemptId as number))).toEqual([]);
    } finally {
      await full.close();
    }
    // The clusters are what an install that was never paused leaves.
    expect(journal.cluster).toEqual((await readJournal(reference.where, cleanId)).cluster);
  });
});

describe.skipIf(!havePostgres())('a paused holder whose session lives, on postgres', () => {
  it('keeps its run, and the refusal shows its real last heartbeat, not "0s ago"', async () => {
    const { store, id, pid, first } = await pausedInstall('postgres', 'fence-paused');
    await sleep(3500);
    const refused = await runCli(['resume', id, '-q', ...store.args], { env });
    expect(refused.code).toBe(3);
    const age = Number(new RegExp(`run ${id} is being driven by pid ${pid} on \\S+ \\(user \\S+, last heartbeat (\\d+)s ago\\)`).exec(refused.stderr)?.[1]);
    expect(age, refused.stderr).toBeGreaterThanOrEqual(3);
    process.kill(pid, 'SIGCONT');
    expect((await first.done).code).toBe(0);
  });
});

describe.skipIf(!havePostgres())('a driver whose lock session dies, on postgres', () => {
  it('stops at once: a resume started right away drives alone, and no command of the first starts after the cut', async () => {
    const store = newStore('postgres', tmp.dir, 'fence-cut');
    // The default stale time, so heartbeats are 5 s apart: the loss must be noticed without one.
    const first = startCli(['install', '--dry-run', '--sim-lb-delay', '0', '--sim-latency', '250ms', '-q', ...store.args]);
    let stdout = '';
    first.child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    const id = await until('the run id', async () => /^run (mr-[a-z0-9]+)/m.exec(stdout)?.[1]);
    await until('a few commands', async () => ((await commandsOf(store.where, id)) >= 3 ? true : undefined));
    // Only the session that holds the advisory locks: the driver's journal connections stay up.
    const pg = (await import('pg')).default;
    const client = new pg.Client({ connectionString: store.where });
    await client.connect();
    let cutAt: number;
    try {
      const { rowCount } = await client.query(
        "SELECT pg_terminate_backend(l.pid) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND a.application_name LIKE $1",
        [`mesh-run:${first.child.pid}@%`],
      );
      expect(rowCount).toBeGreaterThan(0);
      cutAt = Date.now();
    } finally {
      await client.end();
    }
    const second = await runCli(['resume', id, '-q', ...store.args]);
    const stopped = await first.done;
    expect(stopped.code, stopped.stderr).toBe(3);
    expect(stopped.stderr).toMatch(/lost the connection to the store .* that holds this run's lock|was taken over by pid/);
    expect(second.code, second.stderr).toBe(0);
    const journal = await readJournal(store.where, id);
    expect(journal.run.status).toBe('succeeded');
    // A command the first driver issued after the cut would belong to an attempt opened before the resume.
    const full = await openStore(parseStoreLocation(store.where, 'test'), 'read-only');
    try {
      const resumedAt = (await full.runs.listEvents(id)).find((e) => e.type === 'resumed')?.at as number;
      const before = new Set(journal.attempts.filter((a) => a.startedAt < resumedAt).map((a) => a.id));
      // A small allowance for a row committed just before the session's death reached the driver.
      expect(journal.commands.filter((c) => before.has(c.attemptId as number) && c.startedAt > cutAt + 50)).toEqual([]);
    } finally {
      await full.close();
    }
  });
});
