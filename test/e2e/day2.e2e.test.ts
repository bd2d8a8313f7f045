// Day 2 against real Kubernetes control planes (kwok) with a real istioctl: a primary-remote mesh grows by a
// third cluster with cluster add, shrinks back with cluster remove, and has its remote secret's token
// rotated, each a run of its own. Leaves the clusters empty, as it found them.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, runIdFrom, tempDir } from '../support/cli.js';
import { readJournal } from '../support/journal.js';
import { findLeak, needlesFor } from '../support/token-scan.js';
import { answers, apiServerOf, env, kubectl, kubectlJson, remoteClusters, setLoadBalancer, tokenIn, writeTwoClusterMesh } from './support.js';

const tmp = tempDir('mesh-run-e2e-day2-');
const db = join(tmp.dir, 'day2.db');
const outputs: string[] = [];
afterAll(() => tmp.cleanup());

async function cli(args: string[]) {
  const result = await runCli([...args, '--db', db], { env });
  outputs.push(result.stdout, result.stderr);
  return result;
}

const names = (context: string, args: string[]) =>
  kubectl(context, [...args, '-o', 'name'])
    .split('\n')
    .filter(Boolean);

describe('a living mesh on real API servers: cluster add, cluster remove, secrets rotate', () => {
  const config = join(tmp.dir, 'mesh.yaml');
  const tokens: string[] = [];

  it('installs cluster1 with remote cluster2, then cluster add brings in cluster3 with only its own steps', async () => {
    setLoadBalancer('ip 0');
    writeTwoClusterMesh(config, 'day2');
    const installed = await cli(['install', '--config', config]);
    expect(installed.code, installed.stderr).toBe(0);
    const before = kubectlJson<{ metadata: { resourceVersion: string } }>('cluster2', ['get', 'namespace', 'istio-system']).metadata.resourceVersion;

    // install's precheck runs first: cluster3's kubeconfig server is loopback, which cluster1's istiod cannot dial.
    const runsBefore = (await cli(['runs', '--json'])).stdout;
    const loopback = await cli(['cluster', 'add', '--mesh', 'day2', '--name', 'cluster3', '--context', 'cluster3']);
    expect(loopback.code, loopback.stderr).toBe(3);
    expect(loopback.stderr).toMatch(/cluster3: .*loopback/);
    expect((await cli(['runs', '--json'])).stdout).toBe(runsBefore);

    const added = await cli(['cluster', 'add', '--mesh', 'day2', '--name', 'cluster3', '--context', 'cluster3', '--api-server', apiServerOf('cluster3')]);
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toContain('cluster3 joined mesh day2: primary-remote: 1 primary, 2 remotes, 1 network');
    const journal = await readJournal(db, runIdFrom(added));
    expect(journal.attempts.map((a) => `${a.step}@${a.cluster}`)).toEqual([
      'preflight@*',
      'read-discovery-address@cluster1',
      'create-remote-namespace@cluster3',
      'annotate-remote-namespace@cluster3',
      'install-remote@cluster3',
      'attach-remote@cluster3',
    ]);
    // cluster2 was not touched at all; cluster3 is a remote of cluster1 as the page makes one.
    expect(journal.commands.filter((c) => c.context === 'cluster2')).toEqual([]);
    expect(kubectlJson<{ metadata: { resourceVersion: string } }>('cluster2', ['get', 'namespace', 'istio-system']).metadata.resourceVersion).toBe(before);
    const ns = kubectlJson<{ metadata: { annotations: Record<string, string> } }>('cluster3', ['get', 'namespace', 'istio-system']);
    expect(ns.metadata.annotations['topology.istio.io/controlPlaneClusters']).toBe('cluster1');
    expect(names('cluster3', ['get', 'mutatingwebhookconfigurations'])).toContain(
      'mutatingwebhookconfiguration.admissionregistration.k8s.io/istio-sidecar-injector',
    );
    expect(names('cluster1', ['-n', 'istio-system', 'get', 'secrets', '-l', 'istio/multiCluster=true']).sort()).toEqual([
      'secret/istio-remote-secret-cluster2',
      'secret/istio-remote-secret-cluster3',
    ]);
    const kubeconfig = Buffer.from(
      kubectl('cluster1', ['-n', 'istio-system', 'get', 'secret', 'istio-remote-secret-cluster3', '-o', 'jsonpath={.data.cluster3}']),
      'base64',
    ).toString('utf8');
    expect(kubeconfig).toContain(`server: ${apiServerOf('cluster3')}`);
    tokens.push(tokenIn('cluster1', 'cluster2'), tokenIn('cluster1', 'cluster3'));

    const shown = await cli(['mesh', 'show', 'day2', '-o', 'json']);
    expect(shown.code, shown.stderr).toBe(0);
    expect((JSON.parse(shown.stdout) as { mesh: { clusters: Array<{ name: string }> } }).mesh.clusters.map((c) => c.name)).toEqual([
      'cluster1',
      'cluster2',
      'cluster3',
    ]);
  });

  it('cluster remove takes cluster3 out: its secret off cluster1 first, then its Istio; the rest stays', async () => {
    const removed = await cli(['cluster', 'remove', '--mesh', 'day2', '--name', 'cluster3', '--yes']);
    expect(removed.code, removed.stderr).toBe(0);
    const journal = await readJournal(db, runIdFrom(removed));
    const order = journal.commands.map((c) => c.argv.join(' '));
    const detach = order.findIndex((c) => c.includes('delete secret istio-remote-secret-cluster3'));
    const purge = order.findIndex((c) => c.includes('uninstall') && c.includes('--purge'));
    expect(detach).toBeGreaterThanOrEqual(0);
    expect(purge).toBeGreaterThan(detach);
    expect(names('cluster3', ['get', 'namespaces'])).not.toContain('namespace/istio-system');
    expect(names('cluster3', ['get', 'mutatingwebhookconfigurations']).filter((n) => n.includes('istio'))).toEqual([]);
    expect(names('cluster1', ['-n', 'istio-system', 'get', 'secrets', '-l', 'istio/multiCluster=true'])).toEqual(['secret/istio-remote-secret-cluster2']);
    expect(names('cluster2', ['get', 'mutatingwebhookconfigurations'])).toContain(
      'mutatingwebhookconfiguration.admissionregistration.k8s.io/istio-sidecar-injector',
    );

    const refused = await cli(['cluster', 'remove', '--mesh', 'day2', '--name', 'cluster1', '--yes']);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain("cluster1 is the mesh's last primary");
    const meshes = JSON.parse((await cli(['meshes', '-o', 'json'])).stdout) as Array<{
      name: string;
      clusters: Array<{ name: string }>;
      runs: Array<{ kind: string }>;
    }>;
    const mesh = meshes.find((m) => m.name === 'day2');
    expect(mesh?.clusters.map((c) => c.name)).toEqual(['cluster1', 'cluster2']);
    expect(mesh?.runs.map((r) => r.kind)).toEqual(['install', 'cluster-add', 'cluster-remove']);
  });

  it('secrets rotate swaps a new token in on cluster1, the real istiod syncs cluster2 with it, and the old one is revoked and refused', async () => {
    const old = tokenIn('cluster1', 'cluster2');
    expect(answers('cluster2', old)).toBe('accepted');
    // The sync gate asks the harness's real istiod (istioctl remote-clusters through kwok's port-forward).
    const rotated = await cli(['secrets', 'rotate', '--mesh', 'day2']);
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(rotated.stdout).not.toContain('istiod sync not checked');
    const fresh = tokenIn('cluster1', 'cluster2');
    tokens.push(old, fresh);
    expect(fresh).not.toBe(old);
    expect(answers('cluster2', old)).toBe('refused');
    expect(answers('cluster2', fresh)).toBe('accepted');
    expect(remoteClusters('cluster1')).toMatch(/^cluster2\s+\S+\s+synced/m);
    const journal = await readJournal(db, runIdFrom(rotated));
    expect(journal.attempts.map((a) => `${a.step}@${a.cluster}:${a.outcome}`)).toEqual([
      'preflight@*:succeeded',
      'mint-token@cluster2:succeeded',
      'swap-secret@cluster2:succeeded',
      'await-synced@cluster2:succeeded',
      'revoke-token@cluster2:succeeded',
    ]);
    expect(journal.events.map((e) => e.detail ?? '').join('\n')).toMatch(
      /old token [0-9a-f]{12} \(secret istio-reader-service-account-istio-remote-secret-token\) deleted on cluster2; its API server refuses it/,
    );

    // --skip-sync-gate still skips the gate, and says so.
    const skipped = await cli(['secrets', 'rotate', '--mesh', 'day2', '--skip-sync-gate']);
    expect(skipped.code, skipped.stderr).toBe(0);
    expect(skipped.stdout).toContain('(istiod sync not checked: --skip-sync-gate)');
    expect(skipped.stderr).toContain('--skip-sync-gate: whether istiod on cluster1 reads cluster2 with the new token was not checked');
    const newest = tokenIn('cluster1', 'cluster2');
    tokens.push(newest);
    expect(answers('cluster2', fresh)).toBe('refused');
    expect(answers('cluster2', newest)).toBe('accepted');
  });

  it('uninstall --mesh removes what is left, and no reader token reached the database or any output', async () => {
    const removed = await cli(['uninstall', '--mesh', 'day2', '--yes']);
    expect(removed.code, removed.stderr).toBe(0);
    for (const context of ['cluster1', 'cluster2', 'cluster3']) expect(names(context, ['get', 'namespaces']), context).not.toContain('namespace/istio-system');
    expect(tokens.every((t) => t.length > 100)).toBe(true);
    const runs = JSON.parse((await cli(['runs', '--json'])).stdout) as Array<{ id: string }>;
    for (const { id } of runs)
      for (const args of [
        ['show', id, '--json'],
        ['logs', id],
      ])
        await cli(args);
    await cli(['history', '--json']);
    for (const token of tokens) {
      // The signature is what makes a token a credential; its header and claims name public things (the secret's name).
      const needles = needlesFor(token.split('.')[2] ?? token);
      for (const [i, text] of outputs.entries()) expect(findLeak(text, needles), `output ${i}`).toBeUndefined();
      for (const file of [db, `${db}-wal`]) if (existsSync(file)) expect(findLeak(readFileSync(file), needles), file).toBeUndefined();
    }
  });
});
