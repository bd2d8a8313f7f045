// mesh-run drift: a journal mesh against its clusters now. Each example is installed once on simulated clusters
// and found without drift (exit 0); then each case copies that journal (and its simulated world), changes the
// clusters as an operator, a cleanup script or a GitOps prune would, and the check must name the drift's kind
// and cluster and exit 5. A cluster that does not answer exits 3; tokens reach no output. An adopted mesh (built
// by hand, as Istio's pages build it) is checked the same way.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { readWorld, writeWorld } from '../adapters/simulator/world.js';
import { compareMesh, type DriftItem } from '../engine/activities/drift.js';
import type { DriftFacts } from '../engine/activities/drift-reads.js';
import { openStore } from '../engine/composition.js';
import { loadConfig } from '../engine/config/mesh-config.js';
import { parseStoreLocation } from '../store/location.js';
import { runIdFrom, tempDir } from './support/cli.js';
import { runCli } from './support/cli-here.js';
import { copyDb } from './support/crash-resume.js';
import { copyExamples } from './support/examples.js';
import { readJournal } from './support/journal.js';
import { expectNoLeak, tokenEnv, withToken } from './support/secret-leaks.js';
import { setSimLoadBalancer, simCommand } from './support/sim.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const examples = join(tmp.dir, 'examples');
copyExamples(examples);
const FAST = ['--dry-run', '--sim-lb-delay', '0', '-q'];
const env = tokenEnv;

interface Report {
  ok: boolean;
  mesh: string;
  drift: DriftItem[];
  unreadable: Array<{ cluster: string; error: string }>;
}

interface Mesh {
  db: string;
  world: string;
}

// `example` installed on simulated clusters handing out the test's token, once per file.
async function install(example: string): Promise<Mesh> {
  const db = join(tmp.dir, `${example}.db`);
  const result = await runCli(['install', ...FAST, '-c', join(examples, `${example}.yaml`), '--db', db], { env });
  expect(result.code, result.stderr).toBe(0);
  return { db, world: (await readJournal(db, runIdFrom(result))).run.simWorld };
}

// A copy of a mesh's journal and world, for one case to change.
let copies = 0;
function copyOf(mesh: Mesh): Mesh {
  const db = join(tmp.dir, `case-${++copies}.db`);
  copyDb(mesh.db, db);
  return { db, world: mesh.world };
}

const outputs: string[] = [];

async function drift(mesh: Mesh, format = 'json'): Promise<{ code: number; report: Report; stdout: string }> {
  const result = await runCli(['drift', '--mesh', 'mesh1', '--db', mesh.db, '-o', format], { env });
  outputs.push(result.stdout, result.stderr);
  return { code: result.code ?? -1, report: format === 'json' ? (JSON.parse(result.stdout) as Report) : ({} as Report), stdout: result.stdout };
}

const found = (r: Report) => r.drift.map((d) => `${d.kind}@${d.cluster}`);

// kubectl on a simulated cluster of the mesh, as an operator would type it.
async function kubectl(mesh: Mesh, context: string, args: string[], stdin?: string): Promise<string> {
  const result = await withToken(() => simCommand(mesh.db, mesh.world, context, args, stdin !== undefined ? { stdin } : {}));
  expect(result.exitCode, `kubectl ${args.join(' ')}: ${result.stderr}`).toBe(0);
  return result.stdout;
}

const json = async (mesh: Mesh, context: string, args: string[]) =>
  JSON.parse(await kubectl(mesh, context, [...args, '-o', 'json'])) as Record<string, unknown>;
const b64 = (text: string) => Buffer.from(text).toString('base64');
const unb64 = (text: string) => Buffer.from(text, 'base64').toString('utf8');

// The remote secret for cluster2 on cluster1, its kubeconfig changed by `edit` (read and written in this test only).
interface Kubeconfig {
  clusters: Array<{ cluster: { server: string } }>;
  users: Array<{ user: Record<string, unknown> }>;
}
async function editRemoteSecret(mesh: Mesh, edit: (kubeconfig: Kubeconfig) => void): Promise<void> {
  const secret = (await json(mesh, 'cluster1', ['get', 'secret', 'istio-remote-secret-cluster2', '-n', 'istio-system'])) as { data: Record<string, string> };
  const kubeconfig = parse(unb64(secret.data.cluster2 as string)) as Kubeconfig;
  edit(kubeconfig);
  secret.data.cluster2 = b64(stringify(kubeconfig));
  await kubectl(mesh, 'cluster1', ['apply', '--server-side', '-f', '-'], JSON.stringify(secret));
}

// One case: a copy of `base`, changed by `change`; the check must find exactly `expected` and exit 5.
async function expectDrift(base: () => Mesh, change: (mesh: Mesh) => Promise<void>, expected: string[]): Promise<Report> {
  const mesh = copyOf(base());
  await change(mesh);
  const { code, report } = await drift(mesh);
  expect(found(report), JSON.stringify(report.drift, null, 2)).toEqual(expected);
  expect(code).toBe(5);
  expect(report.ok).toBe(false);
  for (const d of report.drift) for (const field of [d.what, d.why, d.repair]) expect(field.length).toBeGreaterThan(10);
  return report;
}

describe('mesh-run drift on a primary-remote mesh (cluster1 primary, cluster2 its remote, one network)', () => {
  let mesh: Mesh;
  const base = () => mesh;
  beforeAll(async () => {
    mesh = await install('primary-remote');
  });

  it('finds no drift on the mesh as installed (exit 0), in every format', async () => {
    const clean = await drift(mesh);
    expect(clean.code, clean.stdout).toBe(0);
    expect(clean.report).toMatchObject({ ok: true, mesh: 'mesh1', drift: [], unreadable: [] });
    const text = await drift(mesh, 'text');
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('no drift');
    const yaml = await runCli(['drift', '--mesh', 'mesh1', '--db', mesh.db, '-o', 'yaml'], { env });
    expect(yaml.code).toBe(0);
    expect(parse(yaml.stdout)).toMatchObject({ ok: true, drift: [] });
  });

  it('a remote secret deleted on the primary: remote-secret-missing, with the command that writes it again', async () => {
    const report = await expectDrift(
      base,
      (m) => kubectl(m, 'cluster1', ['-n', 'istio-system', 'delete', 'secret', 'istio-remote-secret-cluster2']).then(() => {}),
      ['remote-secret-missing@cluster1'],
    );
    expect(report.drift[0]?.repair).toBe(
      'istioctl create-remote-secret --context=cluster2 --name=cluster2 | kubectl apply --server-side --context=cluster1 -f -',
    );
  });

  it('a remote secret for a cluster that is not a member: remote-secret-stale', async () => {
    const ghost = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'istio-remote-secret-ghost', namespace: 'istio-system', labels: { 'istio/multiCluster': 'true' } },
      data: { ghost: b64(stringify({ clusters: [{ name: 'ghost', cluster: { server: 'https://10.99.0.1:6443' } }], users: [{ name: 'ghost', user: {} }] })) },
    };
    const report = await expectDrift(base, (m) => kubectl(m, 'cluster1', ['apply', '-f', '-'], JSON.stringify(ghost)).then(() => {}), [
      'remote-secret-stale@cluster1',
    ]);
    expect(report.drift[0]?.repair).toBe('kubectl delete secret istio-remote-secret-ghost -n istio-system --context=cluster1');
  });

  it("a remote secret dialling another server than the member's: remote-secret-server", async () => {
    await expectDrift(
      base,
      (m) =>
        editRemoteSecret(m, (k) => {
          (k.clusters[0] as Kubeconfig['clusters'][number]).cluster.server = 'https://10.77.0.1:6443';
        }),
      ['remote-secret-server@cluster1'],
    );
  });

  it("the secret's token revoked on the remote: remote-secret-token (probed in memory), and the token is in no output", async () => {
    const report = await expectDrift(
      base,
      (m) => kubectl(m, 'cluster2', ['-n', 'istio-system', 'delete', 'secret', 'istio-reader-service-account-istio-remote-secret-token']).then(() => {}),
      ['remote-secret-token@cluster1'],
    );
    expect(report.drift[0]?.repair).toBe('mesh-run secrets rotate --mesh mesh1 --cluster cluster2');
  });

  it('a secret istiod cannot use (no bearer token any more): istiod-unsynced, with why', async () => {
    const report = await expectDrift(
      base,
      (m) =>
        editRemoteSecret(m, (k) => {
          (k.users[0] as Kubeconfig['users'][number]).user = { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'aws' } };
        }),
      ['istiod-unsynced@cluster1'],
    );
    expect(report.drift[0]?.what).toBe('istiod on cluster1 does not see cluster2 synced (timeout)');
    expect(report.drift[0]?.why).toContain('carries no bearer token');
  });

  it('the remote annotation removed or naming another cluster: control-plane-annotation', async () => {
    const ns = ['namespace', 'istio-system'];
    await expectDrift(base, (m) => kubectl(m, 'cluster2', ['annotate', ...ns, 'topology.istio.io/controlPlaneClusters-']).then(() => {}), [
      'control-plane-annotation@cluster2',
    ]);
    const report = await expectDrift(
      base,
      (m) => kubectl(m, 'cluster2', ['annotate', ...ns, 'topology.istio.io/controlPlaneClusters=cluster9', '--overwrite']).then(() => {}),
      ['control-plane-annotation@cluster2'],
    );
    expect(report.drift[0]?.what).toContain('names cluster9');
  });

  it("a remote's injector with an empty caBundle (its primary no longer in charge): injector-ca-empty", async () => {
    await expectDrift(
      base,
      async (m) => {
        await kubectl(m, 'cluster2', ['annotate', 'namespace', 'istio-system', 'topology.istio.io/controlPlaneClusters-']);
        const hook = (await json(m, 'cluster2', ['get', 'mutatingwebhookconfiguration', 'istio-sidecar-injector'])) as {
          webhooks: Array<{ clientConfig: { caBundle?: string } }>;
        };
        for (const w of hook.webhooks) w.clientConfig.caBundle = '';
        await kubectl(m, 'cluster2', ['apply', '--server-side', '-f', '-'], JSON.stringify(hook));
      },
      ['control-plane-annotation@cluster2', 'injector-ca-empty@cluster2'],
    );
  });

  it('a network label changed on a one-network mesh: network-label', async () => {
    await expectDrift(base, (m) => kubectl(m, 'cluster2', ['label', 'namespace', 'istio-system', 'topology.istio.io/network=network9']).then(() => {}), [
      'network-label@cluster2',
    ]);
  });

  it("the east-west gateway's load balancer re-provisioned: the remote points at the old address (gateway-address)", async () => {
    const report = await expectDrift(base, (m) => setSimLoadBalancer(m.db, m.world, 'hostname'), ['gateway-address@cluster2']);
    expect(report.drift[0]?.repair).toMatch(/remotePilotAddress=\S+/);
  });

  it('the east-west gateway deleted: east-west-gateway on the primary', async () => {
    await expectDrift(base, (m) => kubectl(m, 'cluster1', ['-n', 'istio-system', 'delete', 'service', 'istio-eastwestgateway']).then(() => {}), [
      'east-west-gateway@cluster1',
    ]);
  });

  it('the istiod expose Gateway, or its VirtualService, deleted: expose-istiod', async () => {
    await expectDrift(base, (m) => kubectl(m, 'cluster1', ['-n', 'istio-system', 'delete', 'gateway.networking.istio.io', 'istiod-gateway']).then(() => {}), [
      'expose-istiod@cluster1',
    ]);
    const report = await expectDrift(
      base,
      (m) => kubectl(m, 'cluster1', ['-n', 'istio-system', 'delete', 'virtualservice.networking.istio.io', 'istiod-vs']).then(() => {}),
      ['expose-istiod@cluster1'],
    );
    expect(report.drift[0]?.what).toContain('no VirtualService on cluster1 routes port 15012 of Gateway istiod-gateway');
  });

  it('the default revision tag moved to another revision: default-tag', async () => {
    const tag = {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingWebhookConfiguration',
      metadata: { name: 'istio-revision-tag-default', labels: { 'istio.io/tag': 'default', 'istio.io/rev': 'canary' } },
      webhooks: [{ name: 'rev.namespace.sidecar-injector.istio.io', clientConfig: { service: { name: 'istiod-canary', namespace: 'istio-system' } } }],
    };
    const report = await expectDrift(base, (m) => kubectl(m, 'cluster1', ['apply', '-f', '-'], JSON.stringify(tag)).then(() => {}), ['default-tag@cluster1']);
    expect(report.drift[0]?.what).toContain('points at revision canary');
    // What repair-tag runs on a mesh without a revision of its own, and when it needs --force.
    expect(report.drift[0]?.repair).toContain(
      '--only default-tag (--force when no mesh-run upgrade made the tag), which runs istioctl tag remove default -y --context=cluster1',
    );
  });

  it("istiod relabelled to another revision: revision (not the journal's)", async () => {
    await expectDrift(
      base,
      (m) => kubectl(m, 'cluster1', ['-n', 'istio-system', 'label', 'deployment', 'istiod', 'istio.io/rev=canary', '--overwrite']).then(() => {}),
      ['revision@cluster1'],
    );
  });

  it("istiod's cluster name changed in its Deployment: istiod-identity", async () => {
    const report = await expectDrift(
      base,
      async (m) => {
        const istiod = (await json(m, 'cluster1', ['-n', 'istio-system', 'get', 'deployment', 'istiod'])) as {
          spec: { template: { spec: { containers: Array<{ env?: Array<{ name: string; value: string }> }> } } };
        };
        for (const c of istiod.spec.template.spec.containers) for (const e of c.env ?? []) if (e.name === 'CLUSTER_ID') e.value = 'clusterX';
        await kubectl(m, 'cluster1', ['apply', '--server-side', '-f', '-'], JSON.stringify(istiod));
      },
      ['istiod-identity@cluster1'],
    );
    expect(report.drift[0]?.what).toContain('clusterName clusterX (journal: cluster1)');
  });

  it('istiod deleted: istio-missing', async () => {
    await expectDrift(base, (m) => kubectl(m, 'cluster1', ['-n', 'istio-system', 'delete', 'deployment', 'istiod']).then(() => {}), ['istio-missing@cluster1']);
  });

  it('a cluster that does not answer: exit 3 naming it, and what drifted on the others is still listed', async () => {
    const m = copyOf(mesh);
    await kubectl(m, 'cluster1', ['-n', 'istio-system', 'delete', 'gateway.networking.istio.io', 'istiod-gateway']);
    const store = await openStore(parseStoreLocation(m.db, 'test'), 'existing');
    try {
      const settings = await readWorld(store.worlds, m.world);
      if (!settings) throw new Error('no world');
      await writeWorld(store.worlds, m.world, {
        ...settings,
        contexts: settings.contexts.map((c) => (c.name === 'cluster2' ? { ...c, unreachable: true } : c)),
      });
    } finally {
      await store.close();
    }
    const { code, report } = await drift(m);
    expect(code).toBe(3);
    expect(report.unreadable.map((u) => u.cluster)).toEqual(['cluster2']);
    expect(report.unreadable[0]?.error).toMatch(/i\/o timeout/);
    expect(found(report)).toEqual(['expose-istiod@cluster1']);
    const text = await drift(m, 'text');
    expect(text.code).toBe(3);
    expect(text.stdout).toContain('the check is incomplete: cluster2 could not be read');
  });

  it('prints what, why and repair for people, one drift to three lines', async () => {
    const m = copyOf(mesh);
    await kubectl(m, 'cluster1', ['-n', 'istio-system', 'delete', 'secret', 'istio-remote-secret-cluster2']);
    const text = await drift(m, 'text');
    expect(text.code).toBe(5);
    expect(text.stdout).toMatch(
      /✖ remote-secret-missing cluster1: cluster1 holds no remote secret for cluster2 .*\n {4}why: .+\n {4}repair: istioctl create-remote-secret/,
    );
    expect(text.stdout).toContain('1 drift found');
  });

  it('refuses bad input with exit 2 and an unknown mesh with exit 4', async () => {
    const none = await runCli(['drift', '--db', mesh.db]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('--mesh');
    const format = await runCli(['drift', '--mesh', 'mesh1', '--db', mesh.db, '-o', 'csv']);
    expect(format.code).toBe(2);
    const unknown = await runCli(['drift', '--mesh', 'nosuch', '--db', mesh.db]);
    expect(unknown.code).toBe(4);
    expect(unknown.stderr).toContain('no mesh "nosuch"');
  });
});

describe('mesh-run drift on a multi-primary multi-network mesh (a common root, a network each)', () => {
  let mesh: Mesh;
  const base = () => mesh;
  beforeAll(async () => {
    mesh = await install('multi-primary-multi-network');
  });

  it('finds no drift as installed', async () => {
    const { code, report } = await drift(mesh);
    expect(report.drift).toEqual([]);
    expect(code).toBe(0);
  });

  it('a network label removed: network-label', async () => {
    await expectDrift(base, (m) => kubectl(m, 'cluster2', ['label', 'namespace', 'istio-system', 'topology.istio.io/network-']).then(() => {}), [
      'network-label@cluster2',
    ]);
  });

  it('the cross-network Gateway pruned: expose-services', async () => {
    await expectDrift(
      base,
      (m) => kubectl(m, 'cluster1', ['-n', 'istio-system', 'delete', 'gateway.networking.istio.io', 'cross-network-gateway']).then(() => {}),
      ['expose-services@cluster1'],
    );
  });

  it("one primary's remote secret deleted: remote-secret-missing on that primary only", async () => {
    await expectDrift(base, (m) => kubectl(m, 'cluster2', ['-n', 'istio-system', 'delete', 'secret', 'istio-remote-secret-cluster1']).then(() => {}), [
      'remote-secret-missing@cluster2',
    ]);
  });

  it('cacerts deleted on a primary: cacerts-missing', async () => {
    await expectDrift(base, (m) => kubectl(m, 'cluster2', ['-n', 'istio-system', 'delete', 'secret', 'cacerts']).then(() => {}), ['cacerts-missing@cluster2']);
  });

  it('cacerts replaced on a primary and istiod restarted: cacerts-changed and roots-differ', async () => {
    const report = await expectDrift(
      base,
      async (m) => {
        const cacerts = (await json(m, 'cluster2', ['-n', 'istio-system', 'get', 'secret', 'cacerts'])) as { data: Record<string, string> };
        cacerts.data['root-cert.pem'] = b64('-----BEGIN CERTIFICATE-----\nanother root\n-----END CERTIFICATE-----\n');
        await kubectl(m, 'cluster2', ['-n', 'istio-system', 'delete', 'secret', 'cacerts']);
        await kubectl(m, 'cluster2', ['create', '-f', '-'], JSON.stringify({ ...cacerts, metadata: { name: 'cacerts', namespace: 'istio-system' } }));
        await kubectl(m, 'cluster2', ['-n', 'istio-system', 'rollout', 'restart', 'deployment/istiod']);
      },
      ['cacerts-changed@cluster2', 'roots-differ@cluster2'],
    );
    expect(report.drift[1]?.what).toMatch(/cluster2 signs under root [0-9a-f]{12}, the other primaries \(cluster1\) under [0-9a-f]{12}/);
  });
});

describe('mesh-run drift on an adopted mesh (built by hand, as Istio pages build it)', () => {
  it('finds no drift once adopted, then the expose Gateway the samples named deleted: expose-istiod', async () => {
    const db = join(tmp.dir, 'adopted.db');
    const adopted = await runCli(['mesh', 'adopt', '--name', 'mesh1', '--dry-run', '-q', '-c', join(examples, 'primary-remote.yaml'), '--db', db], { env });
    expect(adopted.code, adopted.stderr).toBe(0);
    const mesh = { db, world: (await readJournal(db, runIdFrom(adopted))).run.simWorld };
    const clean = await drift(mesh);
    expect(clean.report.drift).toEqual([]);
    expect(clean.code).toBe(0);
    await kubectl(mesh, 'cluster1', ['-n', 'istio-system', 'delete', 'gateway.networking.istio.io', 'istiod-gateway']);
    const { code, report } = await drift(mesh);
    expect(found(report)).toEqual(['expose-istiod@cluster1']);
    expect(code).toBe(5);
  });
});

describe('no token in any output', () => {
  it('every drift output above is free of the token and its encodings, and so is every journal', () => {
    expect(outputs.length).toBeGreaterThan(20);
    for (const [i, out] of outputs.entries()) expectNoLeak(`output ${i}`, out);
    for (let n = 1; n <= copies; n++) {
      const db = join(tmp.dir, `case-${n}.db`);
      for (const file of [db, `${db}-wal`]) if (existsSync(file)) expectNoLeak(file, readFileSync(file));
    }
  });
});

// The comparison alone, on facts as clusters would show them: expose objects are matched by what they do.
describe('what drift compares (pure)', () => {
  const config = loadConfig(join(examples, 'primary-remote.yaml'), {}).config;
  const gateway = (name: string, selector: Record<string, string>, port = 15012) => ({ name, selector, servers: [{ port, mode: 'PASSTHROUGH' }] });
  const route = (gateways: string[], host = 'istiod.istio-system.svc.cluster.local') => ({ name: 'istiod-routes', gateways, routes: [{ port: 15012, host }] });
  function facts(over: Partial<DriftFacts> = {}): DriftFacts[] {
    const primary: DriftFacts = {
      name: 'cluster1',
      context: 'cluster1',
      istioSystem: true,
      istiods: [{ name: 'istiod', revision: 'default', meshID: 'mesh1', clusterId: 'cluster1', network: 'network1', externalIstiod: true }],
      injectors: [{ name: 'istio-sidecar-injector', revision: 'default', caBundle: true }],
      revisionTags: [],
      remoteSecrets: [{ name: 'istio-remote-secret-cluster2', clusters: ['cluster2'], server: 'https://10.11.0.1:6443' }],
      cacerts: false,
      eastWestGateway: { address: '172.18.0.10' },
      exposedAddresses: ['172.18.0.10'],
      sync: { cluster1: 'synced', cluster2: 'synced' },
      gateways: [gateway('my-istiod-gw', { istio: 'eastwestgateway' })],
      virtualServices: [route(['istio-system/my-istiod-gw'])],
      ...over,
    };
    const remote: DriftFacts = {
      name: 'cluster2',
      context: 'cluster2',
      istioSystem: true,
      istiods: [],
      injectors: [{ name: 'istio-sidecar-injector', revision: 'default', caBundle: true }],
      revisionTags: [],
      remoteSecrets: [],
      cacerts: false,
      controlPlaneClusters: ['cluster1'],
      controlPlaneAddresses: ['172.18.0.10'],
    };
    return [primary, remote];
  }
  const kinds = (fs: DriftFacts[]) => compareMesh({ config, cacerts: new Set() }, fs).items.map((i) => `${i.kind}@${i.cluster}`);

  it('expose objects under other names count by what they select and route', () => {
    expect(kinds(facts())).toEqual([]);
  });

  it('a Gateway named as the samples name it, but on another gateway, does not expose istiod', () => {
    expect(kinds(facts({ gateways: [gateway('istiod-gateway', { istio: 'ingressgateway' })], virtualServices: [route(['istiod-gateway'])] }))).toEqual([
      'expose-istiod@cluster1',
    ]);
  });

  it("a VirtualService routing 15012 to another revision's istiod is named", () => {
    const items = compareMesh(
      { config, cacerts: new Set() },
      facts({ virtualServices: [route(['my-istiod-gw'], 'istiod-old.istio-system.svc.cluster.local')] }),
    ).items;
    expect(items.map((i) => i.kind)).toEqual(['expose-istiod']);
    expect(items[0]?.what).toContain('(istiod-routes routes it to istiod-old.istio-system.svc.cluster.local)');
  });

  it('istiod unsynced with an accepted token: restart istiod; with an unreachable server: write the secret again', () => {
    const accepted = compareMesh(
      { config, cacerts: new Set() },
      facts({ sync: { cluster2: 'timeout' }, tokens: { cluster2: { verdict: 'accepted', server: 'https://10.11.0.1:6443' } } }),
    ).items;
    expect(accepted.map((i) => i.kind)).toEqual(['istiod-unsynced']);
    expect(accepted[0]?.repair).toBe('kubectl rollout restart deployment/istiod -n istio-system --context=cluster1');
    const unreachable = compareMesh(
      { config, cacerts: new Set() },
      facts({ sync: {}, tokens: { cluster2: { verdict: 'unreachable', server: 'https://10.11.0.1:6443', detail: 'i/o timeout' } } }),
    ).items;
    expect(unreachable[0]?.what).toBe('istiod on cluster1 does not see cluster2 synced (missing)');
    expect(unreachable[0]?.repair).toContain('istioctl create-remote-secret --context=cluster2 --name=cluster2');
  });

  it('meshID and network of istiod changed: one istiod-identity item naming both', () => {
    const istiods = [{ name: 'istiod', revision: 'default', meshID: 'other', clusterId: 'cluster1', network: 'net9', externalIstiod: true }];
    const items = compareMesh({ config, cacerts: new Set() }, facts({ istiods })).items;
    expect(items.map((i) => i.kind)).toEqual(['istiod-identity']);
    expect(items[0]?.what).toBe('istiod on cluster1 runs with meshID other (journal: mesh1), network net9 (journal: network1)');
  });

  it('cacerts the journal saw, now gone: cacerts-missing; a cluster that was not read is no drift', () => {
    expect(compareMesh({ config, cacerts: new Set(['cluster1']) }, facts()).items.map((i) => i.kind)).toEqual(['cacerts-missing']);
    const [primary] = facts();
    const result = compareMesh({ config, cacerts: new Set() }, [primary as DriftFacts, { ...(facts()[1] as DriftFacts), error: 'i/o timeout' }]);
    expect(result.items).toEqual([]);
    expect(result.unreadable).toEqual([{ cluster: 'cluster2', context: 'cluster2', error: 'i/o timeout' }]);
  });
});
