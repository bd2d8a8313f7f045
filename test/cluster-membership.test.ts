// Day 2 on simulated clusters: a cluster joins an installed mesh (cluster add) and leaves it (cluster
// remove), each a resumable run of its own; the mesh's record follows only what succeeded.

import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runIdFrom, tempDir } from './support/cli.js';
import { runCli } from './support/cli-here.js';
import * as engine from './support/engine.js';
import { copyExamples } from './support/examples.js';
import { readJournal } from './support/journal.js';
import { PROD, recordRealMesh } from './support/real-mesh.js';
import { simCommand, withSimTools } from './support/sim.js';
import { havePostgres, newStore } from './support/stores.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

interface Mesh {
  name: string;
  state: string;
  topology: string;
  install: string;
  clusters: Array<{ name: string; role: string; network: string; context: string }>;
  runs: Array<{ id: string; kind: string; status: string }>;
}

function examples(name: string): string {
  const dir = join(tmp.dir, name);
  copyExamples(dir);
  return dir;
}

// An installed mesh to act on (driven in this process: the install is not what these tests are about).
async function installed(db: string, config?: string): Promise<engine.EngineRun> {
  const run = await engine.install(db, config ? { config } : {});
  expect(run.status).toBe('succeeded');
  return run;
}

async function meshes(db: string): Promise<Mesh[]> {
  const listed = await runCli(['meshes', '-o', 'json', '--db', db]);
  expect(listed.code, listed.stderr).toBe(0);
  return JSON.parse(listed.stdout) as Mesh[];
}

// The remote secrets each primary holds, by name (istio-remote-secret-<cluster>), in the run's world.
async function remoteSecrets(db: string, runId: string, contexts: readonly string[]): Promise<Record<string, string[]>> {
  const { run } = await readJournal(db, runId);
  return withSimTools(db, run.simWorld, async (tools) => {
    const held: Record<string, string[]> = {};
    for (const context of contexts) {
      const listed = await tools.run(
        { tool: 'kubectl', args: [`--context=${context}`, '-n', 'istio-system', 'get', 'secrets', '-l', 'istio/multiCluster=true', '-o', 'name'], context },
        { signal: new AbortController().signal, timeoutMs: 10_000, step: 'preflight', cluster: '*' },
      );
      held[context] = listed.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => l.replace('secret/istio-remote-secret-', ''))
        .sort();
    }
    return held;
  });
}

describe('cluster add and cluster remove', () => {
  it('grows a primary-remote mesh by a remote, verifies all three clusters, and shrinks it back; the record follows', async () => {
    const db = join(tmp.dir, 'page.db');
    const at = ['--db', db];
    const install = (await installed(db)).id;

    const added = await runCli(['cluster', 'add', '--mesh', 'mesh1', '--name', 'cluster3', '--context', 'ctx-3', '-q', ...at]);
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toContain('cluster3 joined mesh mesh1: primary-remote: 1 primary, 2 remotes, 1 network');
    const add = runIdFrom(added);
    const journal = await readJournal(db, add);
    // Only the joining cluster's steps, and the read of its primary's gateway address: nothing re-runs on the rest.
    expect(journal.attempts.map((a) => `${a.step}@${a.cluster}`)).toEqual([
      'preflight@*',
      'read-discovery-address@cluster1',
      'create-remote-namespace@cluster3',
      'annotate-remote-namespace@cluster3',
      'install-remote@cluster3',
      'attach-remote@cluster3',
    ]);
    // The rest of the mesh is only read, but for the joining cluster's secret applied on its primary.
    const onRest = journal.commands.filter((c) => c.context !== 'ctx-3' && c.context !== null && c.context !== '');
    const writes = onRest.filter((c) => /\b(apply|create|delete|annotate|label|install|uninstall)\b/.test(c.argv.join(' ')));
    expect(writes.map((c) => c.argv.slice(0, 3).join(' '))).toEqual(['kubectl --context=cluster1 apply']);

    const [grown] = await meshes(db);
    expect(grown).toMatchObject({ name: 'mesh1', state: 'installed', install: add });
    expect(grown?.clusters.map((c) => `${c.name}:${c.role}:${c.context}`)).toEqual([
      'cluster1:primary:cluster1',
      'cluster2:remote:cluster2',
      'cluster3:remote:ctx-3',
    ]);
    expect(await remoteSecrets(db, add, ['cluster1'])).toEqual({ cluster1: ['cluster2', 'cluster3'] });

    const verified = await runCli(['verify', '--mesh', 'mesh1', '-q', ...at]);
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.stdout).toContain('requests from cluster1, cluster2, cluster3 reached helloworld v1 and v2');

    const removed = await runCli(['cluster', 'remove', '--mesh', 'mesh1', '--name', 'cluster3', '-q', ...at]);
    expect(removed.code, removed.stderr).toBe(0);
    const remove = runIdFrom(removed);
    expect((await readJournal(db, remove)).attempts.map((a) => `${a.step}@${a.cluster}`)).toEqual([
      'preflight@*',
      'remove-sample@cluster3',
      'detach-remote@cluster3',
      'uninstall-remote@cluster3',
    ]);
    // cluster3 is empty; the rest of the mesh keeps what it had (verify's sample included).
    const after = await readJournal(db, remove);
    expect(after.cluster['ctx-3']).toBeUndefined();
    expect(after.cluster.cluster2?.some((o) => o.includes('"namespace":"sample"') || o.includes('"name":"sample"'))).toBe(true);
    expect(await remoteSecrets(db, remove, ['cluster1'])).toEqual({ cluster1: ['cluster2'] });

    const [shrunk] = await meshes(db);
    expect(shrunk?.clusters.map((c) => c.name)).toEqual(['cluster1', 'cluster2']);
    expect(shrunk?.runs.map((r) => `${r.kind}:${r.status}`)).toEqual([
      'install:succeeded',
      'cluster-add:succeeded',
      'verify:succeeded',
      'cluster-remove:succeeded',
    ]);
    const history = await runCli(['history', '--kind', 'cluster-add', ...at]);
    expect(history.code, history.stderr).toBe(0);
    expect(history.stdout).toContain('attach-remote');
    expect(history.stdout).toContain('cluster3');

    // The mesh as it now stands is uninstalled whole.
    const gone = await runCli(['uninstall', '--mesh', 'mesh1', '-q', ...at]);
    expect(gone.code, gone.stderr).toBe(0);
    expect(gone.stdout).toContain(`(uninstall of ${remove})`);
    expect((await meshes(db))[0]).toMatchObject({ state: 'removed' });
    void install;
  }, 120_000);

  it('a cluster that joined with an istio-system of its own keeps it when it leaves, and the note names the run that found it there', async () => {
    const db = join(tmp.dir, 'joined-kept.db');
    const at = ['--db', db];
    const install = (await installed(db)).id;
    // The add stops before looking at cluster3; its istio-system is made by hand, as if it had been there all along.
    const stopped = await runCli([
      'cluster',
      'add',
      '--mesh',
      'mesh1',
      '--name',
      'cluster3',
      '--context',
      'ctx-3',
      '--inject-failure',
      'preflight',
      '-q',
      ...at,
    ]);
    expect(stopped.code, stopped.stderr).toBe(1);
    const add = runIdFrom(stopped);
    const world = (await readJournal(db, add)).run.simWorld;
    expect((await simCommand(db, world, 'ctx-3', ['create', 'namespace', 'istio-system'])).exitCode).toBe(0);
    const resumed = await runCli(['resume', add, '-q', ...at]);
    expect(resumed.code, resumed.stderr).toBe(0);

    const removed = await runCli(['cluster', 'remove', '--mesh', 'mesh1', '--name', 'cluster3', ...at]);
    expect(removed.code, removed.stderr).toBe(0);
    // The install never touched cluster3: the cluster add recorded its namespace, and the note says so.
    expect(removed.stderr).toContain(`namespace istio-system on cluster3 existed before mesh-run (run ${add}); kept it`);
    expect(removed.stderr).not.toContain(install);
    const left = (await readJournal(db, runIdFrom(removed))).cluster['ctx-3'] ?? [];
    expect(left.map((o) => (JSON.parse(o) as { kind: string; metadata: { name: string } }).metadata.name)).toEqual(['istio-system']);
  }, 120_000);

  it('a primary joins a multi-primary multi-network mesh: its secret on every primary, every secret on it; leaving takes both back', async () => {
    const dir = examples('multi');
    const db = join(dir, 'journal.db');
    const at = ['--db', db];
    await installed(db, join(dir, 'multi-primary-multi-network.yaml'));
    const added = await runCli([
      'cluster',
      'add',
      '--mesh',
      'mesh1',
      '--name',
      'cluster3',
      '--context',
      'cluster3',
      '--role',
      'primary',
      '--network',
      'network3',
      '-q',
      ...at,
    ]);
    expect(added.code, added.stderr).toBe(0);
    const add = runIdFrom(added);
    const slots = (await readJournal(db, add)).attempts.map((a) => `${a.step}@${a.cluster}`);
    expect(slots).toEqual([
      'preflight@*',
      'label-network@cluster3',
      'establish-trust@cluster3',
      'install-primary@cluster3',
      'install-eastwest-gateway@cluster3',
      'await-gateway-address@cluster3',
      'expose-services@cluster3',
      'exchange-secret@cluster3',
      'receive-secrets@cluster3',
    ]);
    const all = ['cluster1', 'cluster2', 'cluster3'];
    expect(await remoteSecrets(db, add, all)).toEqual({
      cluster1: ['cluster2', 'cluster3'],
      cluster2: ['cluster1', 'cluster3'],
      cluster3: ['cluster1', 'cluster2'],
    });
    const verified = await runCli(['verify', '--mesh', 'mesh1', '-q', ...at]);
    expect(verified.code, verified.stderr).toBe(0);

    const removed = await runCli(['cluster', 'remove', '--mesh', 'mesh1', '--name', 'cluster3', '-q', ...at]);
    expect(removed.code, removed.stderr).toBe(0);
    const remove = runIdFrom(removed);
    expect((await readJournal(db, remove)).attempts.map((a) => `${a.step}@${a.cluster}`)).toEqual([
      'preflight@*',
      'remove-sample@cluster3',
      'detach-remote@cluster3',
      'release-secrets@cluster3',
      'uninstall-primary@cluster3',
    ]);
    expect(await remoteSecrets(db, remove, all)).toEqual({ cluster1: ['cluster2'], cluster2: ['cluster1'], cluster3: [] });
    expect((await runCli(['verify', '--mesh', 'mesh1', '-q', ...at])).code).toBe(0);
  }, 120_000);

  it('refuses, changing nothing, what the mesh cannot take: bad flags (exit 2), the last primary or one serving remotes (exit 3)', async () => {
    const dir = examples('refusals');
    const db = join(dir, 'journal.db');
    const at = ['--db', db];
    await installed(db);
    const fleet = (await installed(db, join(dir, 'mixed-fleet.yaml'))).id;
    const runsBefore = (await runCli(['runs', '-o', 'json', ...at])).stdout;
    const cases: Array<[string[], number, string]> = [
      [['add', '--mesh', 'mesh1', '--name', 'cluster2', '--context', 'x'], 2, '--name: "cluster2" is already used by cluster cluster2'],
      [['add', '--mesh', 'mesh1', '--name', 'c4', '--context', 'cluster1'], 2, '--context: "cluster1" is already the context of cluster cluster1'],
      [['add', '--mesh', 'mesh1', '--name', 'Bad_Name', '--context', 'x'], 2, '--name: "Bad_Name" is not a DNS-1123 label'],
      [['add', '--mesh', 'mesh1', '--name', 'c4', '--context', 'c4', '--role', 'primary'], 2, 'has no trust: section in the journal'],
      [['add', '--mesh', 'mesh1', '--name', 'c4', '--context', 'c4', '--network', 'net2'], 2, 'would make this one-network mesh multi-network'],
      [['add', '--mesh', 'mesh1', '--name', 'c4', '--context', 'c4', '--control-plane', 'cluster2'], 2, '"cluster2" is a remote'],
      [['add', '--mesh', 'nosuch', '--name', 'c4', '--context', 'c4'], 4, 'no mesh "nosuch"'],
      [['add', '--mesh', 'fleet', '--name', 'c4', '--context', 'c4', '--control-plane', 'west-1', '--inject-failure', 'install-primary'], 2, 'runs only when'],
      [['remove', '--mesh', 'mesh1', '--name', 'cluster1'], 3, "cluster1 is the mesh's last primary"],
      [['remove', '--mesh', 'fleet', '--name', 'east-1'], 3, 'east-1 still serves east-2, east-3; remove those remotes first'],
      [['remove', '--mesh', 'mesh1', '--name', 'cluster9'], 2, '--name cluster9: mesh mesh1 has no such cluster; its clusters are cluster1, cluster2'],
    ];
    for (const [args, code, message] of cases) {
      const result = await runCli(['cluster', ...args, '-q', ...at]);
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(code);
      expect(result.stderr).toContain(message);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
    }
    expect((await runCli(['runs', '-o', 'json', ...at])).stdout).toBe(runsBefore);
    // The fleet takes a remote on its primary that serves remotes, on a network it already has.
    const joined = await runCli([
      'cluster',
      'add',
      '--mesh',
      'fleet',
      '--name',
      'west-3',
      '--context',
      'west-3',
      '--control-plane',
      'west-1',
      '--network',
      'west',
      '-q',
      ...at,
    ]);
    expect(joined.code, joined.stderr).toBe(0);
    expect((await meshes(db)).find((m) => m.name === 'fleet')?.clusters.map((c) => c.name)).toContain('west-3');
    void fleet;
  }, 120_000);

  it("subcommands' usage errors are one line in mesh-run's style, exit 2", async () => {
    for (const [args, message] of [
      [['cluster', 'add'], "mesh-run: error: required option '--mesh <mesh>' not specified"],
      [['cluster', 'remove', '--mesh', 'm'], "mesh-run: error: required option '--name <cluster>' not specified"],
      [['secrets', 'audit', '--bogus'], 'mesh-run: error: unknown option \'--bogus\'; "mesh-run secrets audit --help" lists the options'],
      [['mesh', 'show'], "mesh-run: error: missing required argument 'mesh'"],
    ] as const) {
      const result = await runCli([...args]);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr.trim()).toBe(message);
    }
  });

  it('a cluster add that fails leaves the record as it was; resume finishes it and only then the mesh grows', async () => {
    const db = join(tmp.dir, 'failing.db');
    const at = ['--db', db];
    await installed(db);
    const failed = await runCli([
      'cluster',
      'add',
      '--mesh',
      'mesh1',
      '--name',
      'cluster3',
      '--context',
      'cluster3',
      '--inject-failure',
      'install-remote:1',
      '-q',
      ...at,
    ]);
    expect(failed.code).toBe(1);
    const add = runIdFrom(failed);
    expect((await meshes(db))[0]?.clusters.map((c) => c.name)).toEqual(['cluster1', 'cluster2']);
    // verify acts on the mesh as recorded: two clusters.
    const verified = await runCli(['verify', '--mesh', 'mesh1', '-q', ...at]);
    expect(verified.stdout).toContain('requests from cluster1, cluster2 reached');
    const resumed = await runCli(['resume', add, '-q', ...at]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect((await meshes(db))[0]?.clusters.map((c) => c.name)).toEqual(['cluster1', 'cluster2', 'cluster3']);
  }, 120_000);

  it('fails at every step of both verbs, by injection, and resumes to the same end state', async () => {
    const dir = examples('faults');
    const config = join(dir, 'multi-primary-multi-network.yaml');
    const addSteps = [
      'preflight',
      'label-network',
      'establish-trust',
      'install-primary',
      'install-eastwest-gateway',
      'await-gateway-address',
      'expose-services',
      'exchange-secret',
      'receive-secrets',
    ];
    const removeSteps = ['preflight', 'remove-sample', 'detach-remote', 'release-secrets', 'uninstall-primary'];
    const ends: string[] = [];
    // Driven in this process: the runs' ends are the subject, not the CLI (its exit 1 is status failed, the
    // step its error line names is the outcome's).
    const joining = { name: 'cluster3', context: 'cluster3', role: 'primary' as const, network: 'network3' };
    for (const [i, step] of addSteps.entries()) {
      const db = join(dir, `add-${i}.db`);
      await installed(db, config);
      const failed = await engine.clusterAdd(db, 'mesh1', joining, { injectFailure: [step] });
      expect(failed.status, step).toBe('failed');
      expect(failed.finished.outcome.error?.step).toBe(step);
      const resumed = await engine.resume(db, failed.id);
      expect(resumed.status, step).toBe('succeeded');
      ends.push(JSON.stringify((await readJournal(db, failed.id)).cluster));
      // Leaving, failing at each of its steps in turn (one per grown mesh, round robin).
      const leaveStep = removeSteps[i % removeSteps.length] as string;
      const leave = await engine.clusterRemove(db, 'mesh1', 'cluster3', { injectFailure: [leaveStep] });
      expect(leave.status, leaveStep).toBe('failed');
      expect((await engine.resume(db, leave.id)).status).toBe('succeeded');
      expect(await remoteSecrets(db, leave.id, ['cluster1', 'cluster2', 'cluster3'])).toEqual({ cluster1: ['cluster2'], cluster2: ['cluster1'], cluster3: [] });
    }
    expect(new Set(ends).size).toBe(1);
  }, 300_000);

  it('plan cluster-add and plan cluster-remove show the commands, from a config file or from the journal', async () => {
    const db = join(tmp.dir, 'plan.db');
    await installed(db);
    const fromJournal = await runCli(['plan', 'cluster-add', '--mesh', 'mesh1', '--name', 'cluster3', '--context', 'kind-c3', '--db', db]);
    expect(fromJournal.code, fromJournal.stderr).toBe(0);
    expect(fromJournal.stdout).toContain('istioctl create-remote-secret --context=kind-c3 --name=cluster3 -n istio-system | kubectl --context=cluster1 apply');
    expect(fromJournal.stdout).not.toContain('install-primary');
    const script = await runCli(['plan', 'cluster-remove', '--name', 'cluster2', '-o', 'sh']);
    expect(script.code, script.stderr).toBe(0);
    expect(script.stdout).toContain('kubectl --context=cluster1 -n istio-system delete secret istio-remote-secret-cluster2');
    expect(script.stdout).toContain('istioctl uninstall --context=cluster2 -y --purge');
    expect(script.stdout).not.toContain('--context=cluster1 -y --purge');
    const wrong = await runCli(['plan', 'install', '--name', 'x']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('--name: goes with plan cluster-add or plan cluster-remove');
  }, 60_000);
});

describe('--dry-run on a real mesh', () => {
  it('rehearses cluster add, secrets rotate and cluster remove on a simulated copy; the real mesh and its record stay as they were', async () => {
    const db = join(tmp.dir, 'real.db');
    const at = ['--db', db];
    const install = await recordRealMesh(db, PROD);
    const real = async () => (await meshes(db)).find((m) => m.name === 'prod') as Mesh;
    expect((await real()).clusters.map((c) => c.name)).toEqual(['east', 'west']);

    // Without --dry-run the real tools are asked (and here there are none): refused, nothing recorded.
    const refused = await runCli(['cluster', 'add', '--mesh', 'prod', '--name', 'south', '--context', 'ctx-south', '-q', ...at]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('not found');

    const added = await runCli([
      'cluster',
      'add',
      '--mesh',
      'prod',
      '--name',
      'south',
      '--context',
      'ctx-south',
      '--dry-run',
      '--inject-failure',
      'install-remote:1:transient',
      ...at,
    ]);
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toContain('; a rehearsal on simulated clusters)');
    const add = runIdFrom(added);
    const journal = await readJournal(db, add);
    expect(journal.run.mode).toBe('dry-run');
    expect(journal.events.map((e) => e.detail ?? '')).toContain(
      `--dry-run: on a simulated copy of real mesh prod as run ${install} left it; no real cluster is touched`,
    );
    // The copy held the mesh as recorded: the joining remote found its primary's gateway and control plane.
    expect(journal.attempts.filter((a) => a.outcome === 'succeeded').map((a) => `${a.step}@${a.cluster}`)).toContain('read-discovery-address@east');
    expect(Object.keys(journal.cluster).sort()).toEqual(['ctx-east', 'ctx-south', 'ctx-west']);
    expect(journal.commands.every((c) => !c.argv[0]?.startsWith('/nonexistent'))).toBe(true);

    for (const args of [
      ['secrets', 'rotate', '--mesh', 'prod', '--dry-run', '-q'],
      ['cluster', 'remove', '--mesh', 'prod', '--name', 'west', '--dry-run', '-q'],
    ]) {
      const rehearsed = await runCli([...args, ...at]);
      expect(rehearsed.code, `${args.join(' ')}: ${rehearsed.stderr}`).toBe(0);
    }
    // The real mesh's membership is what the real runs made; the rehearsals are listed among its runs.
    const after = await real();
    expect(after).toMatchObject({ install, mode: 'real', state: 'installed' });
    expect(after.clusters.map((c) => c.name)).toEqual(['east', 'west']);
    expect(after.runs.map((r) => r.kind)).toEqual(['install', 'cluster-add', 'secrets-rotate', 'cluster-remove']);
  }, 120_000);
});

describe('day 2 on a PostgreSQL store', () => {
  it.skipIf(!havePostgres())(
    'cluster add, secrets rotate, cluster remove and verify --mesh, with the journal in PostgreSQL',
    async () => {
      const { where, args: at } = newStore('postgres', tmp.dir, 'day2');
      await installed(where);
      // The runs are driven in this process: their journal in PostgreSQL is the subject.
      for (const [what, run] of [
        ['cluster add', () => engine.clusterAdd(where, 'mesh1', { name: 'cluster3', context: 'cluster3' })],
        ['secrets rotate', () => engine.secretsRotate(where, 'mesh1')],
        ['verify --mesh', () => engine.verify(where, { mesh: 'mesh1' })],
        ['cluster remove', () => engine.clusterRemove(where, 'mesh1', 'cluster3')],
      ] as const)
        expect((await run()).status, what).toBe('succeeded');
      const listed = JSON.parse((await runCli(['meshes', '-o', 'json', ...at])).stdout) as Mesh[];
      expect(listed[0]?.clusters.map((c) => c.name)).toEqual(['cluster1', 'cluster2']);
      expect(listed[0]?.runs.map((r) => r.kind)).toEqual(['install', 'cluster-add', 'secrets-rotate', 'verify', 'cluster-remove']);
    },
    120_000,
  );
});
