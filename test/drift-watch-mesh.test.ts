// drift --watch on a simulated mesh, as an operator runs it: the CLI in a child process at a short interval,
// drift made by hand with "mesh-run sim kubectl" (as test/drift.test.ts does), the change seen once however
// many checks pass; with --repair, repaired; two watchers in two processes on one store never repair at once;
// one refused "busy" by a repair run holding the mesh says so and tries again; Ctrl-C or SIGTERM ends it, exit 0.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readWorld, type WorldSettings, writeWorld } from '../adapters/simulator/world.js';
import { openStore, storeLocation } from '../engine/composition.js';
import type { WatchEvent } from '../engine/drift-watch-model.js';
import { checkDrift, checkRepair, prepareRepair, watchDrift, watchRepairer } from '../engine/run-api.js';
import { sleep } from '../shared/sleep.js';
import { parseStoreLocation } from '../store/location.js';
import { type CliResult, startCli, tempDir } from './support/cli.js';
import { runCli } from './support/cli-here.js';
import { copyDb } from './support/crash-resume.js';
import { copyExamples } from './support/examples.js';
import { peek } from './support/journal.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const examples = join(tmp.dir, 'examples');
copyExamples(examples);

let base: string;
let copies = 0;
function copyOfBase(): string {
  const db = join(tmp.dir, `case-${++copies}.db`);
  copyDb(base, db);
  return db;
}

beforeAll(async () => {
  base = join(tmp.dir, 'primary-remote.db');
  const installed = await runCli(['install', '--dry-run', '--sim-lb-delay', '0', '-q', '-c', join(examples, 'primary-remote.yaml'), '--db', base]);
  expect(installed.code, installed.stderr).toBe(0);
});

// The drift every case makes: cluster2's remote secret deleted on cluster1, as a cleanup script would.
async function deleteRemoteSecret(db: string): Promise<void> {
  const args = [
    'sim',
    'kubectl',
    '--mesh',
    'mesh1',
    '--context',
    'cluster1',
    '--db',
    db,
    '--',
    '-n',
    'istio-system',
    'delete',
    'secret',
    'istio-remote-secret-cluster2',
  ];
  const result = await runCli(args);
  expect(result.code, result.stderr).toBe(0);
}

// The simulated clusters' settings changed under a running watch, as an outage or a slow network would.
async function changeWorld(db: string, change: (settings: WorldSettings) => WorldSettings): Promise<void> {
  const world = peek<{ world: string }>(db, "SELECT COALESCE(sim_world, id) AS world FROM runs WHERE kind = 'install'")?.[0]?.world as string;
  const store = await openStore(parseStoreLocation(db, 'test'), 'existing');
  try {
    const settings = await readWorld(store.worlds, world);
    if (!settings) throw new Error(`no world ${world}`);
    await writeWorld(store.worlds, world, change(settings));
  } finally {
    await store.close();
  }
}
const reachable = (cluster: string, yes: boolean) => (s: WorldSettings) => ({
  ...s,
  contexts: s.contexts.map((c) => (c.name === cluster ? { ...c, unreachable: !yes } : c)),
});

async function until(what: string, predicate: () => boolean, seen: () => string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`not seen in ${timeoutMs} ms: ${what}; the watch said:\n${seen()}`);
    await sleep(50, new AbortController().signal);
  }
}

// A watch in a child process, its stdout read as it comes.
function watch(db: string, ...flags: string[]) {
  const { child, done } = startCli(['drift', '--mesh', 'mesh1', '--db', db, '--watch', '--interval', '250ms', ...flags]);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  const events = () =>
    out
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as WatchEvent);
  const stop = async (signal: NodeJS.Signals = 'SIGINT'): Promise<CliResult> => {
    child.kill(signal);
    return done;
  };
  return { stdout: () => out, events, stop };
}

const types = (events: WatchEvent[]) =>
  events.map((e) => (e.type === 'drift-found' || e.type === 'drift-gone' ? `${e.type} ${e.item.kind}@${e.item.cluster}` : e.type));

describe('drift --watch on a simulated mesh', () => {
  it('-o json: one JSON line per change (watching, drift found, drift gone), none for the checks between; SIGINT: exit 0', async () => {
    const db = copyOfBase();
    const w = watch(db, '-o', 'json');
    await until('watching', () => w.stdout().includes('"type":"watching"'), w.stdout);
    await deleteRemoteSecret(db);
    await until('the drift', () => w.stdout().includes('"type":"drift-found"'), w.stdout);
    const repaired = await runCli(['repair', '--mesh', 'mesh1', '--db', db, '-q']);
    expect(repaired.code, repaired.stderr).toBe(0);
    await until('the drift gone', () => w.stdout().includes('"type":"drift-gone"'), w.stdout);
    // Several checks more, and nothing said.
    await sleep(1000, new AbortController().signal);
    const result = await w.stop('SIGINT');
    expect(result.code, result.stderr).toBe(0);
    expect(types(w.events())).toEqual(['watching', 'drift-found remote-secret-missing@cluster1', 'drift-gone remote-secret-missing@cluster1']);
    expect(w.events()[0]).toMatchObject({
      type: 'watching',
      mesh: 'mesh1',
      intervalMs: 250,
      repair: false,
      drift: 0,
      unreadable: 0,
      clusters: ['cluster1', 'cluster2'],
    });
    for (const e of w.events()) expect(e.at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const checks = Number(/after (\d+) checks/.exec(result.stderr)?.[1]);
    expect(checks).toBeGreaterThan(3);
    expect(result.stderr).toMatch(/^stopped watching mesh mesh1 after \d+ checks \(every 250ms\)\n$/);
  });

  it('stops once its output is gone (a pipe closed, as head closes it): at the first change it cannot write, exit 0', async () => {
    const db = copyOfBase();
    const { child, done } = startCli(['drift', '--mesh', 'mesh1', '--db', db, '--watch', '--interval', '250ms']);
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    await until(
      'watching',
      () => out.includes('watching mesh mesh1'),
      () => out,
    );
    child.stdout?.destroy();
    await deleteRemoteSecret(db);
    const result = await done;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/^stopped watching mesh mesh1 after \d+ checks \(every 250ms\)\n$/);
  });

  it('--repair: the drift is found, repaired by a repair run, and gone; SIGTERM: exit 0; drift then finds nothing', async () => {
    const db = copyOfBase();
    const w = watch(db, '--repair');
    await until('watching', () => w.stdout().includes('watching mesh mesh1'), w.stdout);
    expect(w.stdout()).toMatch(/Z watching mesh mesh1 \(clusters cluster1, cluster2\) every 250ms, repairing what a repair run repairs: ✔ no drift\n$/);
    await deleteRemoteSecret(db);
    await until('the drift gone', () => w.stdout().includes('✔ drift gone'), w.stdout);
    const result = await w.stop('SIGTERM');
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.split('\n').filter((l) => /^\S+Z /.test(l));
    expect(lines.map((l) => l.replace(/^\S+Z /, '').replace(/mr-[a-z0-9]+/, 'mr-X'))).toEqual([
      'watching mesh mesh1 (clusters cluster1, cluster2) every 250ms, repairing what a repair run repairs: ✔ no drift',
      '✖ drift remote-secret-missing cluster1: cluster1 holds no remote secret for cluster2 (istio-system/istio-remote-secret-cluster2)',
      "repair run mr-X started: remote-secret-missing@cluster1 (cluster2's secret)",
      '✔ repair run mr-X succeeded',
      '✔ drift gone remote-secret-missing cluster1 (it was: cluster1 holds no remote secret for cluster2 (istio-system/istio-remote-secret-cluster2))',
    ]);
    expect(result.stdout).toContain('    repair: istioctl create-remote-secret --context=cluster2 --name=cluster2');
    expect(result.stderr).toMatch(/^stopped watching mesh mesh1 after \d+ checks and 1 repair run \(every 250ms\)\n$/);
    expect((await runCli(['drift', '--mesh', 'mesh1', '--db', db])).code).toBe(0);
    expect(peek<{ status: string }>(db, "SELECT status FROM runs WHERE kind = 'repair'")).toEqual([{ status: 'succeeded' }]);
    // Journaled on change only: the first check, the drift found, and (after the repair) the drift gone, each a
    // drift run; the checks that saw nothing new recorded nothing.
    // (less the one-off drift check just above, a run too).
    const recorded = (peek<{ n: number }>(db, "SELECT COUNT(*) AS n FROM runs WHERE kind = 'drift'")?.[0]?.n ?? 0) - 1;
    expect(recorded).toBeGreaterThanOrEqual(3);
    expect(recorded).toBeLessThanOrEqual(Number(/after (\d+) checks/.exec(result.stderr)?.[1] ?? 0));
    const seen = peek<{ subject: string }>(
      db,
      "SELECT o.subject FROM observations o JOIN runs r ON r.id = o.run_id WHERE r.kind = 'drift' AND o.subject LIKE 'drift:%'",
    );
    expect(seen?.map((o) => o.subject)).toContain('drift:remote-secret-missing:cluster2');
  });

  it('two watchers with --repair in two processes on one store: the drift is repaired, never by two runs at once', async () => {
    const db = copyOfBase();
    const [a, b] = [watch(db, '--repair', '-o', 'json'), watch(db, '--repair', '-o', 'json')];
    const both = () => `a:\n${a.stdout()}\nb:\n${b.stdout()}`;
    await until('both watching', () => a.stdout().includes('"watching"') && b.stdout().includes('"watching"'), both);
    await deleteRemoteSecret(db);
    // A watcher may never see the drift: the other found and repaired it between two of its checks.
    await until('the drift gone', () => a.stdout().includes('"drift-gone"') || b.stdout().includes('"drift-gone"'), both);
    const results = await Promise.all([a.stop(), b.stop()]);
    expect(results.map((r) => r.code)).toEqual([0, 0]);
    expect((await runCli(['drift', '--mesh', 'mesh1', '--db', db])).code).toBe(0);
    const said = [a, b].map((w) => types(w.events()).filter((t) => t.startsWith('repair')));
    console.log(`two watchers: ${said.map((s, i) => `${'ab'[i]}: ${s.join(', ') || 'no repair'}`).join('; ')}`);
    // Each repair run ran alone: its first step started after the one before had ended (its claim released).
    const runs = peek<{ id: string; status: string }>(db, "SELECT id, status FROM runs WHERE kind = 'repair' ORDER BY created_at") ?? [];
    expect(runs.length).toBeGreaterThan(0);
    expect(runs.every((r) => r.status === 'succeeded')).toBe(true);
    const spans = runs.map(
      (r) =>
        peek<{ first: number; last: number }>(db, `SELECT MIN(started_at) AS first, MAX(ended_at) AS last FROM step_attempts WHERE run_id = '${r.id}'`)?.[0],
    );
    for (let i = 1; i < spans.length; i++) expect(spans[i]?.first).toBeGreaterThanOrEqual(spans[i - 1]?.last as number);
    // Each run started is said by the one watcher that started it.
    expect(said.flat().filter((t) => t === 'repair-started')).toHaveLength(runs.length);
  });

  it('a cluster that stops answering is said once, and again when it answers; nothing is repaired meanwhile', async () => {
    const db = copyOfBase();
    const w = watch(db, '--repair', '-o', 'json');
    await until('watching', () => w.stdout().includes('"type":"watching"'), w.stdout);
    await changeWorld(db, reachable('cluster2', false));
    await deleteRemoteSecret(db);
    await until('cluster2 unreadable', () => w.stdout().includes('"type":"unreadable"'), w.stdout);
    await sleep(1000, new AbortController().signal);
    expect(w.stdout()).not.toContain('repair-started');
    await changeWorld(db, reachable('cluster2', true));
    await until('cluster2 readable, the drift repaired', () => w.stdout().includes('"type":"drift-gone"'), w.stdout);
    const result = await w.stop();
    expect(result.code, result.stderr).toBe(0);
    const said = types(w.events());
    expect(said.filter((t) => t === 'unreadable' || t === 'readable')).toEqual(['unreadable', 'readable']);
    expect(w.events().find((e) => e.type === 'unreadable')).toMatchObject({
      cluster: { cluster: 'cluster2', context: 'cluster2', error: expect.stringMatching(/i\/o timeout/) },
    });
    expect(said.indexOf('repair-started')).toBeGreaterThan(said.indexOf('readable'));
  });

  it('SIGINT during a repair run: the run is interrupted (resumable), the watch exits 130 saying how to continue it', async () => {
    const db = copyOfBase();
    const w = watch(db, '--repair');
    await until('watching', () => w.stdout().includes('watching mesh mesh1'), w.stdout);
    // Slow clusters from now on: the repair run is still running when the signal comes.
    await changeWorld(db, (s) => ({ ...s, commandLatencyMs: 400 }));
    await deleteRemoteSecret(db);
    await until('the repair run', () => w.stdout().includes('started: remote-secret-missing@cluster1'), w.stdout);
    const result = await w.stop('SIGINT');
    expect(result.code, result.stderr).toBe(130);
    const run = /repair run (mr-[a-z0-9]+) started/.exec(result.stdout)?.[1] as string;
    expect(result.stderr).toContain(`repair run ${run} interrupted: continue with mesh-run resume ${run} --db ${db}`);
    expect(peek<{ status: string }>(db, `SELECT status FROM runs WHERE id = '${run}'`)).toEqual([{ status: 'interrupted' }]);
    await changeWorld(db, (s) => ({ ...s, commandLatencyMs: 0 }));
    const resumed = await runCli(['resume', run, '--db', db, '-q']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect((await runCli(['drift', '--mesh', 'mesh1', '--db', db])).code).toBe(0);
  });

  it('a repair run holding the mesh: the watch says it is busy, starts none, and sees the drift gone once that run repaired it', async () => {
    const db = copyOfBase();
    await deleteRemoteSecret(db);
    const target = { meshRef: 'mesh1', store: storeLocation({ db }) };
    const request = { ...target, dryRun: false, injections: [] };
    const held = await prepareRepair(request, await checkRepair(request));
    const stopping = new AbortController();
    const events: WatchEvent[] = [];
    let released: Promise<unknown> | undefined;
    const summary = await watchDrift(
      {
        check: () => checkDrift(target),
        repair: watchRepairer(target).repair,
        // The next check waits for the held run to end: the watch sees the drift gone then, not half way.
        sleep: async (ms, signal) => {
          await released;
          await sleep(ms, signal);
        },
        now: Date.now,
        emit: (e) => {
          events.push(e);
          if (e.type === 'repair-busy' && !released) released = held.begin().finally(() => held.close());
          if (e.type === 'drift-gone' && e.item.kind === 'remote-secret-missing') stopping.abort();
        },
      },
      { intervalMs: 250, signal: stopping.signal, maxChecks: 200 },
    );
    await released;
    // The drift found first (with what follows from it, such as cluster2's injector losing its CA), then busy.
    const said = types(events);
    expect(said.slice(0, said.indexOf('watching'))).toContain('drift-found remote-secret-missing@cluster1');
    expect(said.find((t) => t.startsWith('repair'))).toBe('repair-busy');
    expect(said).not.toContain('repair-started');
    expect(said).toContain('drift-gone remote-secret-missing@cluster1');
    expect(events.find((e) => e.type === 'repair-busy')).toMatchObject({
      message: expect.stringMatching(new RegExp(`^run ${held.run.id} \\(repair\\) is still running on these simulated clusters`)),
    });
    expect(summary.repairs).toBe(0);
    expect(peek<{ id: string }>(db, "SELECT id FROM runs WHERE kind = 'repair'")).toEqual([{ id: held.run.id }]);
  });
});
