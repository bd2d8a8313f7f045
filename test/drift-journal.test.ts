// Each drift check is journaled: a run of kind drift that records what it found, so mesh-run drift says since
// when each drift is there, and mesh show (and history) say when it was first seen and what ended it: the
// repair run that put it back, or a later check that no longer saw it ("gone"). On simulated clusters, with
// drift made by hand through mesh-run sim kubectl, on SQLite and on PostgreSQL. The check claims no cluster,
// so it runs beside a run that holds them; no token reaches the journal.
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { readWorld, writeWorld } from '../adapters/simulator/world.js';
import type { DriftItem } from '../engine/activities/drift-model.js';
import { driftObservations } from '../engine/activities/drift-record.js';
import { openStore } from '../engine/composition.js';
import { driftHistory } from '../engine/views/drift-history.js';
import type { MeshConfig } from '../shared/model.js';
import type { Observation, RunRecord } from '../store/contract.js';
import { parseStoreLocation } from '../store/location.js';
import { runIdFrom, startCli, tempDir } from './support/cli.js';
import { runCli } from './support/cli-here.js';
import { copyExamples } from './support/examples.js';
import { readJournal } from './support/journal.js';
import { recordRealMesh } from './support/real-mesh.js';
import { expectNoLeak, postgresContents, tokenEnv, withToken } from './support/secret-leaks.js';
import { setSimLatency, simCommand } from './support/sim.js';
import { type Backend, havePostgres, newStore } from './support/stores.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const examples = join(tmp.dir, 'examples');
copyExamples(examples);
const env = tokenEnv;

interface Seen {
  runId: string;
  at: string;
}
interface Report {
  ok: boolean;
  runId: string;
  checkedAt: string;
  drift: Array<{ kind: string; cluster: string; source?: string; what: string; firstSeen?: Seen }>;
  unreadable: unknown[];
}
interface Episode {
  kind: string;
  cluster: string;
  source?: string;
  what: string;
  firstSeen: { runId: string; at: number };
  lastSeen: { runId: string; at: number };
  checks: number;
  ended?: { runId: string; at: number; how: 'repaired' | 'gone' };
}
interface Shown {
  drift: { lastCheck?: { runId: string; complete: boolean }; open: Episode[]; ended: Episode[] };
}

interface Mesh {
  args: string[];
  where: string;
  world: string;
}

const outputs: string[] = [];

async function cli(args: string[]) {
  const result = await runCli(args, { env });
  outputs.push(result.stdout, result.stderr);
  return { ...result, code: result.code ?? -1 };
}

async function install(backend: Backend, name: string, config = join(examples, 'primary-remote.yaml')): Promise<Mesh> {
  const { where, args } = newStore(backend, tmp.dir, name);
  const result = await cli(['install', '--dry-run', '--sim-lb-delay', '0', '-q', '-c', config, ...args]);
  expect(result.code, result.stderr).toBe(0);
  return { args, where, world: (await readJournal(where, runIdFrom(result))).run.simWorld };
}

async function kubectl(mesh: Mesh, context: string, args: string[]): Promise<void> {
  const result = await withToken(() => simCommand(mesh.where, mesh.world, context, args));
  expect(result.exitCode, `kubectl ${args.join(' ')}: ${result.stderr}`).toBe(0);
}

async function drift(mesh: Mesh): Promise<{ code: number; report: Report }> {
  const result = await cli(['drift', '--mesh', 'mesh1', ...mesh.args, '-o', 'json']);
  expect(result.stdout, `no report (exit ${result.code}): ${result.stderr}`).not.toBe('');
  return { code: result.code, report: JSON.parse(result.stdout) as Report };
}

async function shown(mesh: Mesh): Promise<Shown['drift']> {
  const result = await cli(['mesh', 'show', 'mesh1', ...mesh.args, '-o', 'json']);
  expect(result.code, result.stderr).toBe(0);
  return (JSON.parse(result.stdout) as Shown).drift;
}

const label = (e: { kind: string; cluster: string }) => `${e.kind}@${e.cluster}`;
const deleteSecret = (m: Mesh) => kubectl(m, 'cluster1', ['-n', 'istio-system', 'delete', 'secret', 'istio-remote-secret-cluster2']);
const relabel = (m: Mesh, network: string) =>
  kubectl(m, 'cluster2', ['label', 'namespace', 'istio-system', `topology.istio.io/network=${network}`, '--overwrite']);

// The whole story on one store: clean, drift seen twice (one first sighting), one drift fixed by hand (gone),
// the other repaired (by that run), then clean again; the journal holds no token.
async function story(backend: Backend): Promise<void> {
  const mesh = await install(backend, `story-${backend}`);
  const clean = await drift(mesh);
  expect(clean.code).toBe(0);
  expect(clean.report).toMatchObject({ ok: true, drift: [] });
  expect((await readJournal(mesh.where, clean.report.runId)).run).toMatchObject({ kind: 'drift', status: 'succeeded', mode: 'dry-run' });
  expect(await shown(mesh)).toEqual({ lastCheck: expect.objectContaining({ runId: clean.report.runId, complete: true }), open: [], ended: [] });

  await deleteSecret(mesh);
  await relabel(mesh, 'network9');
  const first = await drift(mesh);
  expect(first.code).toBe(5);
  expect(first.report.drift.map(label)).toEqual(['network-label@cluster2', 'remote-secret-missing@cluster1']);
  for (const d of first.report.drift) expect(d.firstSeen).toEqual({ runId: first.report.runId, at: expect.any(String) });

  const second = await drift(mesh);
  expect(second.code).toBe(5);
  expect(second.report.runId).not.toBe(first.report.runId);
  expect(second.report.drift.map((d) => d.firstSeen)).toEqual(first.report.drift.map((d) => d.firstSeen));
  const text = await cli(['drift', '--mesh', 'mesh1', ...mesh.args]);
  expect(text.code).toBe(5);
  expect(runIdFrom(text)).toMatch(/^mr-/);
  expect(text.stdout).toContain(`since: ${first.report.drift[0]?.firstSeen?.at.replace('T', ' ').slice(0, 19)} (first seen by run ${first.report.runId})`);

  // The label put back by hand: the next check no longer sees it, and says so; the secret is still missing.
  await relabel(mesh, 'network1');
  const third = await drift(mesh);
  expect(third.report.drift.map(label)).toEqual(['remote-secret-missing@cluster1']);
  expect(third.report.drift[0]?.firstSeen?.runId).toBe(first.report.runId);
  let history = await shown(mesh);
  expect(history.open.map(label)).toEqual(['remote-secret-missing@cluster1']);
  expect(history.open[0]).toMatchObject({ source: 'cluster2', firstSeen: { runId: first.report.runId }, checks: 4 });
  expect(history.ended).toEqual([
    expect.objectContaining({
      kind: 'network-label',
      cluster: 'cluster2',
      firstSeen: expect.objectContaining({ runId: first.report.runId }),
      ended: expect.objectContaining({ how: 'gone', runId: third.report.runId }),
    }),
  ]);

  const repaired = await cli(['repair', '--mesh', 'mesh1', ...mesh.args, '-q']);
  expect(repaired.code, repaired.stderr).toBe(0);
  const repairRun = runIdFrom(repaired);
  history = await shown(mesh);
  expect(history.open).toEqual([]);
  expect(history.ended[0]).toMatchObject({
    kind: 'remote-secret-missing',
    cluster: 'cluster1',
    source: 'cluster2',
    firstSeen: { runId: first.report.runId },
    ended: { how: 'repaired', runId: repairRun },
  });
  const after = await drift(mesh);
  expect(after.code).toBe(0);
  history = await shown(mesh);
  expect(history.lastCheck?.runId).toBe(after.report.runId);
  expect(history.ended.map((e) => `${label(e)} ${e.ended?.how} ${e.ended?.runId}`)).toEqual([
    `remote-secret-missing@cluster1 repaired ${repairRun}`,
    `network-label@cluster2 gone ${third.report.runId}`,
  ]);
  const page = await cli(['mesh', 'show', 'mesh1', ...mesh.args]);
  expect(page.stdout).toContain(`drift     last checked by ${after.report.runId}`);
  expect(page.stdout).toMatch(
    new RegExp(`remote-secret-missing@cluster1 \\(cluster2's secret\\) +repaired .*\\(${first.report.runId}\\) +repaired by ${repairRun}`),
  );
  expect(page.stdout).toMatch(new RegExp(`network-label@cluster2 +gone .*gone: ${third.report.runId} no longer saw it`));

  // history: the drift runs are runs, their finding one readable event each.
  const attempts = JSON.parse((await cli(['history', '--kind', 'drift', ...mesh.args, '-o', 'json'])).stdout) as Array<{
    run: string;
    step: string;
    outcome: string;
  }>;
  expect(attempts.filter((a) => a.step === 'check-drift' && a.outcome === 'succeeded').map((a) => a.run)).toContain(first.report.runId);
  const actions = JSON.parse((await cli(['history', '--actions', '--run', first.report.runId, ...mesh.args, '-o', 'json'])).stdout) as Array<{
    action: string;
    detail: string;
  }>;
  expect(actions.find((a) => a.action === 'drift')?.detail).toBe("2 drifts: network-label@cluster2, remote-secret-missing@cluster1 (cluster2's secret)");
}

describe('every drift check is journaled, with since when and what ended it', () => {
  it('on SQLite: first seen once, kept across checks, gone when fixed by hand, repaired by the repair run', async () => {
    await story('sqlite');
  });

  it.runIf(havePostgres())('on PostgreSQL: the same story', async () => {
    await story('postgres');
  });

  it('a drift that a check could not look at is not "gone": an unreadable cluster ends nothing', async () => {
    const mesh = await install('sqlite', 'unread');
    await relabel(mesh, 'network9');
    const seen = await drift(mesh);
    expect(seen.report.drift.map(label)).toEqual(['network-label@cluster2']);
    // cluster2 silent: the check is incomplete (exit 3), and what it could not read stays open.
    await kubectl(mesh, 'cluster2', ['label', 'namespace', 'istio-system', 'topology.istio.io/network=network1', '--overwrite']);
    const store = await openStore(parseStoreLocation(mesh.where, 'test'), 'existing');
    const settings = await readWorld(store.worlds, mesh.world);
    if (!settings) throw new Error('no world');
    await writeWorld(store.worlds, mesh.world, {
      ...settings,
      contexts: settings.contexts.map((c) => (c.name === 'cluster2' ? { ...c, unreachable: true } : c)),
    });
    const silent = await drift(mesh);
    expect(silent.code).toBe(3);
    expect(silent.report.unreadable).toHaveLength(1);
    let history = await shown(mesh);
    expect(history.lastCheck).toMatchObject({ runId: silent.report.runId, complete: false });
    expect(history.open.map(label)).toEqual(['network-label@cluster2']);
    // Back: the next check reads it whole and no longer sees the drift.
    await writeWorld(store.worlds, mesh.world, settings);
    await store.close();
    const back = await drift(mesh);
    expect(back.code).toBe(0);
    history = await shown(mesh);
    expect(history.open).toEqual([]);
    expect(history.ended[0]?.ended).toMatchObject({ how: 'gone', runId: back.report.runId });
  });

  it('claims no cluster: a check runs while a verify holds the simulated clusters, and neither waits', async () => {
    const mesh = await install('sqlite', 'beside');
    await setSimLatency(mesh.where, mesh.world, 200);
    const verify = startCli(['verify', '--mesh', 'mesh1', '-q', ...mesh.args], { env });
    const deadline = Date.now() + 30_000;
    for (;;) {
      const runs = JSON.parse((await cli(['runs', '--json', ...mesh.args])).stdout) as Array<{ kind: string; status: string }>;
      if (runs.some((r) => r.kind === 'verify' && r.status === 'running')) break;
      if (Date.now() > deadline) throw new Error('the verify run never showed as running');
    }
    const beside = await drift(mesh);
    const verified = await verify.done;
    expect(beside.code, JSON.stringify(beside.report)).toBe(0);
    expect(verified.code, verified.stderr).toBe(0);
    await setSimLatency(mesh.where, mesh.world, 0);
  });

  it('a token probed by a check (a revoked one) reaches no output and no journal', async () => {
    const mesh = await install('sqlite', 'token');
    await kubectl(mesh, 'cluster2', ['-n', 'istio-system', 'delete', 'secret', 'istio-reader-service-account-istio-remote-secret-token']);
    const probed = await drift(mesh);
    expect(probed.report.drift.map(label)).toEqual(['remote-secret-token@cluster1']);
    await drift(mesh);
    expect((await shown(mesh)).open[0]?.firstSeen.runId).toBe(probed.report.runId);
    for (const [i, out] of outputs.entries()) expectNoLeak(`output ${i}`, out);
    for (const file of [mesh.where, `${mesh.where}-wal`]) if (existsSync(file)) expectNoLeak(file, readFileSync(file));
  });

  it.runIf(havePostgres())('no token in a PostgreSQL journal either', async () => {
    const mesh = await install('postgres', 'pgtoken');
    await kubectl(mesh, 'cluster2', ['-n', 'istio-system', 'delete', 'secret', 'istio-reader-service-account-istio-remote-secret-token']);
    expect((await drift(mesh)).report.drift.map(label)).toEqual(['remote-secret-token@cluster1']);
    const url = mesh.args[1] as string;
    for (const [name, contents] of await postgresContents(url)) expectNoLeak(name, contents);
  });
});

// A real mesh whose kubectl and istioctl answer from the simulated clusters of `clusters` (another database),
// recorded in a journal of its own: a day-2 run with --dry-run on it rehearses on a simulated copy.
async function realMesh(clusters: Mesh, extra = ''): Promise<Mesh> {
  const tool = fileURLToPath(new URL('./support/sim-tool.mjs', import.meta.url));
  const shims: Record<string, string> = {};
  for (const name of ['kubectl', 'istioctl']) {
    shims[name] = `${clusters.where}-${name}`;
    writeFileSync(shims[name] as string, `#!/bin/sh\nexec "${process.execPath}" "${tool}" "${clusters.where}" "${clusters.world}" ${name} "$@"\n`);
    chmodSync(shims[name] as string, 0o755);
  }
  const where = `${clusters.where}-journal.db`;
  await recordRealMesh(
    where,
    `meshID: mesh1\nnetwork: network1\nprimary: {name: cluster1, context: cluster1}\nremotes: [{name: cluster2, context: cluster2}]\ntools: {kubectl: ${shims.kubectl}, istioctl: ${shims.istioctl}}\n${extra}`,
  );
  return { args: ['--db', where], where, world: '' };
}

// A rehearsal (--dry-run on a real mesh) is recorded against the real install but acted on a simulated copy:
// what it saw and did there is not the mesh's.
describe('a rehearsal on a simulated copy of a real mesh says nothing about the mesh', () => {
  it('trust rotate --intermediate --dry-run: drift still expects the real cacerts (exit 0, no cacerts-changed)', async () => {
    // The clusters' root, generated by their install, is the real mesh's trust directory.
    const trust = `trust: {outputDir: ${join(tmp.dir, 'real-rotated-certs')}}\n`;
    const config = join(tmp.dir, 'real-rotated.yaml');
    writeFileSync(config, `${readFileSync(join(examples, 'primary-remote.yaml'), 'utf8')}\n${trust}`);
    const clusters = await install('sqlite', 'real-rotated', config);
    await drift(clusters);
    const real = await realMesh(clusters, trust);
    expect((await drift(real)).code).toBe(0);
    const rehearsal = await cli(['trust', 'rotate', '--mesh', 'mesh1', '--intermediate', '--dry-run', '-q', ...real.args]);
    expect(rehearsal.code, rehearsal.stderr).toBe(0);
    expect((await readJournal(real.where, runIdFrom(rehearsal))).run.mode).toBe('dry-run');
    const after = await drift(real);
    expect(after.report.drift.map(label)).toEqual([]);
    expect(after.code).toBe(0);
  }, 120_000);

  it('repair --dry-run that succeeded ends no drift in mesh show: the drift is still open', async () => {
    const clusters = await install('sqlite', 'real-repaired');
    await drift(clusters);
    const real = await realMesh(clusters);
    await relabel(clusters, 'network9');
    const seen = await drift(real);
    expect(seen.report.drift.map(label)).toEqual(['network-label@cluster2']);
    const rehearsal = await cli(['repair', '--mesh', 'mesh1', '--dry-run', '-q', ...real.args]);
    expect(rehearsal.code, rehearsal.stderr).toBe(0);
    expect((await readJournal(real.where, runIdFrom(rehearsal))).run).toMatchObject({ kind: 'repair', mode: 'dry-run', status: 'succeeded' });
    const history = await shown(real);
    expect(history.ended).toEqual([]);
    expect(history.open.map((e) => [label(e), e.firstSeen.runId])).toEqual([['network-label@cluster2', seen.report.runId]]);
  }, 120_000);
});

// The history alone, over runs and observations as the journal holds them.
describe('what the drift history reads (pure)', () => {
  const run = (id: string, kind: RunRecord['kind'], at: number, config: Partial<MeshConfig> | null = null): RunRecord => ({
    id,
    kind,
    topology: 'primary-remote',
    mode: 'dry-run',
    status: 'succeeded',
    config: config as MeshConfig | null,
    configHash: 'h',
    configPath: null,
    createdAt: at,
    updatedAt: at + 1,
    finishedAt: at + 1,
    machineVersion: 1,
    snapshot: null,
    error: null,
    lease: null,
    targetRun: 'mr-install',
    simWorld: 'w',
    damaged: [],
    storedKind: kind,
  });
  const config = { clusters: [{ name: 'cluster1' }, { name: 'cluster2' }] } as MeshConfig;
  const item = { kind: 'network-label', cluster: 'cluster2', what: 'lost its label', why: 'w', repair: 'r' } as DriftItem;
  // One check at `at`: its items, and each cluster read whole unless named in `unread`.
  const check = (id: string, at: number, items: DriftItem[], unread: string[] = []): Observation[] =>
    driftObservations(config, {
      items,
      unreadable: unread.map((c) => ({ cluster: c, context: c, error: 'i/o timeout' })),
    }).map((o) => ({ ...o, runId: id, at }));
  const repairOf = (id: string, at: number) => run(id, 'repair', at, { repair: [{ kind: 'network-label', action: 'label', cluster: 'cluster2' }] });

  it('a drift seen again after a repair that did not hold starts a new streak, first seen by the check after it', () => {
    const runs = [run('c1', 'drift', 10), repairOf('r1', 20), run('c2', 'drift', 30)];
    const history = driftHistory(runs, [...check('c1', 10, [item]), ...check('c2', 30, [item])]);
    expect(history.ended.map((e) => [e.firstSeen.runId, e.ended?.how, e.ended?.runId])).toEqual([['c1', 'repaired', 'r1']]);
    expect(history.open.map((e) => [e.firstSeen.runId, e.lastSeen.runId, e.checks])).toEqual([['c2', 'c2', 1]]);
  });

  it('a repair no journaled check saw before is its own first sighting; a failed repair ends nothing', () => {
    const failed = { ...repairOf('r0', 5), status: 'failed' as const };
    const history = driftHistory([run('c1', 'drift', 1), failed, repairOf('r1', 20)], check('c1', 1, []));
    expect(history.ended).toEqual([
      expect.objectContaining({ kind: 'network-label', firstSeen: { runId: 'r1', at: 20 }, checks: 0, ended: { runId: 'r1', at: 21, how: 'repaired' } }),
    ]);
  });

  it("a remote reinstalled because its primary's gateway is repaired (follows) is no drift of its own", () => {
    const gateway = { kind: 'east-west-gateway', action: 'gateway' as const, cluster: 'cluster1' };
    const repair = run('r1', 'repair', 20, { repair: [gateway, { ...gateway, action: 'remote', cluster: 'cluster2', follows: 'cluster1' }] });
    const seen = { ...item, kind: 'east-west-gateway', cluster: 'cluster1' } as DriftItem;
    const history = driftHistory([run('c1', 'drift', 10), repair], check('c1', 10, [seen]));
    expect(history.open).toEqual([]);
    expect(history.ended.map((e) => [label(e), e.firstSeen.runId, e.ended?.runId])).toEqual([['east-west-gateway@cluster1', 'c1', 'r1']]);
  });

  it('a check that read a cluster only in part ends nothing, and one that saw the drift gone ends it', () => {
    const runs = [run('c1', 'drift', 1), run('c2', 'drift', 2), run('c3', 'drift', 3)];
    const observations = [...check('c1', 1, [item]), ...check('c2', 2, [], ['cluster1']), ...check('c3', 3, [])];
    expect(driftHistory(runs.slice(0, 2), observations).open.map((e) => e.firstSeen.runId)).toEqual(['c1']);
    const history = driftHistory(runs, observations);
    expect(history.lastCheck).toEqual({ runId: 'c3', at: 3, complete: true });
    expect(history.ended.map((e) => e.ended)).toEqual([{ runId: 'c3', at: 3, how: 'gone' }]);
  });
});
