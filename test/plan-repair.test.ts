// mesh-run plan repair --mesh M: the drift check decides the repairs, and the repair is rehearsed on a simulated
// copy of the mesh with that drift there (a dry-run mesh's world copied; a real mesh's drift made again on a new
// simulated copy). The plan lists what the repair then runs, command for command, and changes nothing: not the
// journal, not the simulated world, not the clusters a real mesh's tools reach.
import { chmodSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateIntermediate, generateRoot } from '../engine/activities/trust/ca.js';
import { openStore } from '../engine/composition.js';
import { cacertsDrift } from '../engine/plan-drift-installed.js';
import type { MeshConfig } from '../shared/model.js';
import { parseStoreLocation } from '../store/location.js';
import { runIdFrom, tempDir } from './support/cli.js';
import { runCli } from './support/cli-here.js';
import { copyDb } from './support/crash-resume.js';
import * as engine from './support/engine.js';
import { copyExamples } from './support/examples.js';
import { readJournal } from './support/journal.js';
import { recordRealMesh } from './support/real-mesh.js';
import { simCommand } from './support/sim.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const examples = join(tmp.dir, 'examples');
copyExamples(examples);
const SIM_TOOL = fileURLToPath(new URL('./support/sim-tool.mjs', import.meta.url));

interface Mesh {
  db: string;
  world: string;
}

interface Planned {
  step: string;
  cluster: string;
  argv: string[];
  pipeTo?: string[];
}

let copies = 0;
function copyOf(mesh: Mesh): Mesh {
  const db = join(tmp.dir, `case-${++copies}.db`);
  copyDb(mesh.db, db);
  return { db, world: mesh.world };
}

async function kubectl(mesh: Mesh, context: string, args: string[], stdin?: string): Promise<string> {
  const result = await simCommand(mesh.db, mesh.world, context, args, stdin !== undefined ? { stdin } : {});
  expect(result.exitCode, `kubectl ${args.join(' ')}: ${result.stderr}`).toBe(0);
  return result.stdout;
}

// Four kinds of drift on the multi-network primary-remote mesh: a remote secret deleted, the remote's network
// label removed, its control-plane annotation naming another cluster, the cross-network Gateway deleted.
async function drift(mesh: Mesh): Promise<void> {
  await kubectl(mesh, 'cluster1', ['-n', 'istio-system', 'delete', 'secret', 'istio-remote-secret-cluster2']);
  await kubectl(mesh, 'cluster2', ['label', 'namespace', 'istio-system', 'topology.istio.io/network-']);
  await kubectl(mesh, 'cluster2', ['annotate', 'namespace', 'istio-system', 'topology.istio.io/controlPlaneClusters=cluster9', '--overwrite']);
  await kubectl(mesh, 'cluster1', ['-n', 'istio-system', 'delete', 'gateway.networking.istio.io', 'cross-network-gateway']);
}

// A simulated world's controllers act as its clusters are read (a remote injector's caBundle is patched when it
// is first read after an install, as istiod would have done by then): a drift check reads everything once, so
// what changes after it is the plan's doing.
async function settled(mesh: Mesh): Promise<Mesh> {
  const checked = await runCli(['drift', '--mesh', 'mesh1', '--db', mesh.db]);
  expect([0, 5], checked.stderr).toContain(checked.code);
  return mesh;
}

// Everything a plan must leave as it was: every run, its events and observations, and the simulated world whole.
async function snapshot(db: string, world?: string): Promise<unknown> {
  const store = await openStore(parseStoreLocation(db, 'test'), 'read-only');
  try {
    const runs = await store.runs.listRuns(1000);
    const ids = runs.map((r) => r.id);
    const events = await Promise.all(ids.map((id) => store.runs.listEvents(id)));
    const observations = await store.runs.listObservations(ids);
    const objects = world ? await store.worlds.exportWorld(world) : undefined;
    return { runs, events, observations, objects };
  } finally {
    await store.close();
  }
}

const bySlot = (rows: Array<{ slot: string; argv: string[] }>) => {
  const map = new Map<string, string[]>();
  for (const r of rows) map.set(r.slot, [...(map.get(r.slot) ?? []), r.argv.join(' ')]);
  return Object.fromEntries([...map.entries()].sort(([a], [b]) => a.localeCompare(b)));
};

const planOf = (stdout: string) =>
  (JSON.parse(stdout) as Planned[]).flatMap((p) => [
    { slot: `${p.step}@${p.cluster}`, argv: p.argv },
    ...(p.pipeTo ? [{ slot: `${p.step}@${p.cluster}`, argv: p.pipeTo }] : []),
  ]);

const repairSlots = (rows: Array<{ slot: string }>) => [...new Set(rows.map((r) => r.slot).filter((s) => /^(repair-|remove-stale)/.test(s)))].sort();

describe('mesh-run plan repair on a dry-run mesh', () => {
  let mesh: Mesh;
  beforeAll(async () => {
    const db = join(tmp.dir, 'installed.db');
    const run = await engine.install(db, { config: join(examples, 'primary-remote-multi-network.yaml') });
    expect(run.status).toBe('succeeded');
    mesh = { db, world: (await readJournal(db, run.id)).run.simWorld };
  });

  it('nothing drifted: "nothing to repair", exit 0, in text and as an empty JSON list', async () => {
    const m = await settled(copyOf(mesh));
    const before = await snapshot(m.db, m.world);
    const text = await runCli(['plan', 'repair', '--mesh', 'mesh1', '--db', m.db]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toBe('mesh mesh1: nothing to repair\n');
    const json = await runCli(['plan', 'repair', '--mesh', 'mesh1', '--db', m.db, '-o', 'json']);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual([]);
    expect(await snapshot(m.db, m.world)).toEqual(before);
  });

  it('lists what the repair then runs, command for command, and changes neither the journal nor the world', async () => {
    const planned = copyOf(mesh);
    await drift(planned);
    const repaired = copyOf(planned);
    const before = await snapshot(planned.db, planned.world);
    const plan = await runCli(['plan', 'repair', '--mesh', 'mesh1', '--db', planned.db, '-o', 'json']);
    expect(plan.code, plan.stderr).toBe(0);
    expect(await snapshot(planned.db, planned.world), 'the plan changed the store').toEqual(before);
    // The drift is still there for the repair the plan foretold.
    const rows = planOf(plan.stdout);
    expect(repairSlots(rows)).toEqual(['repair-annotation@cluster2', 'repair-expose@cluster1', 'repair-label@cluster2', 'repair-secret@cluster1']);
    const lines = rows.map((r) => r.argv.join(' '));
    expect(lines).toContain('kubectl --context=cluster2 label namespace istio-system topology.istio.io/network=network2 --overwrite');
    expect(lines).toContain('kubectl --context=cluster2 annotate namespace istio-system topology.istio.io/controlPlaneClusters=cluster1 --overwrite');
    expect(lines).toContain('istioctl create-remote-secret --context=cluster2 --name=cluster2 -n istio-system');

    const run = await runCli(['repair', '--mesh', 'mesh1', '--db', repaired.db, '-q']);
    expect(run.code, run.stderr).toBe(0);
    const journal = await readJournal(repaired.db, runIdFrom(run));
    expect(journal.run.kind).toBe('repair');
    const slotOf = new Map(journal.attempts.map((a) => [a.id, `${a.step}@${a.cluster}`]));
    const executed = journal.commands.map((c) => ({ slot: slotOf.get(c.attemptId as number) as string, argv: c.argv }));
    expect(bySlot(rows)).toEqual(bySlot(executed));
  });

  it('--only one kind: only its repair step, the drift left out listed, and where the repair would stop', async () => {
    const m = copyOf(mesh);
    await drift(m);
    const before = await snapshot(m.db, m.world);
    const plan = await runCli(['plan', 'repair', '--mesh', 'mesh1', '--db', m.db, '--only', 'network-label', '-o', 'json']);
    expect(plan.code, plan.stderr).toBe(0);
    expect(repairSlots(planOf(plan.stdout))).toEqual(['repair-label@cluster2']);
    expect(plan.stderr).toContain('remote-secret-missing cluster1: left out by --only');
    // With the secret still missing, istiod cannot see cluster2: the links check after the repair fails.
    expect(plan.stderr).toContain('a repair would stop at check-remote-clusters@cluster1');
    // A polled check appears once, with the mesh's own timeout for the script's loop.
    const checks = (JSON.parse(plan.stdout) as Array<Planned & { check?: { seconds: number } }>).filter((p) => p.step === 'check-remote-clusters');
    expect(checks.filter((p) => p.argv[0] === 'istioctl')).toHaveLength(1);
    expect(checks[0]?.check?.seconds).toBe(120);
    expect(await snapshot(m.db, m.world)).toEqual(before);
  }, 60_000);

  it('refuses bad input with exit 2, and an unknown mesh with exit 4', async () => {
    const m = copyOf(mesh);
    const cases: Array<[string[], number, string]> = [
      [['plan', 'repair', '-c', join(examples, 'primary-remote.yaml')], 2, '--mesh is required'],
      [['plan', 'repair', '--mesh', 'mesh1', '--only', 'bogus'], 2, '--only bogus: not a drift kind'],
      [['plan', 'verify', '--mesh', 'mesh1', '--only', 'network-label'], 2, '--only: goes with plan repair'],
      [['plan', 'repair', '--mesh', 'mesh1', '--context', 'cluster1=other'], 2, '--context and --kubeconfig'],
      [['plan', 'repair', '--mesh', 'nope'], 4, 'nope'],
    ];
    for (const [argv, code, says] of cases) {
      const result = await runCli([...argv, '--db', m.db]);
      expect(result.code, argv.join(' ')).toBe(code);
      expect(result.stderr).toContain(says);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }
  });
});

// A real mesh whose kubectl and istioctl answer from a dry run's world in another database (the "real"
// clusters), recorded in a journal of its own with `extra` config (its trust: section).
async function realMesh(clusters: Mesh, extra = ''): Promise<string> {
  const tools: Record<string, string> = {};
  const name = clusters.db.replace(/\.db$/, '');
  for (const tool of ['kubectl', 'istioctl']) {
    tools[tool] = `${name}-${tool}`;
    writeFileSync(tools[tool] as string, `#!/bin/sh\nexec "${process.execPath}" "${SIM_TOOL}" "${clusters.db}" "${clusters.world}" ${tool} "$@"\n`);
    chmodSync(tools[tool] as string, 0o755);
  }
  const journal = `${name}-journal.db`;
  await recordRealMesh(
    journal,
    `meshID: mesh1\nclusters:\n  - {name: cluster1, context: cluster1, role: primary, network: network1}\n  - {name: cluster2, context: cluster2, role: remote, network: network2}\ntools: {kubectl: ${tools.kubectl}, istioctl: ${tools.istioctl}}\n${extra}`,
  );
  return journal;
}

async function installed(name: string, config: string): Promise<Mesh> {
  const db = join(tmp.dir, `${name}.db`);
  const run = await engine.install(db, { config });
  expect(run.status).toBe('succeeded');
  return { db, world: (await readJournal(db, run.id)).run.simWorld };
}

// The rehearsal reads the clusters as drift does, on a new simulated copy with the drift made again.
describe('mesh-run plan repair on a real mesh', () => {
  it('reads the clusters as drift does, rehearses on a copy with the drift, and changes no cluster', async () => {
    const clusters = await installed('real-clusters', join(examples, 'primary-remote-multi-network.yaml'));
    const journal = await realMesh(clusters);
    await drift(clusters);
    await settled(clusters);
    const before = { clusters: await snapshot(clusters.db, clusters.world), journal: await snapshot(journal) };
    const plan = await runCli(['plan', 'repair', '--mesh', 'mesh1', '--db', journal, '-o', 'json']);
    expect(plan.code, plan.stderr).toBe(0);
    const rows = planOf(plan.stdout);
    expect(repairSlots(rows)).toEqual(['repair-annotation@cluster2', 'repair-expose@cluster1', 'repair-label@cluster2', 'repair-secret@cluster1']);
    const lines = rows.map((r) => r.argv.join(' '));
    // The copy had the drift: each step that observes before it acts found something to do.
    expect(lines).toContain('kubectl --context=cluster2 label namespace istio-system topology.istio.io/network=network2 --overwrite');
    expect(lines).toContain('kubectl --context=cluster2 annotate namespace istio-system topology.istio.io/controlPlaneClusters=cluster1 --overwrite');
    expect(await snapshot(clusters.db, clusters.world), 'the plan changed the clusters').toEqual(before.clusters);
    expect(await snapshot(journal), 'the plan changed the journal').toEqual(before.journal);
  }, 60_000);

  it('repair --dry-run rehearses on a copy with the drift made again: its steps act there, the clusters unchanged', async () => {
    const clusters = await installed('real-rehearsed', join(examples, 'primary-remote-multi-network.yaml'));
    const journal = await realMesh(clusters);
    await drift(clusters);
    await settled(clusters);
    const before = await snapshot(clusters.db, clusters.world);
    const rehearsed = await runCli(['repair', '--mesh', 'mesh1', '--db', journal, '--dry-run', '--json']);
    expect(rehearsed.code, rehearsed.stderr).toBe(0);
    const id = /"(?:id|runId)": ?"(mr-[a-z0-9]+)"/.exec(rehearsed.stdout)?.[1];
    expect(id, rehearsed.stdout).toMatch(/^mr-/);
    const run = await readJournal(journal, id as string);
    expect(run.run.mode).toBe('dry-run');
    const argv = run.commands.map((c) => c.argv.join(' '));
    // The copy had the drift, so the label and annotation steps acted (without it they would only have read).
    expect(argv).toContain('kubectl --context=cluster2 label namespace istio-system topology.istio.io/network=network2 --overwrite');
    expect(argv).toContain('kubectl --context=cluster2 annotate namespace istio-system topology.istio.io/controlPlaneClusters=cluster1 --overwrite');
    expect(await snapshot(clusters.db, clusters.world), 'the rehearsal changed the clusters').toEqual(before);
  }, 90_000);
});

interface Service {
  metadata: Record<string, unknown>;
  status: { loadBalancer: { ingress: Array<{ ip: string }> } };
}

interface Deployment {
  spec: { template: { spec: { containers: Array<{ env?: Array<{ name: string; value: string }> }> } } };
}

const GATEWAY = ['-n', 'istio-system', 'service', 'istio-eastwestgateway'];

// The load balancer re-provisioned the primary's gateway Service at another address.
async function moveGateway(m: Mesh): Promise<void> {
  const svc = JSON.parse(await kubectl(m, 'cluster1', ['get', ...GATEWAY, '-o', 'json'])) as Service;
  const { uid: _u, resourceVersion: _r, creationTimestamp: _c, ...metadata } = svc.metadata;
  await kubectl(m, 'cluster1', ['delete', ...GATEWAY]);
  await kubectl(m, 'cluster1', ['apply', '-f', '-'], JSON.stringify({ ...svc, metadata, status: { loadBalancer: { ingress: [{ ip: '172.18.1.77' }] } } }));
}

// The default revision tag pointed at another revision by hand.
const retag = (m: Mesh) =>
  kubectl(
    m,
    'cluster1',
    ['apply', '-f', '-'],
    JSON.stringify({
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingWebhookConfiguration',
      metadata: { name: 'istio-revision-tag-default', labels: { 'istio.io/tag': 'default', 'istio.io/rev': 'canary' } },
      webhooks: [{ name: 'rev.namespace.sidecar-injector.istio.io', clientConfig: { service: { name: 'istiod-canary', namespace: 'istio-system' } } }],
    }),
  );

// The commands of the run a CLI call printed, by step and cluster.
async function executedBy(db: string, stdout: string): Promise<Array<{ slot: string; argv: string[] }>> {
  const journal = await readJournal(db, runIdFrom({ stdout } as never));
  expect(journal.run.kind).toBe('repair');
  const slotOf = new Map(journal.attempts.map((a) => [a.id, `${a.step}@${a.cluster}`]));
  return journal.commands.map((c) => ({ slot: slotOf.get(c.attemptId as number) as string, argv: c.argv }));
}

// The drift of the parts a repair installs again, and of the mesh's CA (kept in a trust directory), made on
// the real clusters: the plan's copy has each made again, so the plan lists the commands the repair of the
// real clusters then runs, the installs and the CA's among them.
describe('mesh-run plan repair on a real mesh: reinstalled parts and the CA', () => {
  const trust = `trust: {outputDir: ${join(tmp.dir, 'certs')}}\n`;
  let base: Mesh;
  beforeAll(async () => {
    const config = join(tmp.dir, 'trusted.yaml');
    writeFileSync(
      config,
      `meshID: mesh1\nclusters:\n  - {name: cluster1, context: cluster1, role: primary, network: network1}\n  - {name: cluster2, context: cluster2, role: remote, network: network2}\n${trust}`,
    );
    base = await installed('trusted-clusters', config);
  });

  const CASES: Array<{ kind: string; flags?: string[]; change: (m: Mesh) => Promise<unknown>; slots: string[]; runs: RegExp }> = [
    { kind: 'gateway-address', change: moveGateway, slots: ['repair-remote@cluster2'], runs: /^istioctl install .*--context=cluster2/ },
    {
      kind: 'cacerts-missing',
      change: (m) => kubectl(m, 'cluster1', ['-n', 'istio-system', 'delete', 'secret', 'cacerts']),
      slots: ['repair-trust@cluster1'],
      runs: /^kubectl --context=cluster1 .*create/,
    },
    // A tag made by hand, not by a mesh-run upgrade: repaired only with --force.
    { kind: 'default-tag', flags: ['--force'], change: retag, slots: ['repair-tag@cluster1'], runs: /^istioctl tag --context=cluster1 remove default -y$/ },
    {
      kind: 'east-west-gateway',
      change: (m) => kubectl(m, 'cluster1', ['delete', ...GATEWAY]),
      slots: ['repair-gateway@cluster1', 'repair-remote@cluster2'],
      runs: /^istioctl install --context=cluster1 /,
    },
    {
      kind: 'istio-missing on the remote, istiod-identity',
      change: async (m) => {
        await kubectl(m, 'cluster2', ['delete', 'mutatingwebhookconfiguration', 'istio-sidecar-injector']);
        const istiod = JSON.parse(await kubectl(m, 'cluster1', ['-n', 'istio-system', 'get', 'deployment', 'istiod', '-o', 'json'])) as Deployment;
        for (const k of istiod.spec.template.spec.containers) for (const e of k.env ?? []) if (e.name === 'CLUSTER_ID') e.value = 'clusterX';
        await kubectl(m, 'cluster1', ['apply', '--server-side', '-f', '-'], JSON.stringify(istiod));
      },
      slots: ['repair-control-plane@cluster1', 'repair-remote@cluster2'],
      runs: /^istioctl install --context=cluster2 /,
    },
    {
      kind: 'cacerts-changed',
      flags: ['--force'],
      change: async (m) => {
        const options = { keySize: 2048, rootDays: 3650, intermediateDays: 365 } as const;
        const bundle = await generateIntermediate(await generateRoot(options), 'cluster1', options);
        const data = Object.fromEntries(Object.entries(bundle).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
        await kubectl(m, 'cluster1', ['-n', 'istio-system', 'delete', 'secret', 'cacerts']);
        await kubectl(
          m,
          'cluster1',
          ['create', '-f', '-'],
          JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'cacerts', namespace: 'istio-system' }, data }),
        );
      },
      slots: ['repair-trust@cluster1'],
      runs: /^kubectl --context=cluster1 -n istio-system delete secret cacerts/,
    },
  ];

  it.each(CASES)(
    '$kind: the plan lists what the repair of the real clusters then runs, command for command',
    async ({ change, flags = [], slots, runs }) => {
      const clusters = copyOf(base);
      const journal = await realMesh(clusters, trust);
      await change(clusters);
      await settled(clusters);
      const plan = await runCli(['plan', 'repair', '--mesh', 'mesh1', '--db', journal, '-o', 'json', ...flags]);
      expect(plan.code, plan.stderr).toBe(0);
      const rows = planOf(plan.stdout);
      expect(repairSlots(rows)).toEqual(slots);
      // The copy had the drift: the step acted there, not only read.
      expect(rows.map((r) => r.argv.join(' ')).filter((l) => runs.test(l))).not.toEqual([]);

      const repaired = await runCli(['repair', '--mesh', 'mesh1', '--db', journal, '--yes', '-q', ...flags]);
      expect(repaired.code, repaired.stderr).toBe(0);
      expect(bySlot(rows)).toEqual(bySlot(await executedBy(journal, repaired.stdout)));
    },
    90_000,
  );

  // The real trust directory holding the root only (cluster1's CA not kept): the rehearsals install the copy, and
  // repair its cacerts, under a throwaway CA of their own; the real directory is left as it was.
  it('cacerts-missing with only the root kept: same files, same mtimes; the rehearsal removes its scratch CA', async () => {
    const certs = join(tmp.dir, 'certs-root-only');
    mkdirSync(certs, { mode: 0o700 });
    const root = await generateRoot({ keySize: 2048, rootDays: 3650, intermediateDays: 730 });
    writeFileSync(join(certs, 'root-cert.pem'), root.certPem);
    writeFileSync(join(certs, 'root-key.pem'), root.keyPem, { mode: 0o600 });
    const snapshot = () =>
      readdirSync(certs, { recursive: true })
        .map((f) => `${f} ${statSync(join(certs, String(f))).mtimeMs}`)
        .sort();
    const before = snapshot();
    const clusters = copyOf(base);
    const journal = await realMesh(clusters, `trust: {outputDir: ${certs}}\n`);
    await kubectl(clusters, 'cluster1', ['-n', 'istio-system', 'delete', 'secret', 'cacerts']);
    await settled(clusters);
    const plan = await runCli(['plan', 'repair', '--mesh', 'mesh1', '--db', journal, '-o', 'json']);
    expect(plan.code, plan.stderr).toBe(0);
    expect(repairSlots(planOf(plan.stdout))).toContain('repair-trust@cluster1');
    expect(snapshot()).toEqual(before);
    const rehearsal = await runCli(['repair', '--mesh', 'mesh1', '--db', journal, '--dry-run', '--yes', '-q']);
    expect(rehearsal.code, rehearsal.stderr).toBe(0);
    expect(snapshot()).toEqual(before);
    const scratch = (await readJournal(journal, runIdFrom(rehearsal))).events.find((e) => e.type === 'rehearsal-trust')?.detail?.match(/ in (\S+),/)?.[1];
    expect(scratch).toBeDefined();
    expect(scratch?.startsWith(certs)).toBe(false);
    expect(existsSync(scratch as string)).toBe(false);
  }, 90_000);
});

describe("a real mesh's drift made again on the copy (pure)", () => {
  const config = { meshID: 'mesh1', clusters: [{ name: 'p1', context: 'p1', role: 'primary', network: 'n1' }] } as unknown as MeshConfig;
  const missing = { kind: 'cacerts-missing', action: 'cacerts', cluster: 'p1' } as const;
  const read = async () => undefined;

  it('cacerts-missing: istiod restarted on the copy only where the drift check found it under another root', async () => {
    const restart = ['-n', 'istio-system', 'rollout', 'restart', 'deployment/istiod'];
    expect((await cacertsDrift({ item: missing, config, found: [], read })).map((e) => e.args)).toEqual([
      ['-n', 'istio-system', 'delete', 'secret', 'cacerts', '--ignore-not-found'],
    ]);
    const found = [{ kind: 'roots-differ', cluster: 'p1' }];
    expect((await cacertsDrift({ item: missing, config, found, read })).map((e) => e.args)).toContainEqual(restart);
    const elsewhere = [{ kind: 'roots-differ', cluster: 'p2' }];
    expect((await cacertsDrift({ item: missing, config, found: elsewhere, read })).map((e) => e.args)).not.toContainEqual(restart);
  });
});
