// Canary upgrades on simulated clusters: a 3-cluster mesh moves from revision a to b phase by phase, a wave
// that fails its gate stops the run and resume continues from that wave; a rollback from any phase puts back
// exactly what the upgrade found; bad input is refused before anything is recorded.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runIdFrom, startCli, tempDir } from './support/cli.js';
import { runCli } from './support/cli-here.js';
import { peek, readJournal } from './support/journal.js';
import { PROD, recordRealMesh } from './support/real-mesh.js';
import { simCommand } from './support/sim.js';
import {
  apply,
  CONTEXTS,
  kube,
  type Mesh,
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

const CONFIG = meshConfig('a');

// A mesh installed (revision a) and verified, with one more injected workload namespace on cluster2.
const installedMesh = (name: string): Promise<Mesh> => meshWithPayments(tmp.dir, name, CONFIG, 'istio.io/rev: a');

// An upgrade of mesh1 to b with a failure injected at `point`: it must stop there (exit 1).
async function upgradeFailingAt(db: string, point: string) {
  const failed = await runCli(['upgrade', '--mesh', 'mesh1', '--revision', 'b', '--inject-failure', point, '-q', '--db', db]);
  expect(failed.code, point).toBe(1);
  expect(failed.stderr, point).toContain(`failed at ${point}`);
  return failed;
}

describe.concurrent('mesh-run upgrade on simulated clusters', () => {
  it('upgrades a 3-cluster mesh from a to b; a wave that fails its gate stops the run and resume continues from it', async () => {
    const { db, world } = await installedMesh('waves');
    // A namespace asking for the default revision, on a mesh with no default tag: a injects nothing there.
    const legacy = 'apiVersion: v1\nkind: Namespace\nmetadata: { name: legacy, labels: { istio-injection: enabled } }\n';
    await apply(db, world, 'ctx3', legacy);
    const failed = await runCli([
      'upgrade',
      '--mesh',
      'mesh1',
      '--revision',
      'b',
      '--wave-size',
      '1',
      '--inject-failure',
      'await-wave@wave-2',
      '-q',
      '--db',
      db,
    ]);
    expect(failed.code, failed.stderr).toBe(1);
    expect(failed.stderr).toContain('failed at await-wave@wave-2');
    const id = runIdFrom(failed);
    // Four namespaces in four waves (sample on every cluster, payments on cluster2), in cluster order.
    const stopped = await proxies(db, world);
    expect(stopped['ctx1/sample/helloworld']).toBe('b');
    expect(stopped['ctx2/payments/api']).toBe('b');
    expect(stopped['ctx2/sample/helloworld']).toBe('a');
    expect(stopped['ctx3/sample/helloworld']).toBe('a');
    const resumed = await runCli(['resume', id, '-q', '--db', db]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toContain('upgraded: revision b serves cluster1, cluster2, cluster3');
    const journal = await readJournal(db, id);
    const slots = (step: string, cluster: string) => journal.attempts.filter((a) => a.step === step && a.cluster === cluster).map((a) => a.outcome);
    expect(slots('move-wave', 'wave-1')).toEqual(['succeeded']);
    expect(slots('move-wave', 'wave-2')).toEqual(['succeeded']);
    expect(slots('await-wave', 'wave-2')).toEqual(['failed', 'succeeded']);
    expect(slots('await-wave', 'wave-4')).toEqual(['succeeded']);
    expect(slots('remove-old-revision', 'cluster1')).toEqual(['succeeded']);
    // Every proxy runs b; a is gone; the default tag points at b on every cluster; the remotes inject with b.
    expect(new Set(Object.values(await proxies(db, world)))).toEqual(new Set(['b']));
    const state = await meshState(db, world);
    expect(state.ctx1).toContain('deployments istiod-b rev=b');
    expect(state.ctx1?.some((r) => r.includes('istiod-a'))).toBe(false);
    for (const ctx of CONTEXTS) expect(state[ctx]).toContain('webhook istio-revision-tag-default rev=b tag=default');
    for (const ctx of ['ctx2', 'ctx3']) {
      expect(state[ctx]).toContain('webhook istio-sidecar-injector-b rev=b tag=undefined');
      expect(state[ctx]?.some((r) => r.startsWith('webhook istio-sidecar-injector-a'))).toBe(false);
      // The remote's istiod endpoints of a went with a, those of b are there.
      expect(state[ctx]?.filter((r) => r.startsWith('endpointslices'))).toEqual(['endpointslices istiod-b rev=b']);
    }
    expect(state.ctx1).toContain('deployments istio-eastwestgateway rev=b');
    // The upgrade moved only what a injected.
    const legacyNow = await kube(db, world, 'ctx3', ['get', 'namespace', 'legacy']);
    expect(legacyNow.metadata.labels).toEqual({ 'istio-injection': 'enabled' });
    const status = await simCommand(db, world, 'ctx1', ['proxy-status', '--revision=b'], { tool: 'istioctl' });
    expect(status.stdout).toMatch(/api-\S+\.payments\s+cluster2\s.*istiod-b-/);
    // The mesh runs b now: verify checks it, and the mesh's record says so.
    const verified = await runCli(['verify', '--mesh', 'mesh1', '-q', '--db', db]);
    expect(verified.code, verified.stderr).toBe(0);
    const shown = await runCli(['mesh', 'show', 'mesh1', '--json', '--db', db]);
    expect(shown.stdout).toContain(id);
    // Rollback is refused now that a is removed, with the reason and nothing recorded.
    const before = await runsIn(db);
    const refused = await runCli(['upgrade', 'rollback', id, '--db', db]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('began removing revision a');
    expect(refused.stderr).not.toMatch(/\n\s+at /);
    expect(await runsIn(db)).toBe(before);
    // And uninstall removes everything, the tag webhooks mesh-run's upgrade set included.
    const removed = await runCli(['uninstall', '--mesh', 'mesh1', '-q', '--db', db]);
    expect(removed.code, removed.stderr).toBe(0);
    for (const ctx of CONTEXTS) expect((await kube(db, world, ctx, ['get', 'mutatingwebhookconfigurations'])).items ?? []).toEqual([]);
  }, 120_000);

  it('a wave whose pods do not come up on b fails its gate naming them; once fixed, resume continues from that wave', async () => {
    const { db, world } = await installedMesh('gate');
    // A pod no deployment owns: a restart does not replace it, so it keeps a's proxy.
    const bare =
      'apiVersion: v1\nkind: Pod\nmetadata: { name: batch, namespace: payments, labels: { app: batch, istio.io/rev: a } }\nspec: { containers: [{ name: batch, image: batch:1 }, { name: istio-proxy, image: proxyv2 }] }\n';
    await apply(db, world, 'ctx2', bare);
    const failed = await runCli(['upgrade', '--mesh', 'mesh1', '--revision', 'b', '--wave-size', '1', '--gate-timeout', '2s', '--db', db]);
    expect(failed.code, failed.stderr).toBe(1);
    expect(failed.stderr).toMatch(
      /failed at await-wave@wave-2: wave-2 \(cluster2\/payments\) is not on revision b after 2s: cluster2\/payments\/batch: proxy of revision a/,
    );
    expect(failed.stderr).toContain('continues from this wave');
    const id = runIdFrom(failed);
    expect((await simCommand(db, world, 'ctx2', ['delete', 'pod', 'batch', '-n', 'payments'])).exitCode).toBe(0);
    const resumed = await runCli(['resume', id, '--db', db]);
    expect(resumed.code, resumed.stderr).toBe(0);
    const journal = await readJournal(db, id);
    const outcomes = (step: string, cluster: string) => journal.attempts.filter((a) => a.step === step && a.cluster === cluster).map((a) => a.outcome);
    expect(outcomes('await-wave', 'wave-2')).toEqual(['failed', 'succeeded']);
    expect(outcomes('move-wave', 'wave-2')).toEqual(['succeeded']);
    expect(outcomes('move-wave', 'wave-1')).toEqual(['succeeded']);
  }, 120_000);

  it('rolls back an upgrade stopped in its waves: labels, tags, gateway and revisions as they were, and the mesh verifies on a', async () => {
    const { db, world } = await installedMesh('rollback');
    const before = await meshState(db, world);
    // The state compared includes each remote's istiod endpoints: a's only, before and after the rollback.
    expect(before.ctx2?.filter((r) => r.startsWith('endpointslices'))).toEqual(['endpointslices istiod-a rev=a']);
    const proxiesBefore = await proxies(db, world);
    const failed = await runCli([
      'upgrade',
      '--mesh',
      'mesh1',
      '--revision',
      'b',
      '--wave-size',
      '2',
      '--inject-failure',
      'await-wave@wave-2',
      '-q',
      '--db',
      db,
    ]);
    expect(failed.code).toBe(1);
    const id = runIdFrom(failed);
    expect(await meshState(db, world)).not.toEqual(before);
    // A new upgrade is refused while this one is unfinished, and so is every day-2 verb that would act on one
    // revision only; nothing is recorded and nothing changes.
    const runs = await runsIn(db);
    const stopped = await meshState(db, world);
    for (const verb of [
      ['upgrade', '--mesh', 'mesh1', '--revision', 'c'],
      ['cluster', 'add', '--mesh', 'mesh1', '--name', 'cluster4', '--context', 'ctx4'],
      ['cluster', 'remove', '--mesh', 'mesh1', '--name', 'cluster3'],
      ['secrets', 'rotate', '--mesh', 'mesh1'],
    ]) {
      const again = await runCli([...verb, '--db', db]);
      expect(again.code, verb.join(' ')).toBe(3);
      expect(again.stderr.trim().split('\n')[0]).toBe(
        `mesh-run: error: upgrade run ${id} of mesh mesh1 failed at await-wave@wave-2: the mesh is between two revisions`,
      );
      expect(again.stderr).toContain(`mesh-run upgrade rollback ${id}`);
    }
    expect(await runsIn(db)).toBe(runs);
    expect(await meshState(db, world)).toEqual(stopped);
    const rolled = await runCli(['upgrade', 'rollback', id, '--db', db]);
    expect(rolled.code, rolled.stderr).toBe(0);
    expect(rolled.stdout).toContain(`upgrade ${id} rolled back: revision a serves cluster1, cluster2, cluster3 again`);
    expect(rolled.stderr).toContain('restore-namespaces succeeded');
    expect(await meshState(db, world)).toEqual(before);
    expect(await proxies(db, world)).toEqual(proxiesBefore);
    expect((await runCli(['verify', '--mesh', 'mesh1', '-q', '--db', db])).code).toBe(0);
    // Rolled back once is enough, and the upgrade itself has nothing left to resume: its waves would move
    // namespaces to a revision no injector serves any more.
    const twice = await runCli(['upgrade', 'rollback', id, '--db', db]);
    expect(twice.code).toBe(3);
    expect(twice.stderr).toContain('rolled back already');
    const rolledBack = await meshState(db, world);
    const resumed = await runCli(['resume', id, '--db', db]);
    expect(resumed.code).toBe(4);
    expect(resumed.stderr).toContain(`upgrade ${id} was rolled back by run ${runIdFrom(rolled)}; there is nothing to resume`);
    expect((await runCli(['resume', id, '--from', 'move-wave', '--db', db])).code).toBe(4);
    expect(await meshState(db, world)).toEqual(rolledBack);
    // runs and status show the upgrade as rolled back (by that run), not as a failure to look into.
    const listed = (await runCli(['runs', '--db', db])).stdout.split('\n').find((l) => l.startsWith(id));
    expect(listed).toMatch(new RegExp(`^${id} +upgrade +rolled back +dry-run +cluster1 -> cluster2,cluster3 +\\S+ \\S+ +\\S+$`));
    expect((await runCli(['runs', '-o', 'csv', '--db', db])).stdout).toContain(`${id},upgrade,rolled-back,`);
    expect((await runCli(['status', id, '--db', db])).stdout).toContain(`status    rolled back by run ${runIdFrom(rolled)} (it had failed)`);
    const json = JSON.parse((await runCli(['status', id, '--json', '--db', db])).stdout) as { run: { status: string; rolledBackBy: string } };
    expect(json.run).toMatchObject({ status: 'failed', rolledBackBy: runIdFrom(rolled) });
  }, 120_000);

  it('a rollback from every phase puts back exactly what the upgrade found', async () => {
    const points = [
      'precheck-upgrade',
      'install-revision@cluster1',
      'install-remote-revision@cluster3',
      'await-revision-synced@cluster1',
      'select-namespaces',
      'move-wave@wave-1',
      'await-wave@wave-1',
      'upgrade-gateway@cluster1',
      'flip-tag@cluster3',
    ];
    await rollbackFromEveryPoint(installedMesh, 'b', points);
  }, 300_000);

  it('a failure injected at any phase stops the upgrade there; resume finishes it to the same end state as an uninterrupted upgrade', async () => {
    const points = [
      'precheck-upgrade',
      'install-revision@cluster1',
      'expose-istiod-revision@cluster1',
      'install-remote-revision@cluster2',
      'await-revision-synced@cluster1',
      'select-namespaces',
      'move-wave@wave-1',
      'await-wave@wave-1',
      'upgrade-gateway@cluster1',
      'flip-tag@cluster2',
      'remove-old-revision@cluster3',
    ];
    await resumeFromEveryPoint(installedMesh, 'b', points);
  }, 300_000);

  it('an upgrade killed mid-run (still recorded as running) holds the mesh too; once resumed, day-2 verbs go on', async () => {
    const { db } = await installedMesh('killed');
    const killed = await runCli(['upgrade', '--mesh', 'mesh1', '--revision', 'b', '-q', '--db', db], { env: { MESH_RUN_CRASH_AT: 'after-command:30' } });
    expect(killed.signal).toBe('SIGKILL');
    const id = runIdFrom(killed);
    const runs = await runsIn(db);
    const add = await runCli(['cluster', 'add', '--mesh', 'mesh1', '--name', 'cluster4', '--context', 'ctx4', '--db', db]);
    expect(add.code).toBe(3);
    expect(add.stderr).toContain(`upgrade run ${id} of mesh mesh1 is running: the mesh is between two revisions`);
    expect(add.stderr).toContain(`if its process was killed, finish it ("mesh-run resume ${id}")`);
    expect(await runsIn(db)).toBe(runs);
    expect((await runCli(['resume', id, '-q', '--db', db])).code).toBe(0);
    const rotated = await runCli(['secrets', 'rotate', '--mesh', 'mesh1', '-q', '--db', db]);
    expect(rotated.code, rotated.stderr).toBe(0);
  }, 120_000);

  it('--keep-old keeps revision a, and a rollback stays possible after success', async () => {
    const { db, world } = await installedMesh('keep');
    const before = await meshState(db, world);
    const done = await runCli(['upgrade', '--mesh', 'mesh1', '--revision', 'b', '--keep-old', '-q', '--db', db]);
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toContain('revision a kept (--keep-old)');
    const journal = await readJournal(db, runIdFrom(done));
    expect(journal.attempts.some((a) => a.step === 'remove-old-revision')).toBe(false);
    expect((await meshState(db, world)).ctx1).toContain('deployments istiod-a rev=a');
    const rolled = await runCli(['upgrade', 'rollback', runIdFrom(done), '-q', '--db', db]);
    expect(rolled.code, rolled.stderr).toBe(0);
    expect(await meshState(db, world)).toEqual(before);
  }, 120_000);

  it('on nodes kwok simulates, a wave with pods needs --skip-proxy-gate; one with no pods holds its gate and says so', async () => {
    const { db, world } = await installedMesh('kwok-waves');
    // The remotes become kwok clusters (no container ever runs there); cluster3 gets a namespace a injects, with no workload.
    const nodes = ['kwok-1', 'kwok-2'].map((n) => `apiVersion: v1\nkind: Node\nmetadata: {name: ${n}, annotations: {kwok.x-k8s.io/node: fake}}\n`);
    const quiet = 'apiVersion: v1\nkind: Namespace\nmetadata: {name: quiet, labels: {istio.io/rev: a, team: quiet}}\n';
    for (const ctx of ['ctx2', 'ctx3']) await apply(db, world, ctx, nodes.join('---\n'));
    await apply(db, world, 'ctx3', quiet);
    // payments has a pod on cluster2: its proxy can never be seen there, so the gate refuses and says what to do.
    const blocked = await runCli(['upgrade', '--mesh', 'mesh1', '--revision', 'b', '--namespaces', 'team=payments', '--keep-old', '-q', '--db', db]);
    expect(blocked.code).toBe(1);
    expect(blocked.stderr).toContain('the proxy gate of wave-1 cannot be checked on cluster2: its 2 nodes are simulated by kwok');
    expect(blocked.stderr).toContain(`mesh-run resume ${runIdFrom(blocked)} --skip-proxy-gate`);
    expect((await runCli(['upgrade', 'rollback', runIdFrom(blocked), '-q', '--db', db])).code).toBe(0);
    // quiet has no pod: there is no proxy to check, on kwok as anywhere. The gate holds, and the run says why.
    const upgraded = await runCli(['upgrade', '--mesh', 'mesh1', '--revision', 'b', '--namespaces', 'team=quiet', '--keep-old', '--db', db]);
    expect(upgraded.code, upgraded.stderr).toBe(0);
    const said = 'wave-1 (cluster3/quiet) has no pods: no proxy to check, so its gate holds without one';
    expect(upgraded.stderr).toContain(`await-wave@wave-1: ${said}`);
    const events = (await readJournal(db, runIdFrom(upgraded))).events.filter((e) => e.type.startsWith('gate-'));
    expect(events.map((e) => `${e.type}: ${e.detail}`)).toEqual([`gate-empty: ${said}`]);
    const status = await runCli(['status', runIdFrom(upgraded), '--db', db]);
    expect(status.stdout).toMatch(/gate-empty\s+await-wave@wave-1: wave-1 \(cluster3\/quiet\) has no pods/);
  }, 120_000);

  it('refuses bad input with one line and exit 2; nothing is recorded', async () => {
    const { db } = await installedMesh('input');
    const runs = await runsIn(db);
    const cases: Array<[string[], number, RegExp]> = [
      [['--revision', '1.31.0'], 2, /--revision "1\.31\.0" is not a revision name.*1-31-0/],
      [['--revision', 'a'], 2, /already runs revision a/],
      [['--revision', 'b', '--wave-size', '0'], 2, /--wave-size 0/],
      [['--revision', 'b', '--namespaces', 'team in (x'], 2, /--namespaces .* is not a label selector/],
      [['--revision', 'b', '--gate-timeout', 'soon'], 2, /--gate-timeout soon/],
      [['--revision', 'b', '--istioctl', '/nonexistent/istioctl'], 2, /--istioctl \/nonexistent\/istioctl: no such file/],
      [['--revision', 'b', '--inject-failure', 'await-wave@cluster2'], 2, /await-wave runs once per wave/],
    ];
    for (const [args, code, message] of cases) {
      const result = await runCli(['upgrade', '--mesh', 'mesh1', ...args, '--db', db]);
      expect(result.code, args.join(' ')).toBe(code);
      expect(result.stderr, args.join(' ')).toMatch(message);
      expect(
        result.stderr
          .trim()
          .split('\n')
          .filter((l) => !l.includes('hint:')).length,
        args.join(' '),
      ).toBe(1);
    }
    expect(await runsIn(db)).toBe(runs);
    // A mesh on Istio's default revision upgrades too: test/upgrade-default-revision.test.ts.
  }, 120_000);

  it('an injected failure that never fires ends the run with exit 2 naming it and why; one the plan lacks is refused before anything is written', async () => {
    // Installed, never verified: no namespace runs a workload, so the upgrade cuts no waves.
    const file = join(tmp.dir, 'bare.yaml');
    writeFileSync(file, CONFIG);
    const db = join(tmp.dir, 'bare.db');
    expect((await runCli(['install', '-c', file, '--dry-run', '--sim-lb-delay', '0', '-q', '--db', db])).code).toBe(0);
    const runs = await runsIn(db);
    const refused = await runCli(['upgrade', '--mesh', 'mesh1', '--revision', 'b', '--inject-failure', 'install-remote-revision@cluster1', '--db', db]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('step install-remote-revision does not run on cluster "cluster1"');
    expect(await runsIn(db)).toBe(runs);

    const upgraded = await runCli(['upgrade', '--mesh', 'mesh1', '--revision', 'b', '--inject-failure', 'await-wave@wave-1', '-q', '--db', db]);
    expect(upgraded.code, upgraded.stderr).toBe(2);
    expect(upgraded.stdout).toContain('mesh mesh1 upgraded');
    expect(upgraded.stderr).toContain('--inject-failure await-wave@wave-1 never fired (withdrawn): this upgrade cut no waves (it found no namespace to move)');
    expect(upgraded.stderr).toContain(`"mesh-run status ${runIdFrom(upgraded)}" lists them`);
    // --json says the same in its document.
    const json = await runCli(['upgrade', '--mesh', 'mesh1', '--revision', 'c', '--inject-failure', 'move-wave', '--json', '--db', db]);
    expect(json.code, json.stderr).toBe(2);
    const doc = JSON.parse(json.stdout) as { ok: boolean; run: { status: string }; unfiredFaults: string[] };
    expect(doc).toMatchObject({ ok: false, run: { status: 'succeeded' } });
    expect(doc.unfiredFaults).toEqual(['--inject-failure move-wave never fired (withdrawn): this upgrade cut no waves (it found no namespace to move)']);
    // A step of the whole mesh that leaves the named cluster out: a cluster add asks only the joining cluster
    // and the primaries.
    const joined = await runCli([
      ...['cluster', 'add', '--mesh', 'mesh1', '--name', 'cluster4', '--context', 'ctx4', '--role', 'remote', '--network', 'network1'],
      ...['--inject-failure', 'preflight@cluster2', '-q', '--db', db],
    ]);
    expect(joined.code, joined.stderr).toBe(2);
    expect(joined.stderr).toContain(
      '--inject-failure preflight@cluster2 never fired (withdrawn): preflight ran, but sent cluster2 none of the commands the fault strikes',
    );
    // A fault that fires is quiet about it: the run fails there, as asked.
    const fired = await upgradeFailingAt(db, 'flip-tag@cluster2');
    expect(fired.stderr).not.toContain('never fired');
  }, 120_000);

  it('an upgrade refused because another run is using the clusters says so in a sentence that reads', async () => {
    const file = join(tmp.dir, 'busy.yaml');
    writeFileSync(file, CONFIG);
    const db = join(tmp.dir, 'busy.db');
    expect((await runCli(['install', '-c', file, '--dry-run', '--sim-lb-delay', '0', '--sim-latency', '300ms', '-q', '--db', db])).code).toBe(0);
    const verify = startCli(['verify', '--mesh', 'mesh1', '-q', '--db', db]);
    const running = () => (peek<{ n: number }>(db, "SELECT COUNT(*) AS n FROM runs WHERE kind = 'verify' AND status = 'running'")?.[0]?.n ?? 0) > 0;
    for (let i = 0; i < 200 && !running(); i++) await new Promise((r) => setTimeout(r, 50));
    const refused = await runCli(['upgrade', '--mesh', 'mesh1', '--revision', 'canary2', '--db', db]);
    expect(refused.code, refused.stderr).toBe(3);
    expect(refused.stderr).toMatch(/; wait for it to finish before upgrading mesh mesh1 to revision canary2 on them\n/);
    expect((await verify.done).code).toBe(0);
  }, 120_000);

  it('--dry-run on a real mesh rehearses the upgrade and its rollback on a simulated copy; the real mesh stays on a', async () => {
    const db = join(tmp.dir, 'real.db');
    const install = await recordRealMesh(db, `revision: a\n${PROD}`);
    const runs = await runsIn(db);
    // Without --dry-run the real tools are asked (and here there are none): refused, nothing recorded.
    const refused = await runCli(['upgrade', '--mesh', 'prod', '--revision', 'b', '-q', '--db', db]);
    expect(refused.code).toBe(3);
    expect(await runsIn(db)).toBe(runs);
    const rehearsed = await runCli(['upgrade', '--mesh', 'prod', '--revision', 'b', '--keep-old', '--dry-run', '-q', '--db', db]);
    expect(rehearsed.code, rehearsed.stderr).toBe(0);
    expect(rehearsed.stdout).toContain('; a rehearsal on simulated clusters)');
    const journal = await readJournal(db, runIdFrom(rehearsed));
    expect(journal.run.mode).toBe('dry-run');
    expect(journal.commands.every((c) => !c.argv[0]?.startsWith('/nonexistent'))).toBe(true);
    // Its rollback acts on the same simulated copy.
    const rolled = await runCli(['upgrade', 'rollback', runIdFrom(rehearsed), '-q', '--db', db]);
    expect(rolled.code, rolled.stderr).toBe(0);
    expect((await readJournal(db, runIdFrom(rolled))).run.simWorld).toBe(journal.run.simWorld);
    const shown = JSON.parse((await runCli(['meshes', '--json', '--db', db])).stdout) as Array<{ name: string; install: string }>;
    expect(shown.find((m) => m.name === 'prod')?.install).toBe(install);
    // A rehearsal that failed changed nothing real: it does not hold the real mesh between two revisions.
    const failedRehearsal = await runCli([
      'upgrade',
      '--mesh',
      'prod',
      '--revision',
      'c',
      '--dry-run',
      '--inject-failure',
      'install-revision',
      '-q',
      '--db',
      db,
    ]);
    expect(failedRehearsal.code).toBe(1);
    const real = await runCli(['upgrade', '--mesh', 'prod', '--revision', 'c', '-q', '--db', db]);
    expect(real.code).toBe(3);
    expect(real.stderr).not.toContain('between two revisions');
  }, 120_000);

  it('plans an upgrade and its rollback without touching anything, in every format', async () => {
    const file = join(tmp.dir, 'plan.yaml');
    writeFileSync(file, CONFIG);
    const text = await runCli(['plan', 'upgrade', '-c', file, '--revision', 'b', '--wave-size', '2']);
    expect(text.code, text.stderr).toBe(0);
    for (const step of [
      'precheck-upgrade',
      'install-revision@cluster1',
      'await-revision-synced@cluster1',
      'move-wave@wave-1',
      'await-wave@wave-2',
      'flip-tag@cluster3',
    ])
      expect(text.stdout).toContain(step);
    expect(text.stdout).toContain('istioctl tag --context=ctx1 set default --revision=b --overwrite -y');
    expect(text.stdout).toContain('istioctl uninstall --context=ctx1 --revision=a -y');
    const sh = await runCli(['plan', 'upgrade', '-c', file, '--revision', 'b', '-o', 'sh']);
    expect(sh.stdout).toMatch(/^#!/);
    const json = JSON.parse((await runCli(['plan', 'upgrade-rollback', '-c', file, '--revision', 'b', '--json'])).stdout) as Array<{ step: string }>;
    expect(new Set(json.map((c) => c.step))).toEqual(
      new Set(['preflight', 'restore-tag', 'restore-gateway', 'restore-namespaces', 'remove-remote-revision', 'remove-new-revision']),
    );
  }, 120_000);
});
