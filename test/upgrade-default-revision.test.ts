// A mesh installed as Istio's page installs it (no revision: Istio's default control plane, istiod) moves to a
// named revision on simulated clusters: namespaces go from istio-injection=enabled to istio.io/rev=<new>, the
// default tag follows, `istioctl uninstall --revision default` removes istiod and only it. A rollback from any
// phase puts back what the upgrade found (istio-injection=enabled, the default injector active again); a run
// stopped, or killed, anywhere resumes to the state an uninterrupted upgrade reaches.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runIdFrom, tempDir } from './support/cli.js';
import { runCli } from './support/cli-here.js';
import { copyDb, crashAndResume, midRun, reference, tryPoints, upgradeTemplate } from './support/crash-resume.js';
import * as engine from './support/engine.js';
import { readJournal } from './support/journal.js';
import { simCommand } from './support/sim.js';
import {
  apply,
  CONTEXTS,
  type Mesh,
  type MeshState,
  meshConfig,
  meshState,
  meshWithPayments,
  proxies,
  resumeFromEveryPoint,
  rollbackFromEveryPoint,
  runsIn,
} from './support/upgrade-mesh.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const CONFIG = meshConfig();

// The mesh on the default revision, verified (sample injected through istio-injection=enabled on every cluster),
// with a workload namespace of the same kind on cluster2 and one that opts out on cluster3 (istio-injection
// takes precedence over istio.io/rev: nothing injects it, nothing moves it).
async function defaultMesh(name: string): Promise<Mesh> {
  const mesh = await meshWithPayments(tmp.dir, name, CONFIG, 'istio-injection: enabled');
  const optout = 'apiVersion: v1\nkind: Namespace\nmetadata: { name: optout, labels: { istio-injection: disabled, istio.io/rev: default } }\n';
  await apply(mesh.db, mesh.world, 'ctx3', optout);
  return mesh;
}

// A namespace's injection labels (istio-injection, istio.io/rev) as the state read them.
function labelsOf(state: MeshState, ctx: string, ns: string): Record<string, string> {
  const row = state[ctx]?.find((r) => r.startsWith(`ns ${ns} `));
  if (!row) throw new Error(`no namespace ${ns} on ${ctx}`);
  const labels = JSON.parse(row.slice(`ns ${ns} `.length)) as Record<string, string>;
  return Object.fromEntries(Object.entries(labels).filter(([k]) => k === 'istio-injection' || k === 'istio.io/rev'));
}

describe.concurrent('mesh-run upgrade of a mesh on Istio default revision', () => {
  it('moves the mesh to canary: istiod-canary serves, the namespaces are relabelled, istiod is gone, and verify passes', async () => {
    const { db, world } = await defaultMesh('upgrade');
    const before = await meshState(db, world);
    expect(before.ctx1).toContain('deployments istiod rev=default');
    expect(labelsOf(before, 'ctx1', 'sample')).toEqual({ 'istio-injection': 'enabled' });
    expect(new Set(Object.values(await proxies(db, world)))).toEqual(new Set(['default']));
    const upgraded = await runCli(['upgrade', '--mesh', 'mesh1', '--revision', 'canary', '--wave-size', '2', '-q', '--db', db]);
    expect(upgraded.code, upgraded.stderr).toBe(0);
    expect(upgraded.stdout).toContain('upgraded: revision canary serves cluster1, cluster2, cluster3, the default tag points at it, revision default removed');
    const id = runIdFrom(upgraded);
    const state = await meshState(db, world);
    // The primary: istiod-canary and its route; istiod, its injector and its route istiod-vs are gone.
    expect(state.ctx1).toContain('deployments istiod-canary rev=canary');
    expect(state.ctx1).toContain('virtualservices.networking.istio.io istiod-vs-canary rev=undefined');
    expect(state.ctx1?.filter((r) => /^(deployments|services) istiod /.test(r) || r.includes('istiod-vs '))).toEqual([]);
    expect(state.ctx1).toContain('deployments istio-ingressgateway rev=canary');
    expect(state.ctx1).toContain('deployments istio-eastwestgateway rev=canary');
    for (const ctx of CONTEXTS) {
      expect(state[ctx]?.filter((r) => r.startsWith('webhook'))).toEqual([
        'webhook istio-revision-tag-default rev=canary tag=default',
        'webhook istio-sidecar-injector-canary rev=canary tag=undefined',
      ]);
    }
    // The remotes: canary's istiod Service and endpoints, none of the default revision's.
    for (const ctx of ['ctx2', 'ctx3']) {
      expect(state[ctx]?.filter((r) => r.startsWith('services') || r.startsWith('endpointslices'))).toEqual([
        'endpointslices istiod-canary rev=canary',
        'services istiod-canary rev=canary',
      ]);
    }
    // Every namespace the default revision injected is on canary, istio-injection removed; the opted-out one is as it was.
    for (const [ctx, ns] of [
      ['ctx1', 'sample'],
      ['ctx2', 'sample'],
      ['ctx2', 'payments'],
      ['ctx3', 'sample'],
    ] as const)
      expect(labelsOf(state, ctx, ns), `${ctx}/${ns}`).toEqual({ 'istio.io/rev': 'canary' });
    expect(labelsOf(state, 'ctx3', 'optout')).toEqual({ 'istio-injection': 'disabled', 'istio.io/rev': 'default' });
    expect(new Set(Object.values(await proxies(db, world)))).toEqual(new Set(['canary']));
    const status = await simCommand(db, world, 'ctx1', ['proxy-status', '--revision=canary'], { tool: 'istioctl' });
    expect(status.stdout).toMatch(/api-\S+\.payments\s+cluster2\s.*istiod-canary-/);
    // What it ran to remove the old control plane: istioctl's own name for it, remotes first.
    const uninstalls = (await readJournal(db, id)).commands.filter((c) => c.argv.includes('uninstall')).map((c) => c.argv.join(' '));
    expect(uninstalls).toEqual(['ctx2', 'ctx3', 'ctx1'].map((ctx) => `istioctl uninstall --context=${ctx} --revision=default -y`));
    const verified = await runCli(['verify', '--mesh', 'mesh1', '-q', '--db', db]);
    expect(verified.code, verified.stderr).toBe(0);
    // A namespace labelled the page's way after the move lands on canary through the default tag.
    await apply(
      db,
      world,
      'ctx3',
      'apiVersion: v1\nkind: Namespace\nmetadata: { name: late, labels: { istio-injection: enabled } }\n---\n' +
        'apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: late, namespace: late }\nspec:\n  selector: { matchLabels: { app: late } }\n  template:\n    metadata: { labels: { app: late } }\n    spec: { containers: [{ name: late, image: late:1 }] }\n',
    );
    expect((await simCommand(db, world, 'ctx3', ['get', 'pods', '-n', 'late'])).exitCode).toBe(0);
    expect((await proxies(db, world))['ctx3/late/late']).toBe('canary');
  }, 120_000);

  it('rolls back from the waves: istio-injection=enabled back, canary removed, the default istiod still serves', async () => {
    const { db, world } = await defaultMesh('rollback-waves');
    const before = await meshState(db, world);
    const proxiesBefore = await proxies(db, world);
    const failed = await runCli([
      ...['upgrade', '--mesh', 'mesh1', '--revision', 'canary', '--wave-size', '2'],
      ...['--inject-failure', 'await-wave@wave-2', '-q', '--db', db],
    ]);
    expect(failed.code, failed.stderr).toBe(1);
    expect(failed.stderr).toContain('failed at await-wave@wave-2');
    const id = runIdFrom(failed);
    // Stopped between two revisions: the first wave's namespaces on canary, istio-injection removed.
    const stopped = await meshState(db, world);
    expect(labelsOf(stopped, 'ctx1', 'sample')).toEqual({ 'istio.io/rev': 'canary' });
    expect(stopped.ctx1).toContain('deployments istiod rev=default');
    const rolled = await runCli(['upgrade', 'rollback', id, '--db', db]);
    expect(rolled.code, rolled.stderr).toBe(0);
    expect(rolled.stdout).toContain(`upgrade ${id} rolled back: revision default serves cluster1, cluster2, cluster3 again, revision canary removed`);
    const after = await meshState(db, world);
    expect(after).toEqual(before);
    for (const [ctx, ns] of [
      ['ctx1', 'sample'],
      ['ctx2', 'payments'],
      ['ctx3', 'sample'],
    ] as const)
      expect(labelsOf(after, ctx, ns)['istio-injection'], `${ctx}/${ns}`).toBe('enabled');
    expect(after.ctx1?.some((r) => r.includes('canary'))).toBe(false);
    expect(await proxies(db, world)).toEqual(proxiesBefore);
    const status = await simCommand(db, world, 'ctx1', ['proxy-status', '--revision=default'], { tool: 'istioctl' });
    expect(status.stdout).toMatch(/api-\S+\.payments\s+cluster2\s.*istiod-5/);
    // The mesh is the default-revision mesh again: it verifies, and it can be upgraded again.
    const verified = await runCli(['verify', '--mesh', 'mesh1', '-q', '--db', db]);
    expect(verified.code, verified.stderr).toBe(0);
    // (Were the mesh's record still on canary, this upgrade would be refused: it "already runs revision canary".)
    expect((await engine.upgrade(db, 'mesh1', 'canary')).status).toBe('succeeded');
  }, 120_000);

  it('a rollback after the default tag moved makes the default injector inject again (istioctl tag set left it inert)', async () => {
    const { db, world } = await defaultMesh('rollback-tag');
    const before = await meshState(db, world);
    const kept = await runCli(['upgrade', '--mesh', 'mesh1', '--revision', 'canary', '--keep-old', '-q', '--db', db]);
    expect(kept.code, kept.stderr).toBe(0);
    expect(kept.stdout).toContain('revision default kept (--keep-old)');
    // The default tag took istio-injection=enabled over; the default revision's own injector stays, inert.
    const upgraded = await meshState(db, world);
    for (const ctx of CONTEXTS) expect(upgraded[ctx]).toContain('webhook istio-sidecar-injector rev=default tag=undefined inert');
    const rolled = await runCli(['upgrade', 'rollback', runIdFrom(kept), '--db', db]);
    expect(rolled.code, rolled.stderr).toBe(0);
    expect(rolled.stderr).toContain('istio-sidecar-injector on cluster2: injecting istio-injection=enabled namespaces again');
    expect(await meshState(db, world)).toEqual(before);
    expect(new Set(Object.values(await proxies(db, world)))).toEqual(new Set(['default']));
    expect((await runCli(['verify', '--mesh', 'mesh1', '-q', '--db', db])).code).toBe(0);
  }, 120_000);

  it('a rollback from every phase puts back exactly what the upgrade found', async () => {
    const points = [
      'install-revision@cluster1',
      'install-remote-revision@cluster3',
      'select-namespaces',
      'move-wave@wave-1',
      'upgrade-gateway@cluster1',
      'flip-tag@cluster3',
    ];
    await rollbackFromEveryPoint(defaultMesh, 'canary', points);
  }, 300_000);

  it('an upgrade stopped at any phase resumes to the state an uninterrupted upgrade reaches', async () => {
    const points = [
      'precheck-upgrade',
      'expose-istiod-revision@cluster1',
      'await-revision-synced@cluster1',
      'await-wave@wave-1',
      'flip-tag@cluster2',
      'remove-old-revision@cluster2',
      'remove-old-revision@cluster1',
    ];
    await resumeFromEveryPoint(defaultMesh, 'canary', points);
  }, 300_000);

  it('an upgrade killed mid-run resumes to the uninterrupted end state, no finished step run twice', async () => {
    const config = join(tmp.dir, 'crash.yaml');
    writeFileSync(config, CONFIG.replaceAll('ctx', 'cluster').replace(/, network: network1/g, ''));
    const template = join(tmp.dir, 'crash-template.db');
    await upgradeTemplate(config, template);
    const args = ['upgrade', '--mesh', 'mesh1', '--revision', 'canary', '--wave-size', '1', '-q'];
    const referenceDb = join(tmp.dir, 'crash-reference.db');
    copyDb(template, referenceDb);
    const { expected, points } = await reference(args, referenceDb, 'upgrade', join(tmp.dir, 'crash-trace.txt'));
    const chosen = midRun(points);
    const tally = await tryPoints(chosen, points, async (n) => {
      const db = join(tmp.dir, `crash-${n}.db`);
      copyDb(template, db);
      return crashAndResume(args, db, 'upgrade', n, expected);
    });
    expect(tally.failures).toEqual([]);
    expect(tally.resumed).toBe(chosen.length);
  }, 180_000);

  it('plan upgrade lists the commands of the move from the default revision, and those of its rollback', async () => {
    const file = join(tmp.dir, 'plan.yaml');
    writeFileSync(file, CONFIG);
    const text = await runCli(['plan', 'upgrade', '-c', file, '--revision', 'canary']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).not.toContain('default revision');
    for (const command of [
      'istioctl remote-clusters --context=ctx1 --revision=default',
      'kubectl --context=ctx1 label namespace sample istio-injection- istio.io/rev=canary --overwrite',
      'istioctl tag --context=ctx2 set default --revision=canary --overwrite -y',
      'kubectl --context=ctx1 -n istio-system delete virtualservice.networking.istio.io istiod-vs --ignore-not-found',
      'istioctl uninstall --context=ctx2 --revision=default -y',
      'istioctl uninstall --context=ctx1 --revision=default -y',
    ])
      expect(text.stdout).toContain(command);
    const rollback = JSON.parse((await runCli(['plan', 'upgrade-rollback', '-c', file, '--revision', 'canary', '--json'])).stdout) as Array<{
      step: string;
      cluster: string;
      argv: string[];
    }>;
    // The tag removed, then the default revision's injector made active again by its own install.
    const restoreTag = rollback.filter((c) => c.step === 'restore-tag').map((c) => `${c.cluster}: ${c.argv.join(' ')}`);
    expect(restoreTag).toContain('cluster2: istioctl tag --context=ctx2 remove default -y');
    expect(restoreTag).toContain('cluster2: istioctl install --context=ctx2 -y -f -');
    expect(restoreTag).toContain('cluster1: istioctl install --context=ctx1 -y -f -');
    // From the journal too: the installed mesh's plan.
    const { db } = await defaultMesh('plan-mesh');
    const fromMesh = await runCli(['plan', 'upgrade', '--mesh', 'mesh1', '--revision', 'canary', '--db', db]);
    expect(fromMesh.code, fromMesh.stderr).toBe(0);
    expect(fromMesh.stdout).toContain('istioctl uninstall --context=ctx3 --revision=default -y');
  }, 120_000);

  it('still refuses --revision default, in one line, with nothing recorded', async () => {
    const { db } = await defaultMesh('refused');
    const runs = await runsIn(db);
    const refused = await runCli(['upgrade', '--mesh', 'mesh1', '--revision', 'default', '--db', db]);
    expect(refused.code).toBe(2);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toContain('"default" is the unrevisioned control plane');
    expect(await runsIn(db)).toBe(runs);
  }, 120_000);
});
