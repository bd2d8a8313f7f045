// A canary upgrade against real Kubernetes control planes (kwok) with a real istioctl and a real istiod per
// revision: a primary-remote mesh on revision a moves to b until its first wave, whose proxy gate cannot be
// checked where kwok runs no containers; the upgrade is rolled back from there; a second upgrade (to c, with
// --skip-proxy-gate given explicitly) runs to the end and removes a. Leaves the clusters empty.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, runIdFrom, tempDir } from '../support/cli.js';
import { readJournal } from '../support/journal.js';
import { env, istioctlPath, KUBECONFIG, kubectl, kubectlJson, setLoadBalancer, writeTwoClusterMesh } from './support.js';

const tmp = tempDir('mesh-run-e2e-upgrade-');
const db = join(tmp.dir, 'upgrade.db');
afterAll(() => tmp.cleanup());

async function cli(args: string[]) {
  const result = await runCli([...args, '--db', db], { env });
  // The transcripts the closing note quotes.
  console.log(`$ mesh-run ${args.join(' ')}\n${result.stdout}${result.stderr}`);
  return result;
}

const names = (context: string, args: string[]) =>
  kubectl(context, [...args, '-o', 'name'])
    .split('\n')
    .filter(Boolean);

// The EndpointSlices istioctl's installs rendered in istio-system (the remote profile renders one per revision for
// its istiod; istioctl uninstall prunes none): labelled with their owner and owned by no Service (the EndpointSlice
// controller's slices of a Service carry its labels too, and go with it).
const istioctlSlices = (context: string) =>
  kubectlJson<{ items: Array<{ metadata: { name: string; ownerReferences?: unknown[] } }> }>(context, [
    '-n',
    'istio-system',
    'get',
    'endpointslices',
    '-l',
    'install.operator.istio.io/owning-resource',
  ])
    .items.filter((s) => !s.metadata.ownerReferences?.length)
    .map((s) => `endpointslice.discovery.k8s.io/${s.metadata.name}`)
    .sort();

// The default tag's revision on a cluster, as the real istioctl lists it.
function defaultTag(context: string): string | undefined {
  const out = execFileSync(istioctlPath(), ['tag', 'list', '-o', 'json', '--kubeconfig', KUBECONFIG, '--context', context], { encoding: 'utf8' });
  return ((JSON.parse(out || '[]') as Array<{ tag: string; revision: string }> | null) ?? []).find((t) => t.tag === 'default')?.revision;
}

// What a revision's real istiod on cluster1 says of cluster2.
function syncedBy(revision: string): string | undefined {
  const out = execFileSync(istioctlPath(), ['remote-clusters', `--revision=${revision}`, '--kubeconfig', KUBECONFIG, '--context', 'cluster1'], {
    encoding: 'utf8',
  });
  return /^cluster2\s+\S+\s+(\S+)/m.exec(out)?.[1];
}

function apply(context: string, manifest: string): void {
  execFileSync('kubectl', ['--kubeconfig', KUBECONFIG, '--context', context, 'apply', '-f', '-'], { input: manifest, stdio: ['pipe', 'ignore', 'pipe'] });
}

const waitFor = async (what: string, check: () => boolean, ms = 60_000) => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen in ${ms / 1000}s`);
    await new Promise((r) => setTimeout(r, 1000));
  }
};

describe('a canary upgrade on real API servers', () => {
  const config = join(tmp.dir, 'mesh.yaml');
  let first = '';

  it('installs revision a; an upgrade to b runs its control-plane phases for real and stops at the first wave, whose proxies kwok cannot run', async () => {
    setLoadBalancer('ip 0');
    writeTwoClusterMesh(config, 'canary', ['revision: a']);
    expect((await cli(['install', '--config', config, '-q'])).code).toBe(0);
    // A workload namespace on the remote, injected by a (kwok runs its pod without containers).
    apply(
      'cluster2',
      'apiVersion: v1\nkind: Namespace\nmetadata: {name: payments, labels: {istio.io/rev: a}}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, namespace: payments}\nspec:\n  selector: {matchLabels: {app: api}}\n  template:\n    metadata: {labels: {app: api}}\n    spec: {containers: [{name: api, image: api:1}]}\n',
    );
    await waitFor('the payments pod', () => names('cluster2', ['get', 'pods', '-n', 'payments']).length > 0);
    const tagsBefore = [defaultTag('cluster1'), defaultTag('cluster2')];

    const upgraded = await cli(['upgrade', '--mesh', 'canary', '--revision', 'b', '--wave-size', '1', '--gate-timeout', '90s']);
    first = runIdFrom(upgraded);
    expect(upgraded.code, upgraded.stderr).toBe(1);
    expect(upgraded.stderr).toContain('failed at await-wave@wave-1: the proxy gate of wave-1 cannot be checked on cluster2');
    expect(upgraded.stderr).toContain('--skip-proxy-gate');
    // Both control planes side by side; the remote's injector of b; b's real istiod reads cluster2.
    expect(names('cluster1', ['-n', 'istio-system', 'get', 'deployments'])).toEqual(
      expect.arrayContaining(['deployment.apps/istiod-a', 'deployment.apps/istiod-b']),
    );
    expect(names('cluster1', ['-n', 'istio-system', 'get', 'virtualservices'])).toContain('virtualservice.networking.istio.io/istiod-vs-b');
    const hook = kubectlJson<{ webhooks: Array<{ clientConfig: { service?: { name: string } } }> }>('cluster2', [
      'get',
      'mutatingwebhookconfiguration',
      'istio-sidecar-injector-b',
    ]);
    expect(hook.webhooks[0]?.clientConfig.service?.name).toBe('istiod-b');
    expect(syncedBy('b')).toBe('synced');
    expect(istioctlSlices('cluster2')).toEqual(['endpointslice.discovery.k8s.io/istiod-a', 'endpointslice.discovery.k8s.io/istiod-b']);
    expect(kubectlJson<{ metadata: { labels: Record<string, string> } }>('cluster2', ['get', 'namespace', 'payments']).metadata.labels['istio.io/rev']).toBe(
      'b',
    );
    // The gate never ran: nothing after the waves did either.
    expect([defaultTag('cluster1'), defaultTag('cluster2')]).toEqual(tagsBefore);
    const journal = await readJournal(db, first);
    for (const step of ['precheck-upgrade', 'install-revision', 'expose-istiod-revision', 'install-remote-revision', 'await-revision-synced', 'move-wave'])
      expect(
        journal.attempts.some((a) => a.step === step && a.outcome === 'succeeded'),
        step,
      ).toBe(true);
  }, 600_000);

  it('rolls the upgrade back from its waves phase: b removed, the namespace back on a, a still serving', async () => {
    const rolled = await cli(['upgrade', 'rollback', first]);
    expect(rolled.code, rolled.stderr).toBe(0);
    expect(names('cluster1', ['-n', 'istio-system', 'get', 'deployments'])).not.toContain('deployment.apps/istiod-b');
    expect(names('cluster1', ['-n', 'istio-system', 'get', 'virtualservices'])).not.toContain('virtualservice.networking.istio.io/istiod-vs-b');
    expect(names('cluster2', ['get', 'mutatingwebhookconfigurations'])).not.toContain(
      'mutatingwebhookconfiguration.admissionregistration.k8s.io/istio-sidecar-injector-b',
    );
    expect(kubectlJson<{ metadata: { labels: Record<string, string> } }>('cluster2', ['get', 'namespace', 'payments']).metadata.labels['istio.io/rev']).toBe(
      'a',
    );
    expect(syncedBy('a')).toBe('synced');
    expect(istioctlSlices('cluster2')).toEqual(['endpointslice.discovery.k8s.io/istiod-a']);
  }, 600_000);

  it('a second upgrade, to c with --skip-proxy-gate given, runs to the end: tags on c, a removed, c reads cluster2', async () => {
    const upgraded = await cli(['upgrade', '--mesh', 'canary', '--revision', 'c', '--skip-proxy-gate']);
    expect(upgraded.code, upgraded.stderr).toBe(0);
    expect(upgraded.stderr).toContain('--skip-proxy-gate: whether the proxies of wave-1 (cluster2/payments) connect to revision c was not checked');
    const deployments = names('cluster1', ['-n', 'istio-system', 'get', 'deployments']);
    expect(deployments).toContain('deployment.apps/istiod-c');
    expect(deployments).not.toContain('deployment.apps/istiod-a');
    expect(names('cluster2', ['get', 'mutatingwebhookconfigurations'])).not.toContain(
      'mutatingwebhookconfiguration.admissionregistration.k8s.io/istio-sidecar-injector-a',
    );
    expect([defaultTag('cluster1'), defaultTag('cluster2')]).toEqual(['c', 'c']);
    expect(syncedBy('c')).toBe('synced');
    expect(istioctlSlices('cluster2')).toEqual(['endpointslice.discovery.k8s.io/istiod-c']);
    const rollback = await cli(['upgrade', 'rollback', runIdFrom(upgraded)]);
    expect(rollback.code).toBe(3);
    expect(rollback.stderr).toContain('began removing revision a');
  }, 600_000);

  it('uninstall removes everything the upgrades left, tags included', async () => {
    execFileSync('kubectl', ['--kubeconfig', KUBECONFIG, '--context', 'cluster2', 'delete', 'namespace', 'payments', '--wait=false'], { stdio: 'ignore' });
    const removed = await cli(['uninstall', '--mesh', 'canary', '--yes', '-q']);
    expect(removed.code, removed.stderr).toBe(0);
    for (const context of ['cluster1', 'cluster2']) {
      expect(names(context, ['get', 'mutatingwebhookconfigurations']).filter((n) => n.includes('istio'))).toEqual([]);
    }
  }, 600_000);
});
