// Multi-primary on two networks against two real Kubernetes control planes (kwok) with a real istioctl: the
// same config shape as the examples, every step on real API servers. Runs after install.e2e.test.ts (files
// run one at a time), on the clusters it left empty.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, runIdFrom, tempDir } from '../support/cli.js';
import { readJournal } from '../support/journal.js';
import { findLeak, needlesFor } from '../support/token-scan.js';
import { apiServerOf, env, harnessClusters, istioctlPath, kubectl, kubectlJson, remoteClusters, setLoadBalancer } from './support.js';

const tmp = tempDir('mesh-run-e2e-topo-');
const db = join(tmp.dir, 'topo.db');
const outputs: string[] = [];
afterAll(() => tmp.cleanup());

async function cli(args: string[]) {
  const result = await runCli([...args, '--db', db], { env });
  outputs.push(result.stdout, result.stderr);
  return result;
}

const server = apiServerOf;
const names = (context: string, args: string[]) =>
  kubectl(context, [...args, '-o', 'name'])
    .split('\n')
    .filter(Boolean);

// The reader token a primary holds for the other cluster, as the API server returns it.
function tokenIn(holder: string, of: string): string {
  const data = kubectl(holder, ['-n', 'istio-system', 'get', 'secret', `istio-remote-secret-${of}`, '-o', `jsonpath={.data.${of}}`]);
  return /token: (\S+)/.exec(Buffer.from(data, 'base64').toString('utf8'))?.[1] ?? '';
}

describe('multi-primary multi-network on real API servers', () => {
  const config = join(tmp.dir, 'multi-primary.yaml');
  const certs = join(tmp.dir, 'certs');
  const tokens: string[] = [];

  it('installs both control planes, a gateway per network, and each primary’s secret on the other', async () => {
    setLoadBalancer('ip 0');
    writeFileSync(
      config,
      [
        'meshID: mesh1',
        'clusters:',
        `  - {name: cluster1, context: cluster1, role: primary, network: network1, apiServer: "${server('cluster1')}"}`,
        `  - {name: cluster2, context: cluster2, role: primary, network: network2, apiServer: "${server('cluster2')}"}`,
        `trust: {outputDir: "${certs}", keySize: 2048}`,
        'timeouts: {gatewayAddress: 90s, command: 4m}',
        `tools: {istioctl: ${istioctlPath()}}`,
        '',
      ].join('\n'),
    );
    const installed = await cli(['install', '--config', config]);
    expect(installed.code, installed.stderr).toBe(0);
    expect(installed.stderr).toContain('multi-primary multi-network: 2 primaries, 0 remotes, 2 networks');
    const roots: string[] = [];
    for (const [context, network, other] of [
      ['cluster1', 'network1', 'cluster2'],
      ['cluster2', 'network2', 'cluster1'],
    ] as const) {
      const ns = kubectlJson<{ metadata: { labels: Record<string, string> } }>(context, ['get', 'namespace', 'istio-system']);
      expect(ns.metadata.labels['topology.istio.io/network'], context).toBe(network);
      // A primary of a multi-primary mesh runs its own istiod, not an external one.
      const istiod = kubectlJson<{ spec: { template: { spec: { containers: Array<{ env?: Array<{ name: string; value?: string }> }> } } } }>(context, [
        '-n',
        'istio-system',
        'get',
        'deployment',
        'istiod',
      ]);
      const vars = istiod.spec.template.spec.containers.flatMap((c) => c.env ?? []);
      expect(vars.find((v) => v.name === 'EXTERNAL_ISTIOD')?.value, context).not.toBe('true');
      expect(names(context, ['-n', 'istio-system', 'get', 'deployments']), context).toContain('deployment.apps/istio-eastwestgateway');
      expect(names(context, ['-n', 'istio-system', 'get', 'gateways.networking.istio.io']), context).toEqual([
        'gateway.networking.istio.io/cross-network-gateway',
      ]);
      expect(names(context, ['-n', 'istio-system', 'get', 'secrets', '-l', 'istio/multiCluster=true']), context).toEqual([
        `secret/istio-remote-secret-${other}`,
      ]);
      const cacerts = kubectlJson<{ data: Record<string, string> }>(context, ['-n', 'istio-system', 'get', 'secret', 'cacerts']);
      roots.push(Buffer.from(cacerts.data['root-cert.pem'] ?? '', 'base64').toString());
      tokens.push(tokenIn(context, other));
    }
    // One root for both control planes; an intermediate of its own for each.
    expect(roots[0]).toBe(roots[1]);
    expect(readFileSync(join(certs, 'cluster1', 'ca-cert.pem'), 'utf8')).not.toBe(readFileSync(join(certs, 'cluster2', 'ca-cert.pem'), 'utf8'));
    for (const token of tokens) expect(token.length).toBeGreaterThan(100);
    const journal = await readJournal(db, runIdFrom(installed));
    expect(journal.run.topology).toBe('multi-primary multi-network');
  });

  it('a second install changes nothing', async () => {
    const again = await cli(['install', '--config', config]);
    expect(again.code, again.stderr).toBe(0);
    const journal = await readJournal(db, runIdFrom(again));
    // Every act was skipped or was an idempotent apply/label of what is already there.
    const creates = journal.commands.filter((c) => c.argv.includes('create') && !c.argv.includes('create-remote-secret'));
    expect(creates.map((c) => c.argv.join(' '))).toEqual([]);
  });

  it("verify: each primary's real istiod reads the other through its secret and signs with the root mesh-run plugged in", async () => {
    const verified = await cli(['verify', '--config', config]);
    // kwok's nodes run no containers: the data-plane checks stop the run, in one line.
    expect(verified.code).toBe(1);
    expect(verified.stderr).toMatch(/failed at deploy-sample@cluster[12]: the data-plane checks cannot pass on cluster[12]: its 2 nodes are simulated by kwok/);
    const journal = await readJournal(db, runIdFrom(verified));
    expect(
      journal.attempts
        .filter((a) => a.step === 'check-remote-clusters')
        .map((a) => `${a.cluster}:${a.outcome}`)
        .sort(),
    ).toEqual(['cluster1:succeeded', 'cluster2:succeeded']);
    for (const [context, other] of [
      ['cluster1', 'cluster2'],
      ['cluster2', 'cluster1'],
    ] as const) {
      expect(remoteClusters(context)).toMatch(new RegExp(`^${other}\\s+istio-system/istio-remote-secret-${other}\\s+synced\\s+istiod-`, 'm'));
      // istiod publishes the root it signs under: the one in the cacerts secret, not a self-signed one of its own.
      const published = kubectl(context, ['-n', 'istio-system', 'get', 'configmap', 'istio-ca-root-cert', '-o', 'jsonpath={.data.root-cert\\.pem}']);
      expect(published.trim()).toBe(readFileSync(join(certs, context, 'root-cert.pem'), 'utf8').trim());
    }
  });

  it('uninstall removes both secrets first, then both control planes, and leaves no Istio', async () => {
    const removed = await cli(['uninstall', '--yes', '--config', config]);
    expect(removed.code, removed.stderr).toBe(0);
    const journal = await readJournal(db, runIdFrom(removed));
    const order = journal.attempts.map((a) => `${a.step}@${a.cluster}`);
    for (const c of ['cluster1', 'cluster2'])
      expect(order.indexOf(`detach-remote@${c}`)).toBeLessThan(
        Math.min(order.indexOf('uninstall-primary@cluster1'), order.indexOf('uninstall-primary@cluster2')),
      );
    for (const context of ['cluster1', 'cluster2']) {
      expect(names(context, ['get', 'namespaces']), context).not.toContain('namespace/istio-system');
      expect(
        names(context, ['get', 'customresourcedefinitions']).filter((n) => n.endsWith('.istio.io')),
        context,
      ).toEqual([]);
    }
  });

  it('never wrote either reader token to the database or any output', async () => {
    for (const { id } of JSON.parse((await cli(['runs', '--json'])).stdout) as Array<{ id: string }>) {
      await cli(['show', id, '--json']);
      await cli(['logs', id]);
    }
    for (const token of tokens) {
      const needles = needlesFor(token);
      for (const [i, text] of outputs.entries()) expect(findLeak(text, needles), `output ${i}`).toBeUndefined();
      for (const file of [db, `${db}-wal`]) if (existsSync(file)) expect(findLeak(readFileSync(file), needles), file).toBeUndefined();
    }
  });
});

describe('a mixed fleet on real API servers: 2 primaries, 1 remote each, 2 networks', () => {
  const config = join(tmp.dir, 'fleet.yaml');
  const clusters = harnessClusters();
  // Primaries cluster1 and cluster2 on their networks; cluster3 and cluster4 are remotes, one each.
  const [p1, p2, r1, r2] = clusters;

  it('the harness brought up four clusters on two networks', () => {
    expect(clusters.map((c) => c.name)).toEqual(['cluster1', 'cluster2', 'cluster3', 'cluster4']);
    expect(new Set(clusters.map((c) => c.network)).size).toBe(2);
  });

  it('installs every cluster as its role and network ask, with every secret on every other primary', async () => {
    if (!p1 || !p2 || !r1 || !r2) throw new Error('four harness clusters expected');
    const certs = join(tmp.dir, 'fleet-certs');
    const line = (c: { name: string; network: string }, role: string, plane?: string) =>
      `  - {name: ${c.name}, context: ${c.name}, role: ${role}, network: ${c.network}, apiServer: "${server(c.name)}"${plane ? `, controlPlane: ${plane}` : ''}}`;
    writeFileSync(
      config,
      [
        'meshID: fleet',
        'clusters:',
        line(p1, 'primary'),
        line(p2, 'primary'),
        line(r1, 'remote', p1.name),
        line(r2, 'remote', p2.name),
        `trust: {outputDir: "${certs}", keySize: 2048}`,
        'timeouts: {gatewayAddress: 90s, command: 4m}',
        `tools: {istioctl: ${istioctlPath()}}`,
        '',
      ].join('\n'),
    );
    const installed = await cli(['install', '--config', config]);
    expect(installed.code, installed.stderr).toBe(0);
    expect(installed.stderr).toContain('mixed: 2 primaries, 2 remotes, 2 networks');
    for (const c of clusters) {
      const ns = kubectlJson<{ metadata: { labels: Record<string, string>; annotations?: Record<string, string> } }>(c.name, [
        'get',
        'namespace',
        'istio-system',
      ]);
      expect(ns.metadata.labels['topology.istio.io/network'], c.name).toBe(c.network);
    }
    for (const [primary, remote, other] of [
      [p1, r1, p2],
      [p2, r2, p1],
    ] as const) {
      // A primary serving a remote runs an external istiod, exposes it and its services through its gateway.
      expect(names(primary.name, ['-n', 'istio-system', 'get', 'gateways.networking.istio.io']).sort(), primary.name).toEqual([
        'gateway.networking.istio.io/cross-network-gateway',
        'gateway.networking.istio.io/istiod-gateway',
      ]);
      const held = names(primary.name, ['-n', 'istio-system', 'get', 'secrets', '-l', 'istio/multiCluster=true']).sort();
      expect(held, primary.name).toEqual([other.name, r1.name, r2.name].map((n) => `secret/istio-remote-secret-${n}`).sort());
      // The remote: annotated for its own primary, injection path with its own cluster and network.
      const ns = kubectlJson<{ metadata: { annotations: Record<string, string> } }>(remote.name, ['get', 'namespace', 'istio-system']);
      expect(ns.metadata.annotations['topology.istio.io/controlPlaneClusters']).toBe(primary.name);
      const hook = kubectlJson<{ webhooks: Array<{ clientConfig: { service?: { name: string; path?: string } } }> }>(remote.name, [
        'get',
        'mutatingwebhookconfiguration',
        'istio-sidecar-injector',
      ]);
      expect(hook.webhooks[0]?.clientConfig.service?.path).toBe(`/inject/cluster/${remote.name}/net/${remote.network}`);
      // Same network as its primary: no gateway of its own.
      expect(names(remote.name, ['-n', 'istio-system', 'get', 'deployments'])).not.toContain('deployment.apps/istio-eastwestgateway');
    }
  });

  it('a second install changes nothing, and uninstall leaves no Istio on any of the four', async () => {
    const again = await cli(['install', '--config', config]);
    expect(again.code, again.stderr).toBe(0);
    const creates = (await readJournal(db, runIdFrom(again))).commands.filter((c) => c.argv.includes('create') && !c.argv.includes('create-remote-secret'));
    expect(creates.map((c) => c.argv.join(' '))).toEqual([]);
    const removed = await cli(['uninstall', '--yes', '--config', config]);
    expect(removed.code, removed.stderr).toBe(0);
    for (const c of clusters) {
      expect(names(c.name, ['get', 'namespaces']), c.name).not.toContain('namespace/istio-system');
      expect(
        names(c.name, ['get', 'mutatingwebhookconfigurations']).filter((n) => n.includes('istio')),
        c.name,
      ).toEqual([]);
    }
  });
});
