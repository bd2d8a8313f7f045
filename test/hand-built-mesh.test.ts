// A mesh built by hand from Istio's pages (engine/hand-built-mesh.ts), on simulated clusters: for every example
// topology (and revisioned ones) the clusters must run what the config describes, carry none of mesh-run's
// marks, and be discovered (mesh-discovery + discovered-mesh) as the config's mesh with nothing to report; the
// report of what was typed must hold no token. Re-running converges; a gateway without an IP fails in bound.
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ClusterTools } from '../adapters/cluster-tools.js';
import { createSimulatedTools } from '../adapters/simulator/simulated-tools.js';
import { type LoadBalancerMode, newWorldSettings, writeWorld } from '../adapters/simulator/world.js';
import { deriveMesh } from '../engine/activities/discovered-mesh.js';
import { discoverClusters } from '../engine/activities/mesh-discovery.js';
import { generateIntermediate, generateRoot } from '../engine/activities/trust/ca.js';
import { loadConfig } from '../engine/config/mesh-config.js';
import { meshTopology } from '../engine/config/mesh-shape.js';
import { buildMeshByHand, type HandBuiltReport } from '../engine/hand-built-mesh.js';
import { type MeshShape, needsGateway, primariesOf, remotesOf, secretHoldersOf } from '../machines/topology.js';
import type { MeshConfig } from '../shared/model.js';
import { openSqliteStore } from '../store/sqlite/index.js';
import { tempDir } from './support/cli.js';
import { copyExamples } from './support/examples.js';
import { NEEDLES, withToken } from './support/secret-leaks.js';
import { findLeak } from './support/token-scan.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const examples = join(tmp.dir, 'examples');
copyExamples(examples);

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

// A simulated world with the config's clusters (each wired to its network), in an in-memory store.
async function worldFor(config: MeshConfig, lb: LoadBalancerMode = 'ip', delayMs = 0) {
  const store = openSqliteStore(':memory:');
  await writeWorld(store.worlds, 'w', newWorldSettings(config.clusters, { loadBalancer: { mode: lb, delayMs } }, Date.now()));
  return {
    tools: createSimulatedTools({ store: store.worlds, world: 'w' }),
    objects: (context: string) => store.worlds.transact('w', (o) => o.list(context)),
    close: () => store.close(),
  };
}

const runOptions = { signal: new AbortController().signal, timeoutMs: 10_000, step: 'preflight' as const, cluster: 'test' };

// kubectl or istioctl on one cluster, as the test's operator types it; must succeed.
async function run(tools: ClusterTools, tool: 'kubectl' | 'istioctl', context: string, args: string[]): Promise<string> {
  const argv = tool === 'kubectl' ? [`--context=${context}`, ...args] : [args[0] as string, `--context=${context}`, ...args.slice(1)];
  const result = await tools.run({ tool, args: argv, context }, runOptions);
  expect(result.exitCode, `${tool} ${argv.join(' ')}: ${result.stderr}`).toBe(0);
  return result.stdout;
}

interface Obj {
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: { template?: { spec?: { containers?: Array<{ env?: Array<{ name: string; value: string }> }> } } };
  webhooks?: Array<{ clientConfig?: { service?: { path?: string }; caBundle?: string } }>;
  endpoints?: Array<{ addresses?: string[] }>;
  data?: Record<string, string>;
  items?: Obj[];
}
const get = async (tools: ClusterTools, context: string, args: string[]) =>
  JSON.parse(await run(tools, 'kubectl', context, ['get', ...args, '-o', 'json'])) as Obj;
const envOf = (d: Obj) => Object.fromEntries((d.spec?.template?.spec?.containers ?? []).flatMap((c) => c.env ?? []).map((e) => [e.name, e.value]));
const NS = ['-n', 'istio-system'];

// An example config (with `extra` YAML appended), read as mesh-run reads it.
function configOf(name: string, extra = '', as = name): MeshConfig {
  const file = join(examples, `${as}.yaml`);
  if (as !== name) writeFileSync(file, readFileSync(join(examples, `${name}.yaml`)));
  if (extra) appendFileSync(file, `\n${extra}\n`);
  return loadConfig(file, {}).config;
}

// (a) What istiod, the remotes, the gateways and the secrets are, read back through the same tools.
async function expectInstalled(config: MeshConfig, tools: ClusterTools, report: HandBuiltReport): Promise<void> {
  const shape: MeshShape = { members: config.clusters };
  const suffix = config.revision ? `-${config.revision}` : '';
  const reported = new Map(report.clusters.map((c) => [c.name, c]));
  const address = new Map<string, string>();
  for (const c of config.clusters.filter((c) => needsGateway(shape, c.name))) {
    const svc = (await get(tools, c.context, [...NS, 'service', 'istio-eastwestgateway'])) as Obj & {
      status?: { loadBalancer?: { ingress?: Array<{ ip?: string }> } };
    };
    const ip = svc.status?.loadBalancer?.ingress?.[0]?.ip ?? '';
    expect(ip, `${c.name} gateway`).toMatch(IPV4);
    expect(reported.get(c.name)?.eastWestGateway?.address).toBe(ip);
    address.set(c.name, ip);
  }
  const roots = new Map<string, string>();
  for (const p of primariesOf(shape)) {
    const istiod = await get(tools, p.context, [...NS, 'deployment', `istiod${suffix}`]);
    expect(istiod.metadata.labels?.['istio.io/rev']).toBe(config.revision ?? 'default');
    const env = envOf(istiod);
    expect(env, p.name).toMatchObject({ CLUSTER_ID: p.name, ISTIO_META_MESH_ID: config.meshID, NETWORK: p.network });
    // External mode exactly where istiod serves remotes.
    expect(env.EXTERNAL_ISTIOD === 'true', `${p.name} external`).toBe(remotesOf(shape, p.name).length > 0);
    // istiod reads one remote secret per cluster whose holders include it, no other, and every one syncs.
    const held = config.clusters.filter((c) => secretHoldersOf(shape, c.name).some((h) => h.name === p.name)).map((c) => c.name);
    const secrets = (await get(tools, p.context, [...NS, 'secrets', '-l', 'istio/multiCluster=true'])).items ?? [];
    expect(secrets.map((s) => s.metadata.annotations?.['networking.istio.io/cluster']).sort(), `${p.name} holds`).toEqual([...held].sort());
    const rows = (await run(tools, 'istioctl', p.context, ['remote-clusters'])).split('\n').map((l) => l.split(/\s+/));
    for (const name of held) expect(rows.find((r) => r[0] === name)?.includes('synced'), `${p.name} reads ${name}`).toBe(true);
    const cacerts = (await run(tools, 'kubectl', p.context, [...NS, 'get', 'secrets', '-o', 'name'])).split('\n').includes('secret/cacerts');
    expect(cacerts, `${p.name} cacerts`).toBe(primariesOf(shape).length > 1 || config.trust !== undefined);
    roots.set(p.name, (await get(tools, p.context, [...NS, 'configmap', 'istio-ca-root-cert'])).data?.['root-cert.pem'] ?? '');
  }
  // Several primaries sign under one root (the cacerts they were given, not istiod's own).
  if (roots.size > 1) {
    expect(new Set(roots.values()).size, [...roots].join('; ')).toBe(1);
    expect([...roots.values()][0]).not.toMatch(/^self-signed/);
  }
  for (const r of remotesOf(shape)) {
    const primary = r.controlPlane as string;
    const ns = await get(tools, r.context, ['namespace', 'istio-system']);
    expect(ns.metadata.annotations?.['topology.istio.io/controlPlaneClusters']).toBe(primary);
    expect((await get(tools, r.context, [...NS, 'deployments'])).items?.filter((d) => d.metadata.name.startsWith('istiod'))).toEqual([]);
    // The remote profile: istiod's address is the primary's gateway, the injector's path names the cluster and
    // its network, and the primary (attached) has patched its CA in and published its root here.
    const slice = await get(tools, r.context, [...NS, 'endpointslice', `istiod${suffix}`]);
    expect(slice.endpoints?.[0]?.addresses).toEqual([address.get(primary)]);
    const hook = await get(tools, r.context, ['mutatingwebhookconfiguration', `istio-sidecar-injector${suffix}`]);
    expect(hook.webhooks?.[0]?.clientConfig?.service?.path).toBe(`/inject/cluster/${r.name}/net/${r.network}`);
    expect(hook.webhooks?.[0]?.clientConfig?.caBundle).toBeTruthy();
    expect((await get(tools, r.context, [...NS, 'configmap', 'istio-ca-root-cert'])).data?.['root-cert.pem']).toBe(roots.get(primary));
  }
  // Networks labelled exactly on a multi-network mesh.
  const multiNetwork = new Set(config.clusters.map((c) => c.network)).size > 1;
  for (const c of config.clusters) {
    const ns = await get(tools, c.context, ['namespace', 'istio-system']);
    expect(ns.metadata.labels?.['topology.istio.io/network'], `${c.name} network label`).toBe(multiNetwork ? c.network : undefined);
  }
}

// (b) None of mesh-run's marks, on any object of any cluster; the page's names instead.
async function expectNoMeshRunMarks(config: MeshConfig, objects: (context: string) => Promise<Array<{ kind: string; bodyJson: string }>>): Promise<void> {
  const owners = new Set<string>();
  for (const c of config.clusters) {
    for (const row of await objects(c.context)) {
      const obj = JSON.parse(row.bodyJson) as Obj;
      const where = `${c.name} ${row.kind}/${obj.metadata.name}`;
      expect(obj.metadata.name, where).not.toMatch(/mesh-run/);
      for (const [key, value] of Object.entries({ ...obj.metadata.labels, ...obj.metadata.annotations })) {
        expect(`${key}=${value}`, where).not.toMatch(/mesh-run/);
        if (key === 'install.operator.istio.io/owning-resource') owners.add(value);
      }
      expect(obj.metadata.labels?.['app.kubernetes.io/managed-by'], where).toBeUndefined();
    }
  }
  // istioctl labelled what it installed with the IstioOperators' names: none for the control planes, the
  // gateway generator's "eastwest" where there are gateways.
  const gateways = config.clusters.some((c) => needsGateway({ members: config.clusters }, c.name));
  expect([...owners].sort()).toEqual(gateways ? ['eastwest', 'unknown'] : ['unknown']);
}

// (c) Discovery reads the clusters back as the config's mesh, with nothing to report.
async function expectDiscovered(config: MeshConfig, tools: ClusterTools): Promise<void> {
  const mesh = deriveMesh(await discoverClusters(config, tools));
  expect(mesh.findings).toEqual([]);
  expect(mesh.topology).toBe(meshTopology(config));
  expect(mesh.config.meshID).toBe(config.meshID);
  expect(mesh.config.revision).toBe(config.revision);
  const want = config.clusters.map((c) => ({
    name: c.name,
    context: c.context,
    role: c.role,
    network: c.network,
    ...(c.controlPlane ? { controlPlane: c.controlPlane } : {}),
  }));
  expect(mesh.config.clusters).toEqual(want);
  for (const c of mesh.clusters) expect(c.revision, c.name).toBe(config.revision ?? 'default');
  expect(mesh.config.trust !== undefined).toBe(primariesOf({ members: config.clusters }).length > 1 || config.trust !== undefined);
}

const CASES: Array<{ label: string; config: () => MeshConfig }> = [
  { label: 'primary-remote', config: () => configOf('primary-remote') },
  { label: 'primary-remote-multi-network', config: () => configOf('primary-remote-multi-network') },
  { label: 'multi-primary', config: () => configOf('multi-primary') },
  { label: 'multi-primary-multi-network', config: () => configOf('multi-primary-multi-network') },
  { label: 'mixed-fleet', config: () => configOf('mixed-fleet') },
  // (d) A revisioned control plane: istiod-canary, the rev variant of expose-istiod, revisioned gateways.
  { label: 'primary-remote, revision canary', config: () => configOf('primary-remote', 'revision: canary', 'canary') },
  { label: 'primary-remote-multi-network, revision canary', config: () => configOf('primary-remote-multi-network', 'revision: canary', 'canary-mn') },
];

describe('a mesh built by hand from the Istio pages, on simulated clusters', () => {
  for (const { label, config: configFor } of CASES) {
    it(`${label}: runs what the config says, carries no mark of mesh-run, is discovered as the config's mesh, and reports no token`, async () => {
      const config = configFor();
      const world = await worldFor(config);
      try {
        await withToken(async () => {
          const report = await buildMeshByHand(config, world.tools);
          expect(report.warnings).toEqual([]);
          await expectInstalled(config, world.tools, report);
          await expectNoMeshRunMarks(config, world.objects);
          await expectDiscovered(config, world.tools);
          // (e) The token is on a primary (the scan would find it there), and not in the report.
          const holder = primariesOf({ members: config.clusters })[0];
          const secret = report.clusters.find((c) => c.name === holder?.name)?.secretsHeld[0];
          const held = await run(world.tools, 'kubectl', holder?.context ?? '', [...NS, 'get', 'secret', `istio-remote-secret-${secret}`, '-o', 'json']);
          expect(findLeak(held, NEEDLES)).toBeDefined();
          expect(findLeak(JSON.stringify(report), NEEDLES)).toBeUndefined();
        });
      } finally {
        await world.close();
      }
      // A generated root stays in memory: nothing was written where the config's trust.outputDir points.
      expect(existsSync(join(examples, 'certs'))).toBe(false);
    });
  }

  it("writes down the page's commands as typed: the pipes, the files, the revision's variants", async () => {
    const plain = configOf('primary-remote');
    const world = await worldFor(plain);
    try {
      const { commands } = await buildMeshByHand(plain, world.tools);
      expect(commands).toEqual(
        expect.arrayContaining([
          'kubectl --context=cluster1 create namespace istio-system',
          'istioctl install --context=cluster1 -y -f - < cluster1.yaml',
          'samples/multicluster/gen-eastwest-gateway.sh --network network1 | istioctl install --context=cluster1 -y -f -',
          'kubectl --context=cluster1 apply -n istio-system -f - < samples/multicluster/expose-istiod.yaml',
          'kubectl --context=cluster2 annotate namespace istio-system topology.istio.io/controlPlaneClusters=cluster1 --overwrite',
          'istioctl install --context=cluster2 -y -f - < cluster2.yaml',
          'istioctl create-remote-secret --context=cluster2 --name=cluster2 | kubectl --context=cluster1 apply -f -',
        ]),
      );
      // One network, one primary: no label, no cacerts, no expose-services.
      expect(commands.filter((c) => / label |cacerts|expose-services/.test(c))).toEqual([]);
    } finally {
      await world.close();
    }
    const canary = configOf('primary-remote', 'revision: canary', 'canary-commands');
    const revisioned = await worldFor(canary);
    try {
      const { commands } = await buildMeshByHand(canary, revisioned.tools);
      expect(commands).toContain(
        'samples/multicluster/gen-eastwest-gateway.sh --network network1 --revision canary | istioctl install --context=cluster1 -y -f -',
      );
      expect(commands).toContain(
        "sed 's/{{.Revision}}/canary/g' samples/multicluster/expose-istiod-rev.yaml.tmpl | kubectl --context=cluster1 apply -n istio-system -f -",
      );
    } finally {
      await revisioned.close();
    }
  });

  it('re-run on the same clusters converges: nothing created twice, the same addresses, still the same mesh', async () => {
    const config = configOf('mixed-fleet');
    const world = await worldFor(config);
    try {
      const first = await buildMeshByHand(config, world.tools);
      const second = await buildMeshByHand(config, world.tools);
      expect(second.commands.filter((c) => / create /.test(c))).toEqual([]);
      for (const c of second.clusters) {
        expect(c.namespace, c.name).toBe('existed');
        if (c.role === 'primary') expect(c.cacerts, c.name).toBe('kept');
        expect(c.eastWestGateway, c.name).toEqual(first.clusters.find((f) => f.name === c.name)?.eastWestGateway);
      }
      await expectInstalled(config, world.tools, second);
      await expectDiscovered(config, world.tools);
    } finally {
      await world.close();
    }
  });

  it('takes its common root from trust.caDir when the config names one', async () => {
    const caDir = join(tmp.dir, 'ca');
    const ca = { keySize: 2048 as const, rootDays: 30, intermediateDays: 10 };
    const root = await generateRoot(ca);
    for (const cluster of ['cluster1', 'cluster2']) {
      const bundle = await generateIntermediate(root, cluster, ca);
      mkdirSync(join(caDir, cluster), { recursive: true });
      for (const [file, pem] of Object.entries(bundle)) writeFileSync(join(caDir, cluster, file), pem);
    }
    const config = { ...configOf('multi-primary'), trust: { source: 'files' as const, caDir } };
    // Two meshes built from the same files sign under the same root; a generated root is new each time.
    const rootOf = async (c: MeshConfig) => {
      const world = await worldFor(c);
      try {
        await expectInstalled(c, world.tools, await buildMeshByHand(c, world.tools));
        return (await get(world.tools, 'cluster2', [...NS, 'configmap', 'istio-ca-root-cert'])).data?.['root-cert.pem'];
      } finally {
        await world.close();
      }
    };
    const fromFiles = await rootOf(config);
    expect(await rootOf(config)).toBe(fromFiles);
    const generated = { ...config, trust: { source: 'generate' as const, ...ca } };
    expect(await rootOf(generated)).not.toBe(await rootOf(generated));
  });

  it('fails within timeouts.gatewayAddress when the east-west gateway never gets an IP, naming it', async () => {
    const base = configOf('primary-remote');
    const config = { ...base, timeouts: { ...base.timeouts, gatewayAddressMs: 1500 } };
    const world = await worldFor(config, 'none');
    try {
      const started = Date.now();
      await expect(buildMeshByHand(config, world.tools)).rejects.toThrow(/east-west gateway on cluster1 has no load-balancer IP after 2s/);
      expect(Date.now() - started).toBeLessThan(5000);
      // The caller's signal ends the wait at once.
      const abort = new AbortController();
      setTimeout(() => abort.abort(new Error('stopped by the test')), 200);
      const again = Date.now();
      await expect(buildMeshByHand(config, world.tools, { signal: abort.signal })).rejects.toThrow(/stopped by the test/);
      expect(Date.now() - again).toBeLessThan(1000);
    } finally {
      await world.close();
    }
  });

  it('waits for an address the load balancer hands out late, and goes on with it', async () => {
    const config = configOf('primary-remote');
    const world = await worldFor(config, 'ip', 1200);
    try {
      const started = Date.now();
      const report = await buildMeshByHand(config, world.tools);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1200);
      await expectInstalled(config, world.tools, report);
      // The wait is written down once, however many times it asked.
      expect(report.commands.filter((c) => /until it prints an IPv4 address/.test(c))).toHaveLength(1);
    } finally {
      await world.close();
    }
  });
});
