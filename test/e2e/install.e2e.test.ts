// mesh-run against two real Kubernetes control planes (kwok) with a real istioctl.
// Runs in order: each test builds on the clusters the previous one left.
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processState } from '../../adapters/processes.js';
import { runCli, runIdFrom, startCli, tempDir } from '../support/cli.js';
import { peek, readJournal } from '../support/journal.js';
import { findLeak, needlesFor } from '../support/token-scan.js';
import { applyRemoteSecretClientSide, env, istioctlPath, kubectl, kubectlJson, remoteClusters, setLoadBalancer, writeConfig } from './support.js';

const tmp = tempDir('mesh-run-e2e-test-');
const db = join(tmp.dir, 'e2e.db');
const outputs: string[] = [];
let config = '';
let token = '';
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';
afterAll(() => tmp.cleanup());
// The same mesh, with verify giving istiod 20 s (the broken-secret tests wait that long for a sync that never comes).
const shortVerify = () => join(tmp.dir, 'short-verify.yaml');

async function cli(args: string[]) {
  const result = await runCli([...args, '--db', db], { env });
  outputs.push(result.stdout, result.stderr);
  return result;
}

// A verb that opens no store (precheck).
async function storeless(args: string[]) {
  const result = await runCli(args, { env });
  outputs.push(result.stdout, result.stderr);
  return result;
}

interface Deployment {
  metadata: { uid: string };
  status?: { readyReplicas?: number };
}

describe('primary-remote on real API servers', () => {
  beforeAll(() => {
    config = writeConfig(tmp.dir);
    // A namespace on the current context must not redirect the remote secret (istio/istio#49780).
    kubectl('cluster1', ['config', 'set-context', 'cluster1', '--namespace=default']);
  });

  it('fails at the gateway when the load balancer gives only a hostname, and resumes once it gives an IP', async () => {
    setLoadBalancer('hostname 0');
    const failed = await cli(['install', '--config', config]);
    expect(failed.code, failed.stderr).toBe(1);
    expect(failed.stderr).toContain('failed at await-gateway-address@cluster1');
    expect(failed.stderr).toContain('EKS');
    const id = runIdFrom(failed);
    // The operator fixes the load balancer and checks it before resuming.
    setLoadBalancer('ip 0');
    const deadline = Date.now() + 30_000;
    while (
      !kubectl('cluster1', ['-n', 'istio-system', 'get', 'service', 'istio-eastwestgateway', '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}']).trim()
    ) {
      if (Date.now() > deadline) throw new Error('the load-balancer stand-in never gave an IP');
      await new Promise((r) => setTimeout(r, 200));
    }
    const resumed = await cli(['resume', id]);
    expect(resumed.code, resumed.stderr).toBe(0);
  });

  it('left the objects the Istio page creates', () => {
    for (const name of ['istiod', 'istio-eastwestgateway']) {
      const deployment = kubectlJson<Deployment>('cluster1', ['-n', 'istio-system', 'get', 'deployment', name]);
      expect(deployment.status?.readyReplicas, name).toBeGreaterThanOrEqual(1);
    }
    const svc = kubectlJson<{ status: { loadBalancer: { ingress: Array<{ ip: string }> } } }>('cluster1', [
      '-n',
      'istio-system',
      'get',
      'service',
      'istio-eastwestgateway',
    ]);
    const address = svc.status.loadBalancer.ingress[0]?.ip;
    expect(address).toMatch(/^172\.30\.1\.\d+$/);
    expect(
      kubectl('cluster1', [
        '-n',
        'istio-system',
        'get',
        'gateway.networking.istio.io/istiod-gateway',
        'virtualservice.networking.istio.io/istiod-vs',
        '-o',
        'name',
      ])
        .trim()
        .split('\n'),
    ).toHaveLength(2);
    const ns = kubectlJson<{ metadata: { annotations: Record<string, string> } }>('cluster2', ['get', 'namespace', 'istio-system']);
    expect(ns.metadata.annotations['topology.istio.io/controlPlaneClusters']).toBe('cluster1');
    // The remote profile: istiod in cluster2 is a selector-less service backed by the gateway address.
    const slices = kubectlJson<{ items: Array<{ endpoints: Array<{ addresses: string[] }> }> }>('cluster2', [
      '-n',
      'istio-system',
      'get',
      'endpointslices',
      '-l',
      'kubernetes.io/service-name=istiod',
    ]);
    expect(slices.items.flatMap((s) => s.endpoints.flatMap((e) => e.addresses))).toContain(address);
    const hook = kubectlJson<{ webhooks: Array<{ clientConfig: { service?: { name: string; path?: string } } }> }>('cluster2', [
      'get',
      'mutatingwebhookconfiguration',
      'istio-sidecar-injector',
    ]);
    expect(hook.webhooks[0]?.clientConfig.service).toMatchObject({ name: 'istiod', path: '/inject/cluster/cluster2/net/network1' });
    const secret = kubectlJson<{ metadata: { namespace: string; labels: Record<string, string> } }>('cluster1', [
      '-n',
      'istio-system',
      'get',
      'secret',
      'istio-remote-secret-cluster2',
    ]);
    expect(secret.metadata.labels['istio/multiCluster']).toBe('true');
    expect(() => kubectl('cluster1', ['-n', 'default', 'get', 'secret', 'istio-remote-secret-cluster2'])).toThrow();
  });

  it('re-running a finished install changes nothing and keeps the gateway', async () => {
    const before = kubectlJson<Deployment>('cluster1', ['-n', 'istio-system', 'get', 'deployment', 'istio-eastwestgateway']).metadata.uid;
    const nsVersion = kubectlJson<{ metadata: { resourceVersion: string } }>('cluster2', ['get', 'namespace', 'istio-system']).metadata.resourceVersion;
    const again = await cli(['install', '--config', config]);
    expect(again.code, again.stderr).toBe(0);
    expect(kubectlJson<Deployment>('cluster1', ['-n', 'istio-system', 'get', 'deployment', 'istio-eastwestgateway']).metadata.uid).toBe(before);
    expect(kubectlJson<{ metadata: { resourceVersion: string } }>('cluster2', ['get', 'namespace', 'istio-system']).metadata.resourceVersion).toBe(nsVersion);
    const journal = await readJournal(db, runIdFrom(again));
    const commands = journal.commands.map((c) => c.argv.join(' '));
    expect(commands.some((c) => c.includes(' create namespace '))).toBe(false);
    expect(commands.some((c) => c.includes(' annotate '))).toBe(false);
  });

  it('a run killed with SIGKILL in the middle of istioctl install resumes to success, after stopping the istioctl it left running', async () => {
    const { child, done } = startCli(['install', '--config', config, '--db', db], { env });
    const deadline = Date.now() + 120_000;
    let orphan: { pid: number; proc_start: string } | undefined;
    while (Date.now() < deadline && !orphan) {
      orphan = peek<{ pid: number; proc_start: string }>(
        db,
        `SELECT pid, proc_start FROM commands WHERE ended_at IS NULL AND pid IS NOT NULL AND tool = 'istioctl' AND argv_json LIKE '%"install"%'`,
      )?.[0];
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(orphan, 'istioctl install never started').toBeDefined();
    // Held still (SIGSTOP) first, istioctl cannot finish, or die of a broken pipe, in the moment after mesh-run
    // dies, as one waiting silently for readiness would not.
    process.kill(orphan?.pid ?? 0, 'SIGSTOP');
    child.kill('SIGKILL');
    const killed = await done;
    outputs.push(killed.stdout, killed.stderr);
    expect(killed.signal).toBe('SIGKILL');
    const id = runIdFrom(killed);
    // Killing mesh-run does not kill the real istioctl it started.
    expect(processState(orphan?.pid ?? 0, orphan?.proc_start)).toBe('alive');
    const resumed = await cli(['resume', id]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(processState(orphan?.pid ?? 0, orphan?.proc_start)).not.toBe('alive');
    const journal = await readJournal(db, id);
    expect(journal.attempts.some((a) => a.outcome === 'interrupted')).toBe(true);
    expect(journal.attempts.every((a) => a.endedAt !== null)).toBe(true);
    const stopped = journal.events.find((e) => e.type === 'orphan-stopped');
    expect(stopped?.detail).toContain(`pid ${orphan?.pid}`);
    expect(journal.events.map((e) => e.type).indexOf('orphan-stopped')).toBeLessThan(journal.events.map((e) => e.type).indexOf('resumed'));
  });

  it('keeps one copy of the remote secret token in the cluster: applied server-side, and a client-side copy is removed', async () => {
    const data = kubectl('cluster1', ['-n', 'istio-system', 'get', 'secret', 'istio-remote-secret-cluster2', '-o', 'jsonpath={.data.cluster2}']);
    token = /token: (\S+)/.exec(Buffer.from(data, 'base64').toString('utf8'))?.[1] ?? '';
    expect(token.length).toBeGreaterThan(100);
    const secret = () =>
      kubectlJson<{ metadata: { annotations?: Record<string, string>; managedFields?: Array<{ manager: string; operation: string }> } }>('cluster1', [
        '-n',
        'istio-system',
        'get',
        'secret',
        'istio-remote-secret-cluster2',
        '--show-managed-fields',
      ]);
    expect(Object.keys(secret().metadata.annotations ?? {})).not.toContain(LAST_APPLIED);
    expect(secret().metadata.managedFields?.map((f) => `${f.manager}/${f.operation}`)).toContain('mesh-run/Apply');
    // An older client-side apply, as a person (or an older mesh-run) would have run it, copies the token.
    applyRemoteSecretClientSide();
    expect(secret().metadata.annotations?.[LAST_APPLIED]).toContain(token);
    const again = await cli(['install', '--config', config]);
    expect(again.code, again.stderr).toBe(0);
    expect(Object.keys(secret().metadata.annotations ?? {})).not.toContain(LAST_APPLIED);
    // The copy goes back, so the verify and uninstall below meet a secret that carries it.
    applyRemoteSecretClientSide();
  });

  it('refuses a loopback remote API server when the config does not name one (exit 3, no run)', async () => {
    const plain = join(tmp.dir, 'plain.yaml');
    writeFileSync(plain, readFileSync(config, 'utf8').replace(/, apiServer: "[^"]+"/, ''));
    const before = JSON.parse((await cli(['runs', '--json'])).stdout).length;
    const refused = await cli(['install', '--config', plain]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/the kubeconfig gives cluster2's API server as https:\/\/127\.0\.0\.1:\d+/);
    expect(JSON.parse((await cli(['runs', '--json'])).stdout)).toHaveLength(before);
  });

  it('precheck on real API servers finds the loopback address and an Istio someone else installed, at once', async () => {
    // cluster3 and cluster4 are not part of this mesh: a foreign Istio's webhook on cluster3.
    const hook = join(tmp.dir, 'foreign-webhook.json');
    writeFileSync(
      hook,
      JSON.stringify({
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'MutatingWebhookConfiguration',
        metadata: { name: 'istio-sidecar-injector-foreign', labels: { 'install.operator.istio.io/owning-resource': 'installed-state' } },
        webhooks: [],
      }),
    );
    kubectl('cluster3', ['apply', '-f', hook]);
    try {
      const other = join(tmp.dir, 'other.yaml');
      writeFileSync(
        other,
        `primary: {name: cluster3, context: cluster3}\nremotes: [{name: cluster4, context: cluster4}]\ntools: {istioctl: ${istioctlPath()}}\n`,
      );
      const checked = await storeless(['precheck', '--config', other]);
      expect(checked.code, checked.stdout).toBe(3);
      expect(checked.stdout).toMatch(/the kubeconfig gives cluster4's API server as https:\/\/127\.0\.0\.1:\d+/);
      expect(checked.stdout).toContain('cluster3 already runs an Istio that mesh-run did not install (owner: installed-state)');
      // The mesh-run install on cluster1 is named as such, not as a problem.
      const own = await storeless(['precheck', '--config', config, '-o', 'json']);
      const findings = (JSON.parse(own.stdout) as { findings: Array<{ check: string; level: string; cluster?: string }> }).findings;
      expect(
        findings
          .filter((f) => f.check === 'existing-istio')
          .map((f) => `${f.cluster}:${f.level}`)
          .sort(),
      ).toEqual(['cluster1:warning', 'cluster2:warning']);
    } finally {
      kubectl('cluster3', ['delete', 'mutatingwebhookconfiguration', 'istio-sidecar-injector-foreign']);
    }
  });

  it('secrets audit reads the real remote secret: a token for cluster2, its loopback server flagged, no token printed', async () => {
    const audit = await cli(['secrets', 'audit', '--config', config, '-o', 'json']);
    // kwok's API servers listen on the host's loopback, so the secret's server is one: istiod in a pod could
    // not dial it, and the audit says so (exit 3). The harness's istiod runs on the host, so it can: it reports
    // cluster2 synced.
    expect(audit.code, audit.stdout + audit.stderr).toBe(3);
    const doc = JSON.parse(audit.stdout) as {
      secrets: Array<{
        holder: string;
        cluster: string;
        credential: string;
        server: string;
        synced: string;
        fingerprint: string;
        findings: Array<{ message: string }>;
      }>;
      missing: unknown[];
    };
    expect(doc.missing).toEqual([]);
    expect(doc.secrets).toHaveLength(1);
    const [secret] = doc.secrets;
    expect(secret).toMatchObject({ holder: 'cluster1', cluster: 'cluster2', credential: 'token', synced: 'synced' });
    expect(readFileSync(config, 'utf8')).toContain(`apiServer: "${secret?.server}"`);
    expect(secret?.fingerprint).toMatch(/^[0-9a-f]{12}$/);
    expect(secret?.findings.map((f) => f.message)).toEqual([
      `server ${secret?.server} is the primary pod's own loopback, not cluster2`,
      'the token never expires (a legacy service-account token secret); rotate it on a schedule',
    ]);
  });

  it('verify: a real istiod answers check-remote-clusters and patched the remote injector; the data-plane checks say in one line why kwok cannot run them', async () => {
    const failed = await cli(['verify', '--config', config]);
    expect(failed.code, failed.stderr).toBe(1);
    const journal = await readJournal(db, runIdFrom(failed));
    const outcomes = (step: string) => journal.attempts.filter((a) => `${a.step}@${a.cluster}` === step).map((a) => a.outcome);
    expect(outcomes('check-remote-clusters@cluster1')).toEqual(['succeeded']);
    expect(outcomes('check-injector-ca@cluster2')).toEqual(['succeeded']);
    // Asked again here: istioctl port-forwards to the istiod pod, and kwok routes that to the istiod process,
    // which reads cluster2 through the secret mesh-run created.
    expect(remoteClusters('cluster1')).toMatch(/^cluster2\s+istio-system\/istio-remote-secret-cluster2\s+synced\s+istiod-/m);
    // The remote injector's caBundle is the root that istiod generated when it started: only istiod could have
    // written it there, through the remote secret, as the primary that cluster2's istio-system names.
    const caBundle = kubectl('cluster2', [
      'get',
      'mutatingwebhookconfiguration',
      'istio-sidecar-injector',
      '-o',
      'jsonpath={.webhooks[0].clientConfig.caBundle}',
    ]);
    const root = kubectl('cluster1', ['-n', 'istio-system', 'get', 'configmap', 'istio-ca-root-cert', '-o', 'jsonpath={.data.root-cert\\.pem}']);
    expect(root).toContain('BEGIN CERTIFICATE');
    expect(Buffer.from(caBundle, 'base64').toString('utf8')).toBe(root);
    // kwok's nodes run no containers: verify says so in one line and deploys nothing.
    expect(failed.stderr).toMatch(
      /failed at deploy-sample@cluster[12]: the data-plane checks cannot pass on cluster[12]: its 2 nodes are simulated by kwok \(annotation kwok\.x-k8s\.io\/node=fake\), so no pod there runs a container; the control-plane checks before this one ran for real\n/,
    );
    for (const context of ['cluster1', 'cluster2']) expect(kubectl(context, ['get', 'namespaces', '-o', 'name'])).not.toContain('namespace/sample');
  });

  it('a remote secret with a wrong server: the real istiod never syncs cluster2, and verify names the address it cannot reach', async () => {
    writeFileSync(shortVerify(), `${readFileSync(config, 'utf8')}verify: {timeout: 20s}\n`);
    applyRemoteSecretClientSide({ server: 'https://127.0.0.1:1' });
    const failed = await cli(['verify', '--config', shortVerify()]);
    expect(failed.code, failed.stderr).toBe(1);
    expect(failed.stderr).toMatch(
      /failed at check-remote-clusters@cluster1: istiod on cluster1 does not see every cluster synced after 20\.0s; cluster2 (syncing|timeout): cluster2's API server at https:\/\/127\.0\.0\.1:1 \(the address in its remote secret on cluster1\) does not answer: connect ECONNREFUSED/,
    );
    expect(failed.stderr).toContain('hint: set remotes[].apiServer for cluster2');
    expect(remoteClusters('cluster1')).not.toMatch(/^cluster2\s+\S+\s+synced/m);
  });

  it('a token its API server accepts but whose account may not read: istiod never syncs, verify names the missing permission; install writes the right secret back', async () => {
    kubectl('cluster2', ['-n', 'istio-system', 'create', 'serviceaccount', 'no-rights']);
    applyRemoteSecretClientSide({ serviceAccount: 'no-rights' });
    const failed = await cli(['verify', '--config', shortVerify()]);
    expect(failed.code, failed.stderr).toBe(1);
    expect(failed.stderr).toMatch(
      /cluster2 (syncing|timeout): the token in the remote secret for cluster2 on cluster1 is accepted but may not list endpointslices\.discovery\.k8s\.io there: istiod cannot read that cluster/,
    );
    expect(failed.stderr).toContain('the token must belong to istio-reader-service-account');
    const repaired = await cli(['install', '--config', config]);
    expect(repaired.code, repaired.stderr).toBe(0);
    const deadline = Date.now() + 30_000;
    while (!/^cluster2\s+\S+\s+synced/m.test(remoteClusters('cluster1'))) {
      if (Date.now() > deadline) throw new Error(`istiod did not sync cluster2 again:\n${remoteClusters('cluster1')}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const verified = await cli(['verify', '--config', config]);
    const journal = await readJournal(db, runIdFrom(verified));
    expect(journal.attempts.filter((a) => a.step === 'check-remote-clusters').map((a) => a.outcome)).toEqual(['succeeded']);
    // As before the breakage, the uninstall below meets a secret with a client-side copy of the token.
    applyRemoteSecretClientSide();
  });

  it('uninstall leaves both clusters without Istio namespaces, CRDs or webhooks; a second uninstall changes nothing', async () => {
    const runs = JSON.parse((await cli(['runs', '--json'])).stdout) as Array<{ id: string; kind: string; status: string }>;
    const install = runs.find((r) => r.kind === 'install' && r.status === 'succeeded');
    expect(install).toBeDefined();
    // What istioctl put there carries the owner mesh-run named; that is what uninstall checks first.
    const owner = kubectlJson<{ metadata: { labels: Record<string, string> } }>('cluster2', ['get', 'mutatingwebhookconfiguration', 'istio-sidecar-injector'])
      .metadata.labels['install.operator.istio.io/owning-resource'];
    expect(owner).toBe('mesh-run-remote');
    const removed = await cli(['uninstall', '--yes', '--run', install?.id ?? '']);
    expect(removed.code, removed.stderr).toBe(0);
    for (const context of ['cluster1', 'cluster2']) {
      const names = (args: string[]) =>
        kubectl(context, [...args, '-o', 'name'])
          .split('\n')
          .filter(Boolean);
      expect(names(['get', 'namespaces']), context).not.toContain('namespace/istio-system');
      expect(
        names(['get', 'customresourcedefinitions']).filter((n) => n.endsWith('.istio.io')),
        context,
      ).toEqual([]);
      expect(
        names(['get', 'mutatingwebhookconfigurations']).filter((n) => n.includes('istio')),
        context,
      ).toEqual([]);
      expect(
        names(['get', 'validatingwebhookconfigurations']).filter((n) => n.includes('istio')),
        context,
      ).toEqual([]);
    }
    const again = await cli(['uninstall', '--yes', '--config', config]);
    expect(again.code, again.stderr).toBe(0);
    const journal = await readJournal(db, runIdFrom(again));
    expect(journal.commands.filter((c) => c.argv.includes('uninstall') || c.argv.includes('delete')).map((c) => c.argv.join(' '))).toEqual([]);
  });

  it("keeps a user's istio-system and cacerts at uninstall, removing only what mesh-run, istioctl and istiod created", async () => {
    // Both clusters have an istio-system of their own: uninstall keeps them, so what istioctl does not prune there
    // (the remote's istiod EndpointSlice) and what istiod wrote there (its root, its leader locks) must go by hand.
    for (const context of ['cluster1', 'cluster2']) kubectl(context, ['create', 'namespace', 'istio-system']);
    // The user's cacerts holds no ca-key.pem: with one, istiod would load it as its plugged-in CA, fail, and never
    // start, and nothing it writes could be seen.
    kubectl('cluster1', ['-n', 'istio-system', 'create', 'secret', 'generic', 'cacerts', '--from-literal=notes.txt=the user kept this']);
    kubectl('cluster1', ['-n', 'istio-system', 'create', 'configmap', 'team-settings', '--from-literal=a=b']);
    // The EndpointSlices istioctl's installs rendered: labelled with their owner, owned by no Service (those the
    // EndpointSlice controller keeps for a Service carry its labels too, and go with it).
    const slices = (context: string) =>
      kubectlJson<{ items: Array<{ metadata: { name: string; ownerReferences?: unknown[] } }> }>(context, [
        '-n',
        'istio-system',
        'get',
        'endpointslices',
        '-l',
        'install.operator.istio.io/owning-resource',
      ])
        .items.filter((s) => !s.metadata.ownerReferences?.length)
        .map((s) => `endpointslice.discovery.k8s.io/${s.metadata.name}`);
    // istiod's ConfigMaps: its root (labelled istio.io/config=true) and its leader-election locks (annotated).
    const istiodMaps = (context: string) =>
      kubectlJson<{ items: Array<{ metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> } }> }>(context, [
        '-n',
        'istio-system',
        'get',
        'configmaps',
      ])
        .items.filter((c) => c.metadata.labels?.['istio.io/config'] === 'true' || c.metadata.annotations?.['control-plane.alpha.kubernetes.io/leader'])
        .map((c) => c.metadata.name)
        .sort();
    try {
      const installed = await cli(['install', '--config', config]);
      expect(installed.code, installed.stderr).toBe(0);
      expect(slices('cluster2')).toEqual(['endpointslice.discovery.k8s.io/istiod']);
      const deadline = Date.now() + 60_000;
      while (!istiodMaps('cluster1').includes('istio-ca-root-cert') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1000));
      const made = { cluster1: istiodMaps('cluster1'), cluster2: istiodMaps('cluster2') };
      console.log(`istiod's ConfigMaps before uninstall: ${JSON.stringify(made)}`);
      expect(made.cluster1).toContain('istio-ca-root-cert');
      const removed = await cli(['uninstall', '--yes', '--config', config]);
      expect(removed.code, removed.stderr).toBe(0);
      expect(removed.stderr).toContain(`namespace istio-system on cluster1 existed before mesh-run (run ${runIdFrom(installed)})`);
      expect(removed.stderr).toContain(`namespace istio-system on cluster2 existed before mesh-run (run ${runIdFrom(installed)})`);
      for (const context of ['cluster1', 'cluster2']) {
        expect(kubectl(context, ['get', 'namespaces', '-o', 'name']), context).toContain('namespace/istio-system');
        expect(slices(context), context).toEqual([]);
        expect(istiodMaps(context), context).toEqual([]);
      }
      expect(kubectl('cluster1', ['-n', 'istio-system', 'get', 'secret', 'cacerts', '-o', 'name']).trim()).toBe('secret/cacerts');
      expect(kubectl('cluster1', ['-n', 'istio-system', 'get', 'configmap', 'team-settings', '-o', 'name']).trim()).toBe('configmap/team-settings');
      expect(
        kubectl('cluster1', ['get', 'customresourcedefinitions', '-o', 'name'])
          .split('\n')
          .filter((n) => n.endsWith('.istio.io')),
      ).toEqual([]);
      expect(
        kubectl('cluster1', ['get', 'mutatingwebhookconfigurations', '-o', 'name'])
          .split('\n')
          .filter((n) => n.includes('istio')),
      ).toEqual([]);
      expect(kubectl('cluster1', ['-n', 'istio-system', 'get', 'deployments', '-o', 'name']).trim()).toBe('');
    } finally {
      for (const context of ['cluster1', 'cluster2'])
        kubectl(context, ['delete', 'namespace', 'istio-system', '--ignore-not-found', '--wait=true', '--timeout=120s']);
    }
  });

  it('with trust: creates cacerts on the primary before istiod, and uninstall removes it with istio-system', async () => {
    const certs = join(tmp.dir, 'certs');
    const trusted = writeConfig(tmp.dir, `trust: {outputDir: "${certs}", keySize: 2048}\n`);
    const installed = await cli(['install', '--config', trusted]);
    expect(installed.code, installed.stderr).toBe(0);
    const secret = kubectlJson<{ metadata: { annotations: Record<string, string> }; data: Record<string, string> }>('cluster1', [
      '-n',
      'istio-system',
      'get',
      'secret',
      'cacerts',
    ]);
    expect(Object.keys(secret.data).sort()).toEqual(['ca-cert.pem', 'ca-key.pem', 'cert-chain.pem', 'root-cert.pem']);
    expect(Buffer.from(secret.data['ca-cert.pem'] ?? '', 'base64').toString()).toBe(readFileSync(join(certs, 'cluster1', 'ca-cert.pem'), 'utf8'));
    expect(secret.metadata.annotations['mesh-run.io/ca-fingerprint']).toMatch(/^[0-9a-f]{64}$/);
    // kubectl create, not apply: no copy of the keys in a last-applied-configuration annotation.
    expect(Object.keys(secret.metadata.annotations)).not.toContain('kubectl.kubernetes.io/last-applied-configuration');
    expect(() => kubectl('cluster2', ['-n', 'istio-system', 'get', 'secret', 'cacerts'])).toThrow();
    const journal = await readJournal(db, runIdFrom(installed));
    const order = journal.attempts.map((a) => a.step);
    expect(order.indexOf('establish-trust')).toBeLessThan(order.indexOf('install-primary'));
    const key = readFileSync(join(certs, 'cluster1', 'ca-key.pem'), 'utf8').split('\n')[5] as string;
    for (const file of [db, `${db}-wal`]) if (existsSync(file)) expect(readFileSync(file).includes(Buffer.from(key)), file).toBe(false);

    const removed = await cli(['uninstall', '--yes', '--config', trusted]);
    expect(removed.code, removed.stderr).toBe(0);
    expect(kubectl('cluster1', ['get', 'namespaces', '-o', 'name'])).not.toContain('namespace/istio-system');
  });

  it("with trust: plan -o sh's script creates cacerts as a run does, and an install with the same config and CA keeps it", async () => {
    const certs = join(tmp.dir, 'script-certs');
    const trusted = writeConfig(tmp.dir, `trust: {outputDir: "${certs}", keySize: 2048}\n`);
    const plan = await storeless(['plan', 'install', '--config', trusted, '-o', 'sh']);
    expect(plan.code, plan.stderr).toBe(0);
    const script = join(tmp.dir, 'install-by-hand.sh');
    writeFileSync(script, plan.stdout);
    // A person runs it with the harness kubeconfig; the CA comes from trust.outputDir, which plan filled.
    const ran = spawnSync('bash', [script], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 600_000 });
    outputs.push(ran.stdout, ran.stderr);
    expect(ran.status, ran.stderr.slice(-2000)).toBe(0);
    const secret = kubectlJson<{ metadata: { labels?: Record<string, string>; annotations?: Record<string, string> } }>('cluster1', [
      '-n',
      'istio-system',
      'get',
      'secret',
      'cacerts',
    ]);
    const fingerprint = new X509Certificate(readFileSync(join(certs, 'cluster1', 'ca-cert.pem'))).fingerprint256.replace(/:/g, '').toLowerCase();
    expect(secret.metadata.labels?.['app.kubernetes.io/managed-by']).toBe('mesh-run');
    expect(secret.metadata.annotations?.['mesh-run.io/ca-fingerprint']).toBe(fingerprint);
    expect(Object.keys(secret.metadata.annotations ?? {})).not.toContain('kubectl.kubernetes.io/last-applied-configuration');
    // No key in what the script printed.
    const keyLine = readFileSync(join(certs, 'cluster1', 'ca-key.pem'), 'utf8').split('\n')[5] as string;
    expect(`${ran.stdout}${ran.stderr}`).not.toContain(keyLine);
    // mesh-run, run afterwards with the same config and CA, finds its own cacerts and keeps it.
    const installed = await cli(['install', '--config', trusted]);
    expect(installed.code, installed.stderr).toBe(0);
    expect(installed.stderr).toContain(`cacerts on cluster1 already holds CA ${fingerprint.slice(0, 16)}; kept`);
    const removed = await cli(['uninstall', '--yes', '--config', trusted]);
    expect(removed.code, removed.stderr).toBe(0);
    expect(kubectl('cluster1', ['get', 'namespaces', '-o', 'name'])).not.toContain('namespace/istio-system');
  });

  it('never wrote the remote secret token (or its base64 form) to the database, its logs or any output, on any path', async () => {
    expect(token.length).toBeGreaterThan(100);
    const needles = needlesFor(token);
    const runs = JSON.parse((await cli(['runs', '--json'])).stdout) as Array<{ id: string }>;
    for (const { id } of runs) {
      for (const args of [
        ['show', id],
        ['show', id, '--json'],
        ['logs', id],
        ['status', id, '--json'],
      ])
        await cli(args);
      const page = join(tmp.dir, `${id}.html`);
      await cli(['report', id, '--html', page]);
      outputs.push(readFileSync(page, 'utf8'));
    }
    for (const args of [['history'], ['history', '--json'], ['history', '--actions']]) await cli(args);
    for (const [i, text] of outputs.entries()) expect(findLeak(text, needles), `output ${i}`).toBeUndefined();
    for (const file of [db, `${db}-wal`]) if (existsSync(file)) expect(findLeak(readFileSync(file), needles), file).toBeUndefined();
  });
});
