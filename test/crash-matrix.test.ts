// Crash-anywhere: kill a dry run with SIGKILL at every journal write and named point, resume, and check
// that it ends where an uninterrupted run ends, with a complete journal and no finished step run twice.
import { copyFileSync, cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../engine/composition.js';
import type { Store } from '../store/contract.js';
import { parseStoreLocation } from '../store/location.js';
import { runCli, tempDir } from './support/cli.js';
import { readJournal } from './support/journal.js';
import { freshSchema, havePostgres, postgresUrl } from './support/stores.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const ARGS = ['install', '--dry-run', '--sim-lb-delay', '0', '-q'];

// The run of this kind in the store (there is at most one per kind in these tests); undefined when the
// store, or the run, was never created.
async function onlyRunId(where: string, kind = 'install'): Promise<string | undefined> {
  if (!where.startsWith('postgres') && !existsSync(where)) return undefined;
  let store: Store;
  try {
    store = await openStore(parseStoreLocation(where, 'test'), 'read-only');
  } catch {
    return undefined;
  }
  try {
    return (await store.runs.listRuns(100)).find((r) => r.kind === kind)?.id;
  } finally {
    await store.close();
  }
}

function copyDb(from: string, to: string): void {
  const dir = join(from, '..');
  const base = from.split('/').pop() as string;
  for (const f of readdirSync(dir).filter((n) => n.startsWith(base))) copyFileSync(join(dir, f), join(dir, f.replace(base, to.split('/').pop() as string)));
}

// Kills `args` at crash point n, resumes (killed once more at the same point), and checks the end state.
// `db` is an SQLite path or a store URL.
// With `mayMiss`, a run that never reached point n (it finished first) is reported as such, not as a failure.
async function crashAndResume(args: string[], db: string, kind: string, n: number, expected: unknown, mayMiss = false): Promise<'resumed' | 'not reached'> {
  const at = db.startsWith('postgres') ? ['--store', db] : ['--db', db];
  const first = await runCli([...args, ...at], { env: { MESH_RUN_CRASH_AT: String(n) } });
  if (first.code === 0 && mayMiss) return 'not reached';
  if (first.signal !== 'SIGKILL') throw new Error(`point ${n} did not kill the run (exit ${first.code})`);
  const id = await onlyRunId(db, kind);
  // Killed before the run was recorded: nothing was created anywhere, nothing to resume.
  if (!id) return 'resumed';
  const atCrash = await readJournal(db, id);
  const finishedAtCrash = new Map(atCrash.attempts.filter((a) => a.outcome === 'succeeded').map((a) => [`${a.step}@${a.cluster}`, a.id]));
  let finished = atCrash.run.status === 'succeeded';
  for (let round = 0; round < 4 && !finished; round++) {
    const env = round === 0 ? { MESH_RUN_CRASH_AT: String(n) } : {};
    const resumed = await runCli(['resume', id, ...at, '-q'], { env });
    finished = resumed.code === 0 || (resumed.code === 4 && resumed.stderr.includes('already succeeded'));
    if (!finished && resumed.signal !== 'SIGKILL') throw new Error(`point ${n}: resume exited ${resumed.code}: ${resumed.stderr}`);
  }
  const end = await readJournal(db, id);
  if (end.run.status !== 'succeeded') throw new Error(`point ${n}: run ended ${end.run.status}`);
  expect(end.cluster, `point ${n}: simulated clusters`).toEqual(expected);
  for (const [slot, attemptId] of finishedAtCrash) {
    const again = end.attempts.filter((a) => `${a.step}@${a.cluster}` === slot);
    expect(
      again.map((a) => a.id),
      `point ${n}: ${slot} ran again after it had finished`,
    ).toEqual([attemptId]);
  }
  for (const slot of new Set(end.attempts.map((a) => `${a.step}@${a.cluster}`))) {
    const outcomes = end.attempts.filter((a) => `${a.step}@${a.cluster}` === slot).map((a) => a.outcome);
    expect(
      outcomes.filter((o) => o === 'succeeded'),
      `point ${n}: ${slot}`,
    ).toEqual(['succeeded']);
    expect(outcomes.at(-1), `point ${n}: ${slot}`).toBe('succeeded');
  }
  expect(
    end.attempts.filter((a) => a.endedAt === null),
    `point ${n}: open attempts`,
  ).toEqual([]);
  expect(
    end.commands.filter((c) => c.endedAt === null),
    `point ${n}: open commands`,
  ).toEqual([]);
  expect(end.events[0]?.type).toBe('started');
  expect(end.events.at(-1)?.type).toBe('succeeded');
  return 'resumed';
}

async function pool<T>(items: readonly T[], size: number, fn: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: size }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await fn(item);
    }),
  );
}

// Every `every`-th crash point (1-based), or all of them with MESH_RUN_CRASH_ALL=1.
function sample(points: readonly string[], every: number): number[] {
  const step = process.env.MESH_RUN_CRASH_ALL === '1' ? 1 : every;
  return points.map((_, i) => i + 1).filter((n) => n % step === 1 % step);
}

// Tries each chosen point, two at a time; a failure is kept as one line naming the point and its kind.
async function tryPoints(
  chosen: readonly number[],
  points: readonly string[],
  attempt: (n: number) => Promise<'resumed' | 'not reached'>,
): Promise<{ resumed: number; missed: number; failures: string[] }> {
  const tally = { resumed: 0, missed: 0, failures: [] as string[] };
  await pool(chosen, 2, async (n) => {
    try {
      if ((await attempt(n)) === 'resumed') tally.resumed++;
      else tally.missed++;
    } catch (error) {
      tally.failures.push(`point ${n} (${points[n - 1]}): ${(error as Error).message.split('\n')[0]}`);
    }
  });
  return tally;
}

describe.concurrent('crash anywhere, resume', () => {
  it('every crash point resumes to the uninterrupted end state', async () => {
    const trace = join(tmp.dir, 'trace.txt');
    const referenceDb = join(tmp.dir, 'reference.db');
    const reference = await runCli([...ARGS, '--db', referenceDb], { env: { MESH_RUN_CRASH_TRACE: trace } });
    expect(reference.code).toBe(0);
    const referenceId = (await onlyRunId(referenceDb)) as string;
    const expected = (await readJournal(referenceDb, referenceId)).cluster;
    const points = readFileSync(trace, 'utf8').trim().split('\n');
    expect(points.length).toBeGreaterThan(50);
    for (const kind of ['journal-write', 'in-transaction', 'before-command', 'after-command']) expect(points).toContain(kind);

    const tally = await tryPoints(
      points.map((_, i) => i + 1),
      points,
      (n) => crashAndResume(ARGS, join(tmp.dir, `crash-${n}.db`), 'install', n, expected),
    );
    console.log(`crash points: ${points.length} tried, ${tally.resumed} passed`);
    expect(tally.failures).toEqual([]);
    expect(tally.resumed).toBe(points.length);
  }, 600_000);

  // verify and uninstall act on an installed mesh; on day 2 a remote joins it (cluster-add), and from the mesh
  // it joined leaves again or has both remotes' tokens rotated. Each point starts from a copy of one prepared
  // database. They share the driver the install matrix covers point by point, so by default every third
  // point is tried (each step still dies in several phases); MESH_RUN_CRASH_ALL=1 tries them all.
  const ADD = ['cluster', 'add', '--mesh', 'mesh1', '--name', 'cluster3', '--context', 'cluster3', '-q'];
  const AFTER_INSTALL: Record<string, { before: (install: string) => string[][]; args: (install: string) => string[]; clusters?: string[] }> = {
    verify: { before: () => [], args: (install) => ['verify', '--run', install, '-q'] },
    uninstall: { before: (install) => [['verify', '--run', install, '-q']], args: (install) => ['uninstall', '--run', install, '-q'] },
    'cluster-add': { before: () => [], args: () => ADD, clusters: ['cluster1', 'cluster2', 'cluster3'] },
    'cluster-remove': {
      before: () => [ADD],
      args: () => ['cluster', 'remove', '--mesh', 'mesh1', '--name', 'cluster3', '-q'],
      clusters: ['cluster1', 'cluster2'],
    },
    'secrets-rotate': { before: () => [ADD], args: () => ['secrets', 'rotate', '--mesh', 'mesh1', '-q'], clusters: ['cluster1', 'cluster2', 'cluster3'] },
  };
  it.each(Object.keys(AFTER_INSTALL))(
    'every crash point of %s resumes to the uninterrupted end state',
    async (kind) => {
      const plan = AFTER_INSTALL[kind] as (typeof AFTER_INSTALL)[string];
      const template = join(tmp.dir, `${kind}-template.db`);
      expect((await runCli([...ARGS, '--db', template])).code).toBe(0);
      const install = (await onlyRunId(template)) as string;
      for (const step of plan.before(install)) expect((await runCli([...step, '--db', template])).code).toBe(0);
      const args = plan.args(install);
      const referenceDb = join(tmp.dir, `${kind}-reference.db`);
      copyDb(template, referenceDb);
      const trace = join(tmp.dir, `${kind}-trace.txt`);
      expect((await runCli([...args, '--db', referenceDb], { env: { MESH_RUN_CRASH_TRACE: trace } })).code).toBe(0);
      const expected = (await readJournal(referenceDb, (await onlyRunId(referenceDb, kind)) as string)).cluster;
      if (plan.clusters) expect(Object.keys(expected).sort()).toEqual(plan.clusters);
      const points = readFileSync(trace, 'utf8').trim().split('\n');
      expect(points.length).toBeGreaterThan(20);
      const chosen = sample(points, 3);
      const tally = await tryPoints(chosen, points, async (n) => {
        const db = join(tmp.dir, `${kind}-crash-${n}.db`);
        copyDb(template, db);
        return crashAndResume(args, db, kind, n, expected);
      });
      console.log(
        `${kind} crash points: ${chosen.length} of ${points.length} tried${chosen.length < points.length ? ' (every third; MESH_RUN_CRASH_ALL=1 tries all)' : ''}, ${tally.resumed} passed`,
      );
      expect(tally.failures).toEqual([]);
      expect(tally.resumed).toBe(chosen.length);
    },
    600_000,
  );

  // The other topologies run the same driver with more children and more steps: the mixed fleet (two
  // primaries on two networks, three remotes, a generated root kept on disk) covers every step kind. Every
  // fifth point by default (MESH_RUN_CRASH_ALL=1 tries all).
  it('every crash point of a mixed-fleet install resumes to the uninterrupted end state', async () => {
    const dir = join(tmp.dir, 'fleet');
    cpSync(new URL('../examples', import.meta.url).pathname, dir, { recursive: true });
    const args = [...ARGS, '-c', join(dir, 'mixed-fleet.yaml')];
    const trace = join(tmp.dir, 'fleet-trace.txt');
    const referenceDb = join(tmp.dir, 'fleet-reference.db');
    expect((await runCli([...args, '--db', referenceDb], { env: { MESH_RUN_CRASH_TRACE: trace } })).code).toBe(0);
    const expected = (await readJournal(referenceDb, (await onlyRunId(referenceDb)) as string)).cluster;
    expect(Object.keys(expected).sort()).toEqual(['east-1', 'east-2', 'east-3', 'west-1', 'west-2']);
    const points = readFileSync(trace, 'utf8').trim().split('\n');
    const chosen = sample(points, 5);
    // Five children commit in whatever order the event loop turns: a run may make a few journal writes
    // fewer than the reference, so its last points may not exist (reported, not failed).
    const tally = await tryPoints(chosen, points, (n) => crashAndResume(args, join(tmp.dir, `fleet-crash-${n}.db`), 'install', n, expected, true));
    console.log(
      `mixed-fleet crash points: ${chosen.length} of ${points.length} tried${chosen.length < points.length ? ' (every fifth)' : ''}, ${tally.resumed} resumed, ${tally.missed} not reached (the run finished first)`,
    );
    expect(tally.failures).toEqual([]);
    expect(tally.resumed + tally.missed).toBe(chosen.length);
    expect(tally.missed).toBeLessThan(chosen.length / 5);
  }, 600_000);

  // A canary upgrade walks phases, clusters and waves with a cursor in its context: killed anywhere, it resumes
  // to the same end state (the old revision gone, every proxy moved) without running a finished turn again.
  // Every fourth point by default (MESH_RUN_CRASH_ALL=1 tries all).
  it('every crash point of an upgrade resumes to the uninterrupted end state', async () => {
    const config = join(tmp.dir, 'upgrade.yaml');
    writeFileSync(
      config,
      'meshID: mesh1\nrevision: a\nclusters:\n  - { name: cluster1, context: cluster1, role: primary }\n  - { name: cluster2, context: cluster2, role: remote, controlPlane: cluster1 }\n',
    );
    const template = join(tmp.dir, 'upgrade-template.db');
    expect((await runCli([...ARGS, '-c', config, '--db', template])).code).toBe(0);
    expect((await runCli(['verify', '--mesh', 'mesh1', '-q', '--db', template])).code).toBe(0);
    const args = ['upgrade', '--mesh', 'mesh1', '--revision', 'b', '--wave-size', '1', '-q'];
    const referenceDb = join(tmp.dir, 'upgrade-reference.db');
    copyDb(template, referenceDb);
    const trace = join(tmp.dir, 'upgrade-trace.txt');
    expect((await runCli([...args, '--db', referenceDb], { env: { MESH_RUN_CRASH_TRACE: trace } })).code).toBe(0);
    const expected = (await readJournal(referenceDb, (await onlyRunId(referenceDb, 'upgrade')) as string)).cluster;
    const points = readFileSync(trace, 'utf8').trim().split('\n');
    expect(points.length).toBeGreaterThan(50);
    const chosen = sample(points, 4);
    const tally = await tryPoints(chosen, points, async (n) => {
      const db = join(tmp.dir, `upgrade-crash-${n}.db`);
      copyDb(template, db);
      return crashAndResume(args, db, 'upgrade', n, expected);
    });
    console.log(
      `upgrade crash points: ${chosen.length} of ${points.length} tried${chosen.length < points.length ? ' (every fourth)' : ''}, ${tally.resumed} passed`,
    );
    expect(tally.failures).toEqual([]);
    expect(tally.resumed).toBe(chosen.length);
  }, 600_000);

  // The same kill-anywhere promise with the journal in PostgreSQL (each point in a schema of its own):
  // every third point, as for verify and uninstall (MESH_RUN_CRASH_ALL=1 tries all).
  it.skipIf(!havePostgres())(
    'every crash point of an install with a PostgreSQL store resumes to the uninterrupted end state',
    async () => {
      const trace = join(tmp.dir, 'pg-trace.txt');
      const reference = postgresUrl(freshSchema('crashref')) as string;
      expect((await runCli([...ARGS, '--store', reference], { env: { MESH_RUN_CRASH_TRACE: trace } })).code).toBe(0);
      const expected = (await readJournal(reference, (await onlyRunId(reference)) as string)).cluster;
      const points = readFileSync(trace, 'utf8').trim().split('\n');
      expect(points.length).toBeGreaterThan(50);
      const chosen = sample(points, 3);
      // Transitions coalesce per turn of the event loop, and network round trips move those turns: a run
      // may commit a few transitions fewer than the reference, so its last points may not exist.
      const tally = await tryPoints(chosen, points, (n) => crashAndResume(ARGS, postgresUrl(freshSchema(`crash${n}`)) as string, 'install', n, expected, true));
      console.log(
        `PostgreSQL crash points: ${chosen.length} of ${points.length} tried${chosen.length < points.length ? ' (every third)' : ''}, ${tally.resumed} resumed, ${tally.missed} not reached (the run finished first)`,
      );
      expect(tally.failures).toEqual([]);
      expect(tally.resumed + tally.missed).toBe(chosen.length);
      expect(tally.missed).toBeLessThan(chosen.length / 10);
    },
    600_000,
  );
});
