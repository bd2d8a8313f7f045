// Crash-anywhere checks: kill a dry run with SIGKILL at a crash point (store/crash-points.ts), resume it, and
// check it ends where an uninterrupted run ends. Shared by the fast representative matrix
// (test/crash-matrix.test.ts) and the exhaustive one (test/deep/crash-matrix.deep.test.ts).
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { openStore } from '../../engine/composition.js';
import type { Store } from '../../store/contract.js';
import { parseStoreLocation } from '../../store/location.js';
import { runCli } from './cli.js';
import * as engine from './engine.js';
import { copyExamples } from './examples.js';
import { type Journal, readJournal } from './journal.js';
import { freshSchema, postgresUrl } from './stores.js';

export const ARGS = ['install', '--dry-run', '--sim-lb-delay', '0', '-q'];

// The run of this kind in the store (there is at most one per kind in these tests); undefined when the
// store, or the run, was never created.
export async function onlyRunId(where: string, kind = 'install'): Promise<string | undefined> {
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

export function copyDb(from: string, to: string): void {
  const dir = join(from, '..');
  const base = from.split('/').pop() as string;
  for (const f of readdirSync(dir).filter((n) => n.startsWith(base))) copyFileSync(join(dir, f), join(dir, f.replace(base, to.split('/').pop() as string)));
}

// Runs `args` uninterrupted on `db` with the crash points traced: the end state every crashed run must reach,
// and the points (their kinds, in order).
export async function reference(args: string[], db: string, kind: string, trace: string): Promise<{ expected: Journal['cluster']; points: string[] }> {
  const at = db.startsWith('postgres') ? ['--store', db] : ['--db', db];
  const run = await runCli([...args, ...at], { env: { MESH_RUN_CRASH_TRACE: trace } });
  expect(run.code, run.stderr).toBe(0);
  const expected = (await readJournal(db, (await onlyRunId(db, kind)) as string)).cluster;
  return { expected, points: readFileSync(trace, 'utf8').trim().split('\n') };
}

// Kills `args` at crash point n, resumes (killed once more at the same point), and checks the end state.
// `db` is an SQLite path or a store URL.
// With `mayMiss`, a run that never reached point n (it finished first) is reported as such, not as a failure.
export async function crashAndResume(
  args: string[],
  db: string,
  kind: string,
  n: number,
  expected: unknown,
  mayMiss = false,
): Promise<'resumed' | 'not reached'> {
  const at = db.startsWith('postgres') ? ['--store', db] : ['--db', db];
  const first = await runCli([...args, ...at], { env: { MESH_RUN_CRASH_AT: String(n) } });
  if (first.code === 0 && mayMiss) return 'not reached';
  if (first.signal !== 'SIGKILL') throw new Error(`point ${n} did not kill the run (exit ${first.code}): ${first.stderr.trim().split('\n').join(' / ')}`);
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
export function sample(points: readonly string[], every: number): number[] {
  const step = process.env.MESH_RUN_CRASH_ALL === '1' ? 1 : every;
  return points.map((_, i) => i + 1).filter((n) => n % step === 1 % step);
}

const ofKind = (points: readonly string[], kind: string) => points.flatMap((p, i) => (p === kind ? [i + 1] : []));
const middle = (ns: readonly number[]) => ns[Math.floor(ns.length / 2)];
const distinct = (ns: Array<number | undefined>) => [...new Set(ns.filter((n): n is number => n !== undefined))].sort((a, b) => a - b);

// A handful of points that covers each kind of point (1-based): the first (before the run row exists), the
// first of each other kind, a mid-step journal write, a mid-run after-command, and the last (at the end).
export function representative(points: readonly string[]): number[] {
  return distinct([
    1,
    ...['in-transaction', 'before-command', 'after-command'].map((kind) => ofKind(points, kind)[0]),
    middle(ofKind(points, 'journal-write')),
    middle(ofKind(points, 'after-command')),
    points.length,
  ]);
}

// Two points in the middle of a run: a journal write and an after-command (a run of another kind shares the
// driver the install's representative points cover).
export function midRun(points: readonly string[]): number[] {
  return distinct([middle(ofKind(points, 'journal-write')), middle(ofKind(points, 'after-command'))]);
}

// Tries each chosen point, two at a time; a failure is kept as one line naming the point and its kind.
export async function tryPoints(
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

// The day-2 runs that act on an installed mesh: verify and uninstall act on it; on day 2 a remote joins it
// (cluster-add), and from the mesh it joined leaves again or has both remotes' tokens rotated. `before` is
// the setup on the installed template (driven in this process: it is not what is crashed), `args` the run
// that is crashed.
const ADD = ['cluster', 'add', '--mesh', 'mesh1', '--name', 'cluster3', '--context', 'cluster3', '-q'];
const addCluster3 = async (db: string) => {
  expect((await engine.clusterAdd(db, 'mesh1', { name: 'cluster3', context: 'cluster3' })).status).toBe('succeeded');
};
export const AFTER_INSTALL: Record<
  string,
  { before: (db: string, install: string) => Promise<void>; args: (install: string) => string[]; clusters?: string[] }
> = {
  verify: { before: async () => undefined, args: (install) => ['verify', '--run', install, '-q'] },
  uninstall: {
    before: async (db, install) => {
      expect((await engine.verify(db, { run: install })).status).toBe('succeeded');
    },
    args: (install) => ['uninstall', '--run', install, '-q'],
  },
  'cluster-add': { before: async () => undefined, args: () => ADD, clusters: ['cluster1', 'cluster2', 'cluster3'] },
  'cluster-remove': {
    before: addCluster3,
    args: () => ['cluster', 'remove', '--mesh', 'mesh1', '--name', 'cluster3', '-q'],
    clusters: ['cluster1', 'cluster2'],
  },
  'secrets-rotate': { before: addCluster3, args: () => ['secrets', 'rotate', '--mesh', 'mesh1', '-q'], clusters: ['cluster1', 'cluster2', 'cluster3'] },
};

// An installed mesh (and what `kind` needs before it) in `template`; returns the args of the run to crash.
export async function afterInstallTemplate(kind: string, template: string): Promise<string[]> {
  const plan = AFTER_INSTALL[kind] as (typeof AFTER_INSTALL)[string];
  const installed = await engine.install(template);
  expect(installed.status).toBe('succeeded');
  await plan.before(template, installed.id);
  return plan.args(installed.id);
}

// A mesh at revision a, installed and verified, in `template` (what an upgrade acts on).
export async function upgradeTemplate(config: string, template: string): Promise<void> {
  expect((await engine.install(template, { config })).status).toBe('succeeded');
  expect((await engine.verify(template, { mesh: 'mesh1' })).status).toBe('succeeded');
}

export const UPGRADE_CONFIG =
  'meshID: mesh1\nrevision: a\nclusters:\n  - { name: cluster1, context: cluster1, role: primary }\n  - { name: cluster2, context: cluster2, role: remote, controlPlane: cluster1 }\n';
export const UPGRADE_ARGS = ['upgrade', '--mesh', 'mesh1', '--revision', 'b', '--wave-size', '1', '-q'];

// One scenario of the matrix, killed at the points `choose` picks from its reference run's points.
export type Choose = (points: readonly string[]) => number[];
export interface Matrix {
  points: string[];
  chosen: number[];
  tally: Awaited<ReturnType<typeof tryPoints>>;
}

// An install of the page's mesh.
export async function installMatrix(dir: string, choose: Choose): Promise<Matrix> {
  const { expected, points } = await reference(ARGS, join(dir, 'reference.db'), 'install', join(dir, 'trace.txt'));
  expect(points.length).toBeGreaterThan(50);
  for (const kind of ['journal-write', 'in-transaction', 'before-command', 'after-command']) expect(points).toContain(kind);
  const chosen = choose(points);
  return { points, chosen, tally: await tryPoints(chosen, points, (n) => crashAndResume(ARGS, join(dir, `crash-${n}.db`), 'install', n, expected)) };
}

// A run of `kind` (AFTER_INSTALL) on an installed mesh; each point starts from a copy of one prepared database.
export async function afterInstallMatrix(dir: string, kind: string, choose: Choose): Promise<Matrix> {
  const plan = AFTER_INSTALL[kind] as (typeof AFTER_INSTALL)[string];
  const template = join(dir, `${kind}-template.db`);
  const args = await afterInstallTemplate(kind, template);
  const referenceDb = join(dir, `${kind}-reference.db`);
  copyDb(template, referenceDb);
  const { expected, points } = await reference(args, referenceDb, kind, join(dir, `${kind}-trace.txt`));
  if (plan.clusters) expect(Object.keys(expected).sort()).toEqual(plan.clusters);
  expect(points.length).toBeGreaterThan(20);
  const chosen = choose(points);
  const tally = await tryPoints(chosen, points, async (n) => {
    const db = join(dir, `${kind}-crash-${n}.db`);
    copyDb(template, db);
    return crashAndResume(args, db, kind, n, expected);
  });
  return { points, chosen, tally };
}

// The mixed-fleet example: five children commit in whatever order the event loop turns, so a run may make a
// few journal writes fewer than the reference and its last points may not exist (counted as missed).
export async function fleetMatrix(dir: string, choose: Choose): Promise<Matrix> {
  const examples = join(dir, 'fleet');
  copyExamples(examples);
  const args = [...ARGS, '-c', join(examples, 'mixed-fleet.yaml')];
  const { expected, points } = await reference(args, join(dir, 'fleet-reference.db'), 'install', join(dir, 'fleet-trace.txt'));
  expect(Object.keys(expected).sort()).toEqual(['east-1', 'east-2', 'east-3', 'west-1', 'west-2']);
  const chosen = choose(points);
  return {
    points,
    chosen,
    tally: await tryPoints(chosen, points, (n) => crashAndResume(args, join(dir, `fleet-crash-${n}.db`), 'install', n, expected, true)),
  };
}

// A canary upgrade of a mesh installed and verified at revision a; each point from a copy of that database.
export async function upgradeMatrix(dir: string, choose: Choose): Promise<Matrix> {
  const config = join(dir, 'upgrade.yaml');
  writeFileSync(config, UPGRADE_CONFIG);
  const template = join(dir, 'upgrade-template.db');
  await upgradeTemplate(config, template);
  const referenceDb = join(dir, 'upgrade-reference.db');
  copyDb(template, referenceDb);
  const { expected, points } = await reference(UPGRADE_ARGS, referenceDb, 'upgrade', join(dir, 'upgrade-trace.txt'));
  expect(points.length).toBeGreaterThan(50);
  const chosen = choose(points);
  const tally = await tryPoints(chosen, points, async (n) => {
    const db = join(dir, `upgrade-crash-${n}.db`);
    copyDb(template, db);
    return crashAndResume(UPGRADE_ARGS, db, 'upgrade', n, expected);
  });
  return { points, chosen, tally };
}

// An install with its journal in PostgreSQL, each point in a schema of its own. Network round trips move the
// turns transitions coalesce in: a run may commit a few fewer than the reference (its last points missed).
export async function postgresMatrix(dir: string, choose: Choose): Promise<Matrix> {
  const { expected, points } = await reference(ARGS, postgresUrl(freshSchema('crashref')) as string, 'install', join(dir, 'pg-trace.txt'));
  expect(points.length).toBeGreaterThan(50);
  const chosen = choose(points);
  const tally = await tryPoints(chosen, points, (n) => crashAndResume(ARGS, postgresUrl(freshSchema(`crash${n}`)) as string, 'install', n, expected, true));
  return { points, chosen, tally };
}
