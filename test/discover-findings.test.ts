// mesh-run mesh discover: every finding it can report, each from hand-made facts (deriveMesh is pure) with its
// counterpart that must not report it, and, where the simulator can show it, end to end: a mesh installed on
// simulated clusters, changed as an operator would, then discovered through the CLI. What a cluster shows of
// its installer, its root and its control plane's address is read here too. No token reaches an output or the
// store on any of these paths.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { deriveMesh } from '../engine/activities/discovered-mesh.js';
import { addressesOf, exposedAddresses, rootFingerprint } from '../engine/activities/discovery-reads.js';
import { sourceOf } from '../engine/activities/install-source.js';
import { primaryOperator } from '../engine/activities/manifests.js';
import type { ClusterFacts } from '../engine/activities/mesh-discovery.js';
import { generateRoot } from '../engine/activities/trust/ca.js';
import { fingerprint } from '../engine/activities/trust/ca-files.js';
import { loadConfig } from '../engine/config/mesh-config.js';
import { runIdFrom, tempDir } from './support/cli.js';
import { runCli } from './support/cli-here.js';
import { copyExamples } from './support/examples.js';
import { readJournal } from './support/journal.js';
import { NEEDLES, tokenEnv, withToken } from './support/secret-leaks.js';
import { type SimHarness, setSimLoadBalancer, simCommand, simHarness } from './support/sim.js';
import { findLeak } from './support/token-scan.js';

// Facts as a cluster would show them; each test changes what it is about.
function facts(name: string, over: Partial<ClusterFacts> = {}): ClusterFacts {
  return { name, context: name, istioSystem: true, istiods: [], injectors: [], revisionTags: [], remoteSecrets: [], cacerts: true, ...over };
}
const istiod = (meshID: string, revision = 'default') => [{ name: 'istiod', revision, meshID, network: 'network1', externalIstiod: true }];
const secret = (cluster: string, server = 'https://10.0.0.9:6443') => ({ name: `istio-remote-secret-${cluster}`, clusters: [cluster], server });
const injector = [{ name: 'istio-sidecar-injector', revision: 'default' }];
const messages = (fs: ClusterFacts[]) => deriveMesh(fs).findings.map((f) => `${f.level}: ${f.message}`);
const ROOT_A = 'a'.repeat(12) + '0'.repeat(52);
const ROOT_B = 'b'.repeat(12) + '0'.repeat(52);
// Two primaries that read each other (a multi-primary mesh).
const pair = (a: Partial<ClusterFacts> = {}, b: Partial<ClusterFacts> = {}) => [
  facts('a', { istiods: istiod('m'), remoteSecrets: [secret('b')], ...a }),
  facts('b', { istiods: istiod('m'), remoteSecrets: [secret('a')], ...b }),
];

describe('what discovery finds wrong, from facts', () => {
  it('a cluster that cannot be read, and one with no Istio', () => {
    expect(messages([facts('p', { istiods: istiod('m') }), facts('x', { error: 'Unable to connect to the server' })])).toEqual([
      'blocking: cluster x: cannot be read: Unable to connect to the server',
    ]);
    expect(messages([facts('p', { istiods: istiod('m') }), facts('c', { istioSystem: false })])).toEqual([
      'blocking: cluster c: no Istio (no istiod, no remote profile, no istio-system)',
    ]);
    expect(messages([facts('p', { istiods: istiod('m') }), facts('c')])).toEqual(['blocking: cluster c: no Istio (no istiod, no remote profile)']);
  });

  it('a remote naming a control plane that is not given, and one no given primary serves', () => {
    expect(
      messages([facts('p', { istiods: istiod('m'), remoteSecrets: [secret('r')] }), facts('r', { injectors: injector, controlPlaneClusters: ['q'] })]),
    ).toEqual(['blocking: remote r: names q as its control plane, which is not among the given primaries']);
    expect(messages([facts('p', { istiods: istiod('m') }), facts('r', { injectors: injector })])).toEqual([
      'blocking: remote r: no primary among the given clusters serves it (no controlPlaneClusters annotation, no primary holds its secret)',
    ]);
    // Served: the annotation's primary holds its secret.
    expect(
      messages([facts('p', { istiods: istiod('m'), remoteSecrets: [secret('r')] }), facts('r', { injectors: injector, controlPlaneClusters: ['p'] })]),
    ).toEqual([]);
  });

  it('a remote claimed by two primaries, and one whose primary holds no secret for it', () => {
    const both = pair({ remoteSecrets: [secret('r'), secret('b')] }, { remoteSecrets: [secret('r'), secret('a')] });
    expect(messages([...both, facts('r', { injectors: injector })])).toEqual(['blocking: remote r: claimed by 2 primaries (a, b, by their remote secrets)']);
    expect(messages([facts('p', { istiods: istiod('m') }), facts('r', { injectors: injector, controlPlaneClusters: ['p'] })])).toEqual([
      'blocking: remote r: its primary p holds no secret for it',
    ]);
  });

  it("a primary's remote secrets: for a cluster not given, dialling a loopback, none for the other primary", () => {
    expect(messages([facts('p', { istiods: istiod('m'), remoteSecrets: [secret('r'), secret('ghost')] }), facts('r', { injectors: injector })])).toEqual([
      'blocking: primary p: remote secret istio-remote-secret-ghost is for cluster ghost, which is not among the given clusters',
    ]);
    expect(
      messages([facts('p', { istiods: istiod('m'), remoteSecrets: [secret('r', 'https://127.0.0.1:6443')] }), facts('r', { injectors: injector })]),
    ).toEqual(["warning: primary p: remote secret istio-remote-secret-r dials https://127.0.0.1:6443, the primary pod's own loopback"]);
    expect(messages(pair({}, { remoteSecrets: [] }))).toEqual(["warning: primary b: holds no secret for primary a; its istiod does not see a's endpoints"]);
    expect(messages(pair())).toEqual([]);
  });

  it('primaries that differ in meshID or revision', () => {
    expect(messages(pair({ istiods: istiod('m1') }, { istiods: istiod('m2') }))).toEqual(['blocking: the primaries differ in meshID: m1 on a; m2 on b']);
    expect(messages(pair({}, { istiods: istiod('m', 'canary') }))).toEqual([
      'warning: the primaries run different revisions (default, canary): an upgrade in progress?',
    ]);
  });

  it('roots of trust: two roots, one root without cacerts, and primaries without cacerts whose roots are not published', () => {
    const two = deriveMesh(pair({ root: ROOT_A }, { root: ROOT_B }));
    expect(two.findings.map((f) => `${f.level}: ${f.message}`)).toEqual([
      `blocking: two roots: the primaries sign under different roots of trust (SHA-256 a ${ROOT_A.slice(0, 12)}; b ${ROOT_B.slice(0, 12)}); their workloads' mTLS fails`,
    ]);
    expect(two.findings[0]?.hint).toContain('Plug in CA Certificates');
    expect(two.clusters.map((c) => c.root)).toEqual([ROOT_A, ROOT_B]);
    // Three primaries: those under one root are named together.
    const third = (root: string) => facts('c', { istiods: istiod('m'), root, remoteSecrets: [secret('a'), secret('b')] });
    const ab = pair({ root: ROOT_A, remoteSecrets: [secret('b'), secret('c')] }, { root: ROOT_B, remoteSecrets: [secret('a'), secret('c')] });
    expect(messages([...ab, third('c'.repeat(64))])).toEqual([
      `blocking: 3 roots: the primaries sign under different roots of trust (SHA-256 a ${'a'.repeat(12)}; b ${'b'.repeat(12)}; c ${'c'.repeat(12)}); their workloads' mTLS fails`,
    ]);
    expect(messages([...ab, third(ROOT_B)])).toEqual([
      `blocking: two roots: the primaries sign under different roots of trust (SHA-256 a ${'a'.repeat(12)}; b, c ${'b'.repeat(12)}); their workloads' mTLS fails`,
    ]);
    // One root everywhere: fine with cacerts, a warning without (the shared CA is istiod's own secret), and the
    // config names a caDir either way, so config check takes the multi-primary mesh.
    const shared = deriveMesh(pair({ root: ROOT_A }, { root: ROOT_A }));
    expect(shared.findings).toEqual([]);
    expect(shared.config.trust).toEqual({ caDir: './certs' });
    const own = deriveMesh(pair({ root: ROOT_A, cacerts: false }, { root: ROOT_A, cacerts: false }));
    expect(own.findings.map((f) => `${f.level}: ${f.message}`)).toEqual([
      `warning: primaries without cacerts (a, b) sign under the mesh's one root ${ROOT_A.slice(0, 12)}, kept in istiod's own CA secret rather than cacerts`,
    ]);
    expect(own.config.trust).toEqual({ caDir: './certs' });
    // Roots not published: judged by cacerts, as before fingerprints.
    expect(messages(pair({ cacerts: false }))).toEqual(["blocking: primaries without cacerts (a) sign with istiod's own root: 2 primaries need one"]);
    expect(messages(pair({ root: ROOT_A, cacerts: false }))).toEqual([
      "blocking: primaries without cacerts (a) sign with istiod's own root: 2 primaries need one",
    ]);
    expect(deriveMesh(pair({ cacerts: false })).config.trust).toBeUndefined();
    // A single primary signs under its own root with nobody to disagree.
    expect(messages([facts('p', { istiods: istiod('m'), cacerts: false, root: ROOT_A })])).toEqual([]);
  });
});

describe('installers, control plane addresses and API servers, from facts', () => {
  const helm = { kind: 'helm' as const, name: 'istiod', namespace: 'istio-system' };
  const istioctl = { kind: 'istioctl' as const, name: 'installed-state' };

  it('clusters installed by different tools: a warning naming each tool', () => {
    const report = deriveMesh(pair({ source: istioctl }, { source: helm }));
    expect(report.findings.map((f) => `${f.level}: ${f.message}`)).toEqual([
      'warning: the clusters were installed by different tools: istioctl on a; helm on b',
    ]);
    expect(report.clusters.map((c) => c.source)).toEqual([istioctl, helm]);
    // The same tool, whatever each IstioOperator is called (mesh-run names the primary's and the remote's apart).
    expect(messages(pair({ source: istioctl }, { source: { kind: 'istioctl', name: 'other' } }))).toEqual([]);
    expect(
      messages([
        facts('p', { istiods: istiod('m'), remoteSecrets: [secret('r')], source: { kind: 'mesh-run', name: 'mesh-run-primary' } }),
        facts('r', { injectors: injector, source: { kind: 'manifests' } }),
      ]),
    ).toEqual(['warning: the clusters were installed by different tools: mesh-run on p; manifests on r']);
    // A cluster with no Istio has no installer to differ by.
    expect(messages([...pair({ source: helm }, { source: helm }), facts('c', { istioSystem: false })])).toEqual([
      'blocking: cluster c: no Istio (no istiod, no remote profile, no istio-system)',
    ]);
  });

  it('a remote whose control plane address is not where its primary is exposed (now)', () => {
    const primary = (over: Partial<ClusterFacts>) => facts('p', { istiods: istiod('m'), remoteSecrets: [secret('r')], ...over });
    const remote = facts('r', { injectors: injector, controlPlaneClusters: ['p'], controlPlaneAddresses: ['172.18.1.205'] });
    const moved = deriveMesh([primary({ eastWestGateway: { address: '172.18.1.7' }, exposedAddresses: ['172.18.1.7'] }), remote]);
    expect(moved.findings.map((f) => `${f.level}: ${f.message}`)).toEqual([
      'blocking: remote r: its control plane address 172.18.1.205 is not the east-west gateway address of its primary p (now 172.18.1.7)',
    ]);
    expect(moved.findings[0]?.hint).toContain('values.global.remotePilotAddress=172.18.1.7');
    expect(moved.clusters.find((c) => c.name === 'r')?.controlPlaneAddresses).toEqual(['172.18.1.205']);
    expect(messages([primary({ eastWestGateway: {}, exposedAddresses: [] }), remote])).toEqual([
      'blocking: remote r: its control plane address 172.18.1.205 is not the east-west gateway address of its primary p (now its east-west gateway has no address yet)',
    ]);
    expect(messages([primary({ exposedAddresses: [] }), remote])).toEqual([
      'blocking: remote r: its control plane address 172.18.1.205 is not the east-west gateway address of its primary p (now it has no east-west gateway)',
    ]);
    // Where the gateway is, or where an istiod load balancer of the install is: fine (hostnames in any case).
    expect(messages([primary({ eastWestGateway: { address: '172.18.1.205' }, exposedAddresses: ['172.18.1.205'] }), remote])).toEqual([]);
    expect(messages([primary({ eastWestGateway: { address: 'gw.example' }, exposedAddresses: ['gw.example', '172.18.1.205'] }), remote])).toEqual([]);
    const named = facts('r', { injectors: injector, controlPlaneClusters: ['p'], controlPlaneAddresses: ['gw.example'] });
    expect(messages([primary({ eastWestGateway: { address: 'GW.example' }, exposedAddresses: ['GW.example'] }), named])).toEqual([]);
    // Facts that do not say (an older reader): nothing to compare.
    expect(messages([primary({ eastWestGateway: { address: '172.18.1.7' } }), remote])).toEqual([]);
  });

  it("a cluster whose remote secrets dial another API server than its kube context: the config's apiServer", () => {
    const remote = facts('r', { injectors: injector, controlPlaneClusters: ['p'], contextServer: 'https://127.0.0.1:40001' });
    const dialled = deriveMesh([facts('p', { istiods: istiod('m'), remoteSecrets: [secret('r', 'https://172.18.0.3:6443')] }), remote]);
    expect(dialled.findings).toEqual([]);
    expect(dialled.config.clusters.find((c) => c.name === 'r')).toEqual({
      name: 'r',
      context: 'r',
      role: 'remote',
      network: 'network1',
      controlPlane: 'p',
      apiServer: 'https://172.18.0.3:6443',
    });
    expect(dialled.clusters.find((c) => c.name === 'r')?.apiServer).toBe('https://172.18.0.3:6443');
    // The same server (a trailing slash aside), a loopback one, or a context not read: nothing to write.
    for (const server of ['https://127.0.0.1:40001/', 'https://127.0.0.1:40002']) {
      const same = deriveMesh([facts('p', { istiods: istiod('m'), remoteSecrets: [secret('r', server)] }), remote]);
      expect(same.config.clusters.find((c) => c.name === 'r')?.apiServer, server).toBeUndefined();
    }
    const unread = deriveMesh([
      facts('p', { istiods: istiod('m'), remoteSecrets: [secret('r')] }),
      facts('r', { injectors: injector, controlPlaneClusters: ['p'] }),
    ]);
    expect(unread.config.clusters.find((c) => c.name === 'r')?.apiServer).toBeUndefined();
  });

  it('primaries whose remote secrets dial one cluster at different API servers: a warning, the most dialled kept', () => {
    const holder = (name: string, server: string) =>
      facts(name, { istiods: istiod('m'), remoteSecrets: [secret('r', server), ...['a', 'b', 'c'].filter((n) => n !== name).map((n) => secret(n))] });
    const report = deriveMesh([
      holder('a', 'https://10.1.0.1:6443'),
      holder('b', 'https://10.2.0.2:6443'),
      holder('c', 'https://10.2.0.2:6443'),
      facts('r', { injectors: injector, controlPlaneClusters: ['a'], contextServer: 'https://10.9.9.9:6443' }),
    ]);
    expect(report.findings.map((f) => `${f.level}: ${f.message}`)).toEqual([
      "warning: cluster r: the primaries' remote secrets dial it at different API servers (https://10.1.0.1:6443 from a; https://10.2.0.2:6443 from b, c)",
    ]);
    expect(report.findings[0]?.hint).toContain('the config keeps https://10.2.0.2:6443');
    expect(report.config.clusters.find((c) => c.name === 'r')?.apiServer).toBe('https://10.2.0.2:6443');
  });
});

describe('what discovery reads from the objects', () => {
  const labelled = (labels: Record<string, string>, annotations: Record<string, string> = {}) => ({ metadata: { labels, annotations } });

  it("tells an object's installer by its labels and annotations", () => {
    const owner = 'install.operator.istio.io/owning-resource';
    const helmed = { 'app.kubernetes.io/managed-by': 'Helm' };
    const release = { 'meta.helm.sh/release-name': 'istiod', 'meta.helm.sh/release-namespace': 'istio-system' };
    expect(sourceOf(labelled({ [owner]: 'installed-state' }))).toEqual({ kind: 'istioctl', name: 'installed-state' });
    expect(sourceOf(labelled({ [owner]: 'mesh-run-primary-canary' }))).toEqual({ kind: 'mesh-run', name: 'mesh-run-primary-canary' });
    expect(sourceOf(labelled(helmed, release))).toEqual({ kind: 'helm', name: 'istiod', namespace: 'istio-system' });
    // istioctl renders Istio's charts (managed-by=Helm may come along): its own label decides.
    expect(sourceOf(labelled({ ...helmed, [owner]: 'installed-state' }, release))).toEqual({ kind: 'istioctl', name: 'installed-state' });
    // "helm template | kubectl apply": the chart's label without the release the helm client records.
    expect(sourceOf(labelled(helmed))).toEqual({ kind: 'manifests' });
    expect(sourceOf(labelled({}, release))).toEqual({ kind: 'manifests' });
    expect(sourceOf(undefined)).toEqual({ kind: 'manifests' });
  });

  it("fingerprints a published root: a certificate by its DER (as mesh-run's cacerts annotation), other text as text", async () => {
    const root = await generateRoot({ keySize: 2048, rootDays: 1, intermediateDays: 1 });
    expect(rootFingerprint(root.certPem)).toBe(fingerprint(root.certPem));
    expect(rootFingerprint(`\n${root.certPem}${root.certPem}`)).toBe(fingerprint(root.certPem));
    expect(rootFingerprint('self-signed:cluster1')).toBe(createHash('sha256').update('self-signed:cluster1').digest('hex'));
    expect(rootFingerprint('self-signed:cluster1')).not.toBe(rootFingerprint('self-signed:cluster2'));
    expect(rootFingerprint('  \n')).toBeUndefined();
  });

  it('reads where a remote looks for its control plane, and where a primary is exposed', () => {
    const svc = (name: string, spec: Record<string, unknown>, ingress: Array<{ ip?: string; hostname?: string }> = []) => ({
      metadata: { name },
      spec,
      status: { loadBalancer: { ingress } },
    });
    const slice = (service: string, addresses: string[]) => ({
      metadata: { name: `${service}-x`, labels: { 'kubernetes.io/service-name': service } },
      endpoints: [{ addresses }],
    });
    expect(addressesOf([svc('istiod', { type: 'ClusterIP' })], [slice('istiod', ['172.18.1.205']), slice('other', ['10.0.0.1'])], [])).toEqual([
      '172.18.1.205',
    ]);
    expect(addressesOf([svc('istiod-canary', { type: 'ExternalName', externalName: 'GW.example.com' })], [], [])).toEqual(['gw.example.com']);
    const hook = { metadata: { name: 'istio-sidecar-injector' }, webhooks: [{ clientConfig: { url: 'https://[fd00::5]:15017/inject/cluster/r/net/n' } }] };
    expect(addressesOf([], [], [hook])).toEqual(['fd00::5']);
    const services = [
      svc('istio-eastwestgateway', { type: 'LoadBalancer' }, [{ ip: '172.18.1.205' }, { hostname: 'gw.example' }]),
      svc('istiod', { type: 'LoadBalancer' }, [{ ip: '172.18.1.9' }]),
      svc('istio-ingressgateway', { type: 'LoadBalancer' }, [{ ip: '172.18.1.3' }]),
    ];
    expect(exposedAddresses(services)).toEqual(['172.18.1.205', 'gw.example', '172.18.1.9']);
  });
});

describe("the simulated istiod's published root (istio-ca-root-cert)", () => {
  let h: SimHarness | undefined;
  afterAll(async () => h?.close());

  it('is its own self-signed root per cluster, and follows cacerts once istiod restarts', async () => {
    h = await simHarness();
    const sim = h;
    const root = async (context: string) =>
      (
        await sim.run('kubectl', [
          `--context=${context}`,
          '-n',
          'istio-system',
          'get',
          'configmap',
          'istio-ca-root-cert',
          '-o',
          'jsonpath={.data.root-cert\\.pem}',
        ])
      ).stdout;
    for (const context of ['cluster1', 'cluster2']) {
      const installed = await sim.run(
        'istioctl',
        ['install', `--context=${context}`, '-y', '-f', '-'],
        primaryOperator(context, { meshID: 'm', network: 'n' }, false),
      );
      expect(installed.exitCode, installed.stderr).toBe(0);
    }
    const own = [await root('cluster1'), await root('cluster2')];
    expect(own[0]).not.toBe('');
    expect(own[0]).not.toBe(own[1]);
    const cacerts = `apiVersion: v1\nkind: Secret\nmetadata: {name: cacerts, namespace: istio-system}\nstringData: {root-cert.pem: one common root}\n`;
    for (const context of ['cluster1', 'cluster2']) expect((await sim.run('kubectl', [`--context=${context}`, 'create', '-f', '-'], cacerts)).exitCode).toBe(0);
    // istiod reads cacerts when it starts: until then it keeps publishing the root it started with.
    expect(await root('cluster1')).toBe(own[0]);
    for (const context of ['cluster1', 'cluster2'])
      expect((await sim.run('kubectl', [`--context=${context}`, '-n', 'istio-system', 'rollout', 'restart', 'deployment/istiod'])).exitCode).toBe(0);
    const common = await root('cluster1');
    expect(common).not.toBe(own[0]);
    expect(await root('cluster2')).toBe(common);
  });
});

// End to end: a mesh installed on simulated clusters (the remote secret's token pinned), changed as an operator
// would, then discovered through the CLI.
describe('what discovery finds wrong on simulated clusters', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());
  const examples = join(tmp.dir, 'examples');
  copyExamples(examples);
  const outputs: string[] = [];
  const dbs: string[] = [];

  async function installed(name: string, config: string): Promise<{ db: string; world: string }> {
    const db = join(tmp.dir, `${name}.db`);
    dbs.push(db);
    const result = await runCli(['install', '--dry-run', '--sim-lb-delay', '0', '-q', '-c', config, '--db', db], { env: tokenEnv });
    expect(result.code, result.stderr).toBe(0);
    return { db, world: (await readJournal(db, runIdFrom(result))).run.simWorld as string };
  }
  async function discover(db: string, meshID: string, format?: 'json' | 'yaml') {
    const result = await runCli(['mesh', 'discover', '--mesh', meshID, '--db', db, ...(format ? ['-o', format] : [])], { env: tokenEnv });
    outputs.push(result.stdout + result.stderr);
    return result;
  }
  const kubectl = async (db: string, world: string, context: string, args: string[]) => {
    const result = await withToken(() => simCommand(db, world, context, args));
    expect(result.exitCode, result.stderr).toBe(0);
  };
  type Json = {
    clusters: Array<{
      name: string;
      source?: { kind: string; name?: string };
      root?: string;
      controlPlaneAddresses?: string[];
      apiServer?: string;
      eastWestGateway?: { address?: string };
      remoteSecrets: Array<{ clusters: string[]; server: string }>;
    }>;
  };
  const byName = (stdout: string) => new Map((JSON.parse(stdout) as Json).clusters.map((c) => [c.name, c]));

  it("names each cluster's installer, and warns when one mesh was installed by different tools", async () => {
    const { db, world } = await installed('sources', join(examples, 'primary-remote.yaml'));
    const clean = await discover(db, 'mesh1', 'json');
    expect(clean.code, clean.stderr).toBe(0);
    const before = byName(clean.stdout);
    expect(before.get('cluster1')?.source).toEqual({ kind: 'mesh-run', name: 'mesh-run-primary' });
    expect(before.get('cluster2')?.source).toEqual({ kind: 'mesh-run', name: 'mesh-run-remote' });
    // The primary's Istio now owned by another IstioOperator; the remote's injector by a Helm release.
    await kubectl(db, world, 'cluster1', [
      '-n',
      'istio-system',
      'label',
      'deployment',
      'istiod',
      'install.operator.istio.io/owning-resource=installed-state',
      '--overwrite',
    ]);
    const hook = ['mutatingwebhookconfiguration', 'istio-sidecar-injector'];
    await kubectl(db, world, 'cluster2', ['label', ...hook, 'install.operator.istio.io/owning-resource-', 'app.kubernetes.io/managed-by=Helm']);
    await kubectl(db, world, 'cluster2', ['annotate', ...hook, 'meta.helm.sh/release-name=istiod-remote', 'meta.helm.sh/release-namespace=istio-system']);
    const text = await discover(db, 'mesh1');
    expect(text.code, text.stdout).toBe(0);
    expect(text.stdout).toMatch(/SOURCE/);
    expect(text.stdout).toMatch(/cluster1 .* istioctl:installed-state /);
    expect(text.stdout).toMatch(/cluster2 .* helm:istio-system\/istiod-remote /);
    expect(text.stdout).toContain('! the clusters were installed by different tools: istioctl on cluster1; helm on cluster2');
    const json = byName((await discover(db, 'mesh1', 'json')).stdout);
    expect(json.get('cluster2')?.source).toEqual({ kind: 'helm', name: 'istiod-remote', namespace: 'istio-system' });
  });

  it('two roots: a primary whose istiod restarted without the common cacerts (exit 3), naming each fingerprint', async () => {
    const { db, world } = await installed('roots', join(examples, 'multi-primary.yaml'));
    const clean = await discover(db, 'mesh1', 'json');
    expect(clean.code, clean.stderr).toBe(0);
    const shared = byName(clean.stdout);
    const root = shared.get('cluster1')?.root;
    expect(root).toMatch(/^[0-9a-f]{64}$/);
    expect(shared.get('cluster2')?.root).toBe(root);
    // cacerts removed from cluster2 and its istiod restarted: it signs with a root of its own.
    await kubectl(db, world, 'cluster2', ['-n', 'istio-system', 'delete', 'secret', 'cacerts']);
    await kubectl(db, world, 'cluster2', ['-n', 'istio-system', 'rollout', 'restart', 'deployment/istiod']);
    const split = await discover(db, 'mesh1', 'json');
    expect(split.code).toBe(3);
    const own = byName(split.stdout).get('cluster2')?.root as string;
    expect(own).toMatch(/^[0-9a-f]{64}$/);
    expect(own).not.toBe(root);
    expect(byName(split.stdout).get('cluster1')?.root).toBe(root);
    const text = await discover(db, 'mesh1');
    expect(text.code).toBe(3);
    expect(text.stdout).toContain(
      `✖ two roots: the primaries sign under different roots of trust (SHA-256 cluster1 ${root?.slice(0, 12)}; cluster2 ${own.slice(0, 12)}); their workloads' mTLS fails`,
    );
    expect(text.stdout).toContain('hint: plug in a common root (Istio "Plug in CA Certificates"');
    // Not also "without cacerts": the fingerprints say what differs.
    expect(text.stdout).not.toContain('primaries without cacerts');
  });

  it("a remote whose primary's east-west gateway moved to another address (exit 3), and a config without it otherwise", async () => {
    const { db, world } = await installed('moved', join(examples, 'primary-remote.yaml'));
    const clean = byName((await discover(db, 'mesh1', 'json')).stdout);
    const old = clean.get('cluster1')?.eastWestGateway?.address as string;
    expect(old).toMatch(/^172\.18\.1\.\d+$/);
    expect(clean.get('cluster2')?.controlPlaneAddresses).toEqual([old]);
    // The load balancer re-provisioned: the gateway is now at a hostname, the remote still dials the old IP.
    await setSimLoadBalancer(db, world, 'hostname');
    const moved = await discover(db, 'mesh1');
    expect(moved.code).toBe(3);
    const now = /cluster1 .* (a[0-9a-f]{24}-\d+\.us-east-1\.elb\.amazonaws\.com) /.exec(moved.stdout)?.[1];
    expect(now, moved.stdout).toBeDefined();
    expect(moved.stdout).toContain(
      `✖ remote cluster2: its control plane address ${old} is not the east-west gateway address of its primary cluster1 (now ${now})`,
    );
    expect(moved.stdout).toContain(`hint: re-point it: install cluster2's remote profile again with values.global.remotePilotAddress=${now}`);
    const yaml = await discover(db, 'mesh1', 'yaml');
    expect(yaml.code).toBe(3);
    expect(yaml.stderr).toContain('blocking: remote cluster2: its control plane address');
  });

  it("writes the API server a remote secret dials as the cluster's apiServer, and config check accepts it", async () => {
    const config = join(tmp.dir, 'api-server.yaml');
    writeFileSync(
      config,
      readFileSync(join(examples, 'primary-remote.yaml'), 'utf8').replace('# apiServer: https://10.0.0.12:6443', 'apiServer: https://10.99.0.7:6443'),
    );
    const { db } = await installed('api-server', config);
    const json = await discover(db, 'mesh1', 'json');
    expect(json.code, json.stderr).toBe(0);
    expect(byName(json.stdout).get('cluster2')?.apiServer).toBe('https://10.99.0.7:6443');
    // The primary's context server is what its kubeconfig says: nothing to write for it.
    expect(byName(json.stdout).get('cluster1')?.apiServer).toBeUndefined();
    const yaml = await discover(db, 'mesh1', 'yaml');
    expect(yaml.code, yaml.stderr).toBe(0);
    const written = join(tmp.dir, 'api-server-discovered.yaml');
    writeFileSync(written, yaml.stdout);
    const check = await runCli(['config', 'check', '-c', written]);
    expect(check.code, check.stdout + check.stderr).toBe(0);
    const clusters = loadConfig(written, {}).config.clusters.map((c) => [c.name, c.role, c.apiServer ?? null]);
    expect(clusters).toEqual([
      ['cluster1', 'primary', null],
      ['cluster2', 'remote', 'https://10.99.0.7:6443'],
    ]);
  });

  // A remote secret for `source` dialling `server`, made by (simulated) istioctl and applied on `holder`; the
  // token it carries passes through this test only.
  async function secretDialling(db: string, world: string, source: string, holder: string, server: string) {
    const made = await withToken(() =>
      simCommand(db, world, source, ['create-remote-secret', `--name=${source}`, `--server=${server}`, '-n', 'istio-system'], { tool: 'istioctl' }),
    );
    expect(made.exitCode, made.stderr).toBe(0);
    const applied = await withToken(() => simCommand(db, world, holder, ['apply', '-f', '-'], { stdin: made.stdout }));
    expect(applied.exitCode, applied.stderr).toBe(0);
  }
  const found = async (db: string, meshID: string, code: number, message: string) => {
    const result = await discover(db, meshID);
    expect(result.code, result.stdout).toBe(code);
    expect(result.stdout).toContain(message);
  };

  it("a primary's remote secrets: one for a cluster not given, one dialling a loopback; a remote naming a stranger, one nobody serves, one purged", async () => {
    const { db, world } = await installed('secrets', join(examples, 'primary-remote.yaml'));
    const ghost = 'apiVersion: v1\nkind: Secret\nmetadata: {name: istio-remote-secret-ghost, namespace: istio-system, labels: {istio/multiCluster: "true"}}\n';
    await withToken(() => simCommand(db, world, 'cluster1', ['create', '-f', '-'], { stdin: ghost }));
    await found(db, 'mesh1', 3, '✖ primary cluster1: remote secret istio-remote-secret-ghost is for cluster ghost, which is not among the given clusters');
    await kubectl(db, world, 'cluster1', ['-n', 'istio-system', 'delete', 'secret', 'istio-remote-secret-ghost']);
    await secretDialling(db, world, 'cluster2', 'cluster1', 'https://127.0.0.1:6443');
    await found(db, 'mesh1', 0, "! primary cluster1: remote secret istio-remote-secret-cluster2 dials https://127.0.0.1:6443, the primary pod's own loopback");
    const annotation = 'topology.istio.io/controlPlaneClusters';
    await kubectl(db, world, 'cluster2', ['annotate', 'namespace', 'istio-system', `${annotation}=elsewhere`, '--overwrite']);
    await found(db, 'mesh1', 3, '✖ remote cluster2: names elsewhere as its control plane, which is not among the given primaries');
    await kubectl(db, world, 'cluster2', ['annotate', 'namespace', 'istio-system', `${annotation}-`]);
    await kubectl(db, world, 'cluster1', ['-n', 'istio-system', 'delete', 'secret', 'istio-remote-secret-cluster2']);
    await found(
      db,
      'mesh1',
      3,
      '✖ remote cluster2: no primary among the given clusters serves it (no controlPlaneClusters annotation, no primary holds its secret)',
    );
    // The remote's Istio purged, and its istio-system gone with it.
    const purged = await withToken(() => simCommand(db, world, 'cluster2', ['uninstall', '--purge', '-y'], { tool: 'istioctl' }));
    expect(purged.exitCode, purged.stderr).toBe(0);
    await kubectl(db, world, 'cluster2', ['delete', 'namespace', 'istio-system']);
    await found(db, 'mesh1', 3, '✖ cluster cluster2: no Istio (no istiod, no remote profile, no istio-system)');
  });

  it('primaries: one that does not read the other, then one reinstalled with another meshID or revision', async () => {
    const { db, world } = await installed('primaries', join(examples, 'multi-primary.yaml'));
    await kubectl(db, world, 'cluster2', ['-n', 'istio-system', 'delete', 'secret', 'istio-remote-secret-cluster1']);
    await found(db, 'mesh1', 0, "! primary cluster2: holds no secret for primary cluster1; its istiod does not see cluster1's endpoints");
    const reinstall = (meshID: string, revision?: string) =>
      withToken(() =>
        simCommand(db, world, 'cluster2', ['install', '-y', '-f', '-'], {
          tool: 'istioctl',
          stdin: primaryOperator('cluster2', { meshID, network: 'network1', ...(revision ? { revision } : {}) }, false),
        }),
      );
    expect((await reinstall('other')).exitCode).toBe(0);
    await found(db, 'mesh1', 3, '✖ the primaries differ in meshID: mesh1 on cluster1; other on cluster2');
    // A canary control plane beside the default one, then the default one removed: an upgrade half done.
    expect((await reinstall('mesh1', 'canary')).exitCode).toBe(0);
    const removed = await withToken(() => simCommand(db, world, 'cluster2', ['uninstall', '--revision', 'default', '-y'], { tool: 'istioctl' }));
    expect(removed.exitCode, removed.stderr).toBe(0);
    await found(db, 'mesh1', 0, '! the primaries run different revisions (default, canary): an upgrade in progress?');
  });

  it('a mixed fleet: a remote annotated with two primaries, and primaries dialling one remote at different API servers', async () => {
    const { db, world } = await installed('fleet', join(examples, 'mixed-fleet.yaml'));
    const holders = byName((await discover(db, 'fleet', 'json')).stdout);
    const dialling = (primary: string) => holders.get(primary)?.remoteSecrets.find((s) => s.clusters.includes('east-2'))?.server;
    // Both primaries read east-2 (east-1 serves it), at the server its context names.
    const server = dialling('east-1');
    expect(server).toMatch(/^https:\/\//);
    expect(dialling('west-1')).toBe(server);
    await secretDialling(db, world, 'east-2', 'west-1', 'https://10.99.0.1:6443');
    const json = await discover(db, 'fleet', 'json');
    expect((JSON.parse(json.stdout) as { findings: Array<{ message: string }> }).findings.map((f) => f.message)).toContain(
      `cluster east-2: the primaries' remote secrets dial it at different API servers (${server} from east-1; https://10.99.0.1:6443 from west-1)`,
    );
    await kubectl(db, world, 'east-2', ['annotate', 'namespace', 'istio-system', 'topology.istio.io/controlPlaneClusters=east-1,west-1', '--overwrite']);
    await found(db, 'fleet', 3, '✖ remote east-2: claimed by 2 primaries (east-1, west-1, by its controlPlaneClusters annotation)');
  });

  // Runs last: every output of every discovery above, and every byte of the stores.
  it('let no token reach an output or the store', () => {
    expect(outputs.length).toBeGreaterThan(0);
    for (const out of outputs) expect(findLeak(out, NEEDLES)).toBeUndefined();
    for (const db of dbs)
      for (const file of [db, `${db}-wal`, `${db}-shm`]) if (existsSync(file)) expect(findLeak(readFileSync(file), NEEDLES), file).toBeUndefined();
  });
});
