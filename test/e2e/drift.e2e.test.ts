// Drift and repair against real Kubernetes control planes (kwok) with a real istioctl and the real istiod: one
// primary-remote mesh on two networks, installed once; then, one case after another, a drift caused with
// kubectl (or by the load-balancer stand-in) is found by mesh-run drift (exit 5, the kind in its JSON), put back
// by mesh-run repair, and gone after (exit 0), checked on the clusters too. A case that fails puts its cluster
// back by hand, so the next one starts from a mesh without drift. Leaves the clusters without Istio.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../support/cli.js';
import { istioLeft, removeIstioEverywhere } from './by-hand.js';
import { apiServerOf, env, istioctlPath, KUBECONFIG, kubectl, remoteClusters, setLoadBalancer } from './support.js';

const MESH = 'drift';
const tmp = tempDir('mesh-run-e2e-drift-');
const db = join(tmp.dir, 'drift.db');
const config = join(tmp.dir, 'mesh.yaml');
const certs = join(tmp.dir, 'certs');
const NETWORK = 'topology.istio.io/network';
const CONTROL_PLANES = 'topology.istio.io/controlPlaneClusters';

async function cli(args: string[], options: { transcript?: boolean } = {}) {
  const result = await runCli([...args, '--db', db], { env });
  // The transcript the closing note quotes.
  if (options.transcript) console.log(`$ mesh-run ${args.join(' ')}\n${result.stdout}${result.stderr}(exit ${result.code})`);
  return result;
}

interface Item {
  kind: string;
  cluster: string;
  source?: string;
}

// mesh-run drift -o json: its exit code and items (and the clusters it could not read).
async function drift(transcript = false) {
  if (transcript) await cli(['drift', '--mesh', MESH], { transcript });
  const result = await cli(['drift', '--mesh', MESH, '-o', 'json']);
  const doc = JSON.parse(result.stdout || '{}') as { drift?: Item[]; unreadable?: unknown[] };
  const items = (doc.drift ?? []).map(({ kind, cluster, source }) => ({ kind, cluster, ...(source ? { source } : {}) }));
  return { code: result.code, items, said: `${result.stdout}${result.stderr}` };
}

// kubectl with a manifest on stdin (an object put back as it was read: a secret's data stays in memory).
function kubectlIn(context: string, args: string[], input: string): void {
  execFileSync('kubectl', ['--kubeconfig', KUBECONFIG, '--context', context, ...args], { input, stdio: ['pipe', 'ignore', 'pipe'] });
}

// An object as read, ready to be created again (server-set fields dropped).
function saved(context: string, args: string[]): string {
  const object = JSON.parse(kubectl(context, [...args, '-o', 'json'])) as { metadata: Record<string, unknown> };
  for (const field of ['resourceVersion', 'uid', 'creationTimestamp', 'managedFields', 'generation']) delete object.metadata[field];
  return JSON.stringify(object);
}

async function until(what: string, ok: () => boolean, seconds = 60): Promise<void> {
  for (let i = 0; i < seconds * 2; i++) {
    if (ok()) return;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`${what}: not so after ${seconds}s`);
}

const gatewayAddress = (context: string) =>
  kubectl(context, ['-n', 'istio-system', 'get', 'service', 'istio-eastwestgateway', '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}']).trim();
// Where the remote's istiod Service (the remote profile's, selector-less) sends its sidecars and injector.
const remotePilotAddresses = () =>
  kubectl('cluster2', [
    '-n',
    'istio-system',
    'get',
    'endpointslices',
    '-l',
    'kubernetes.io/service-name=istiod',
    '-o',
    'jsonpath={.items[*].endpoints[*].addresses[*]}',
  ])
    .trim()
    .split(/\s+/)
    .filter(Boolean);
const nsField = (context: string, path: string) => kubectl(context, ['get', 'namespace', 'istio-system', '-o', `jsonpath={${path}}`]).trim();
const syncedOn = (holder: string, member: string) => new RegExp(`^${member}\\s+\\S+\\s+synced`, 'm').test(remoteClusters(holder));
const istioObjectNames = (context: string, kind: string) => kubectl(context, ['-n', 'istio-system', 'get', kind, '-o', 'name']).split('\n').filter(Boolean);

// One drift case: caused, found (exit 5, these items), repaired (exit 0), gone (exit 0), then `after` checks the
// clusters. On a failure `undo` puts the cluster back by hand before the failure is reported.
async function driftCase(c: {
  cause: () => void | Promise<void>;
  found: (items: Item[]) => void;
  after: () => void | Promise<void>;
  undo: () => void | Promise<void>;
  transcript?: boolean;
  // The repair's own flags (cacerts holding another CA is replaced only with --force).
  repairFlags?: string[];
}): Promise<void> {
  await c.cause();
  try {
    const found = await drift(c.transcript);
    expect(found.code, found.said).toBe(5);
    c.found(found.items);
    const repaired = await cli(['repair', '--mesh', MESH, '-y', ...(c.repairFlags ?? [])], { transcript: Boolean(c.transcript) });
    expect(repaired.code, `${repaired.stdout}${repaired.stderr}`).toBe(0);
    const clean = await drift(c.transcript);
    expect(clean.code, clean.said).toBe(0);
    expect(clean.items).toEqual([]);
    await c.after();
  } catch (error) {
    await c.undo();
    throw error;
  }
}

beforeAll(() => {
  setLoadBalancer('ip 0');
  removeIstioEverywhere(tmp.dir);
});
afterAll(() => {
  try {
    setLoadBalancer('ip 0');
    removeIstioEverywhere(tmp.dir);
  } finally {
    tmp.cleanup();
  }
});

describe('drift on real API servers: each kind caused with kubectl, found, repaired', () => {
  it('installs primary cluster1 (network1) with remote cluster2 (network2) under a generated CA; no drift', async () => {
    writeFileSync(
      config,
      [
        `meshID: ${MESH}`,
        'clusters:',
        '  - {name: cluster1, context: cluster1, role: primary, network: network1}',
        `  - {name: cluster2, context: cluster2, role: remote, network: network2, apiServer: "${apiServerOf('cluster2')}"}`,
        `trust: {outputDir: "${certs}", keySize: 2048}`,
        'timeouts: {gatewayAddress: 90s, command: 4m}',
        `tools: {istioctl: ${istioctlPath()}}`,
        '',
      ].join('\n'),
    );
    const installed = await cli(['install', '--config', config]);
    expect(installed.code, installed.stderr).toBe(0);
    expect(installed.stderr).toContain('primary-remote multi-network');
    await until('istiod on cluster1 sees cluster2 synced', () => syncedOn('cluster1', 'cluster2'));
    const clean = await drift();
    expect(clean.code, clean.said).toBe(0);
    expect(clean.items).toEqual([]);
  });

  it('remote-secret-missing: the remote secret deleted on cluster1, so its istiod stops reading cluster2', async () => {
    const secret = ['-n', 'istio-system', 'get', 'secret', 'istio-remote-secret-cluster2'];
    const before = saved('cluster1', secret);
    await driftCase({
      transcript: true,
      cause: async () => {
        kubectl('cluster1', ['-n', 'istio-system', 'delete', 'secret', 'istio-remote-secret-cluster2']);
        // The real istiod drops the cluster whose secret went.
        await until('istiod on cluster1 no longer sees cluster2 synced', () => !syncedOn('cluster1', 'cluster2'));
      },
      found: (items) => {
        // istiod-unsynced is left out when the secret is its cause: one item, the secret.
        expect(items.filter((i) => i.kind !== 'istiod-unsynced')).toEqual([{ kind: 'remote-secret-missing', cluster: 'cluster1', source: 'cluster2' }]);
      },
      after: () => {
        expect(syncedOn('cluster1', 'cluster2')).toBe(true);
        const kubeconfig = Buffer.from(
          kubectl('cluster1', ['-n', 'istio-system', 'get', 'secret', 'istio-remote-secret-cluster2', '-o', 'jsonpath={.data.cluster2}']),
          'base64',
        ).toString('utf8');
        expect(kubeconfig).toContain(`server: ${apiServerOf('cluster2')}`);
      },
      undo: () => {
        if (istioObjectNames('cluster1', 'secrets').includes('secret/istio-remote-secret-cluster2')) return;
        kubectlIn('cluster1', ['create', '-f', '-'], before);
      },
    });
  });

  it('gateway-address: the load-balancer stand-in moves the east-west gateway; the remote still dials the old address', async () => {
    const old = gatewayAddress('cluster1');
    expect(old).toMatch(/^172\.30\.1\.\d+$/);
    expect(remotePilotAddresses()).toEqual([old]);
    await driftCase({
      cause: async () => {
        // A provider renumbering its addresses (every LoadBalancer Service moves to 172.31.x.y).
        setLoadBalancer('ip 0 1');
        await until('the east-west gateway on cluster1 has moved', () => /^172\.31\.1\.\d+$/.test(gatewayAddress('cluster1')));
      },
      found: (items) => expect(items).toEqual([{ kind: 'gateway-address', cluster: 'cluster2' }]),
      // The remote profile installed again, pointed at the new address.
      after: () => expect(remotePilotAddresses()).toEqual([gatewayAddress('cluster1')]),
      undo: async () => {
        setLoadBalancer('ip 0 0');
        await until('the east-west gateway on cluster1 is back', () => gatewayAddress('cluster1') === old);
      },
    });
  });

  it('network-label: the network label removed from istio-system on cluster1', async () => {
    const put = () => kubectl('cluster1', ['label', 'namespace', 'istio-system', `${NETWORK}=network1`, '--overwrite']);
    await driftCase({
      cause: () => void kubectl('cluster1', ['label', 'namespace', 'istio-system', `${NETWORK}-`]),
      found: (items) => expect(items).toEqual([{ kind: 'network-label', cluster: 'cluster1' }]),
      after: () => expect(nsField('cluster1', `.metadata.labels.${NETWORK.replace(/\./g, '\\.')}`)).toBe('network1'),
      undo: () => void put(),
    });
  });

  it('control-plane-annotation: the remote’s controlPlaneClusters annotation changed to another cluster', async () => {
    const path = `.metadata.annotations.${CONTROL_PLANES.replace(/\./g, '\\.')}`;
    expect(nsField('cluster2', path)).toBe('cluster1');
    await driftCase({
      cause: () => void kubectl('cluster2', ['annotate', 'namespace', 'istio-system', `${CONTROL_PLANES}=cluster3`, '--overwrite']),
      found: (items) => expect(items).toEqual([{ kind: 'control-plane-annotation', cluster: 'cluster2' }]),
      after: () => {
        expect(nsField('cluster2', path)).toBe('cluster1');
        expect(syncedOn('cluster1', 'cluster2')).toBe(true);
      },
      undo: () => void kubectl('cluster2', ['annotate', 'namespace', 'istio-system', `${CONTROL_PLANES}=cluster1`, '--overwrite']),
    });
  });

  it('expose-services: the cross-network-gateway Gateway deleted on cluster1', async () => {
    const gateway = ['-n', 'istio-system', 'get', 'gateways.networking.istio.io', 'cross-network-gateway'];
    const before = saved('cluster1', gateway);
    await driftCase({
      cause: () => void kubectl('cluster1', ['-n', 'istio-system', 'delete', 'gateways.networking.istio.io', 'cross-network-gateway']),
      found: (items) => expect(items).toEqual([{ kind: 'expose-services', cluster: 'cluster1' }]),
      after: () => {
        const servers = kubectl('cluster1', [...gateway, '-o', 'jsonpath={.spec.servers[*].port.number}/{.spec.servers[*].tls.mode}']);
        expect(servers).toBe('15443/AUTO_PASSTHROUGH');
      },
      undo: () => {
        if (istioObjectNames('cluster1', 'gateways.networking.istio.io').includes('gateway.networking.istio.io/cross-network-gateway')) return;
        kubectlIn('cluster1', ['create', '-f', '-'], before);
      },
    });
  });

  it('cacerts-changed: cacerts on the primary replaced with a CA under another root', async () => {
    const rootOf = (context: string) => kubectl(context, ['-n', 'istio-system', 'get', 'secret', 'cacerts', '-o', 'jsonpath={.data.root-cert\\.pem}']);
    const published = () =>
      kubectl('cluster1', ['-n', 'istio-system', 'get', 'configmap', 'istio-ca-root-cert', '-o', 'jsonpath={.data.root-cert\\.pem}']).trim();
    const meshRoot = readFileSync(join(certs, 'cluster1', 'root-cert.pem'), 'utf8').trim();
    expect(Buffer.from(rootOf('cluster1'), 'base64').toString('utf8').trim()).toBe(meshRoot);
    expect(published()).toBe(meshRoot);
    const before = saved('cluster1', ['-n', 'istio-system', 'get', 'secret', 'cacerts']);
    const other = join(tmp.dir, 'other-ca');
    const files = otherCa(other);
    const replace = (from: string) => {
      kubectl('cluster1', ['-n', 'istio-system', 'delete', 'secret', 'cacerts', '--ignore-not-found']);
      kubectlIn('cluster1', ['create', '-f', '-'], from);
    };
    await driftCase({
      cause: () => {
        const secret = {
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { name: 'cacerts', namespace: 'istio-system' },
          data: Object.fromEntries(files.map((f) => [f, readFileSync(join(other, f)).toString('base64')])),
        };
        replace(JSON.stringify(secret));
        expect(Buffer.from(rootOf('cluster1'), 'base64').toString('utf8').trim()).not.toBe(meshRoot);
      },
      found: (items) => expect(items).toEqual([{ kind: 'cacerts-changed', cluster: 'cluster1' }]),
      repairFlags: ['--force'],
      after: () => {
        expect(Buffer.from(rootOf('cluster1'), 'base64').toString('utf8').trim()).toBe(meshRoot);
        expect(published()).toBe(meshRoot);
      },
      undo: () => replace(before),
    });
  });

  it('uninstall --mesh removes the repaired mesh and leaves no Istio on either cluster', async () => {
    const removed = await cli(['uninstall', '--mesh', MESH, '--yes']);
    expect(removed.code, removed.stderr).toBe(0);
    for (const context of ['cluster1', 'cluster2']) expect(istioLeft(context), context).toEqual([]);
  });
});

// A CA for cluster1 under a root of its own (not the mesh's), as Istio's tools/certs Makefile makes one.
function otherCa(dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  const openssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const usage = 'keyUsage=critical,digitalSignature,nonRepudiation,keyEncipherment,keyCertSign';
  openssl([
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'root-key.pem',
    '-x509',
    '-days',
    '3650',
    '-subj',
    '/O=Elsewhere/CN=Another Root CA',
    '-addext',
    'basicConstraints=critical,CA:true',
    '-addext',
    usage,
    '-out',
    'root-cert.pem',
  ]);
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca-key.pem', '-subj', '/O=Elsewhere/CN=Intermediate CA/L=cluster1', '-out', 'ca.csr']);
  writeFileSync(
    join(dir, 'ca.ext'),
    `basicConstraints=critical,CA:true,pathlen:0\n${usage}\nsubjectAltName=URI:spiffe://cluster.local/ns/istio-system/sa/citadel\n`,
  );
  openssl([
    'x509',
    '-req',
    '-in',
    'ca.csr',
    '-CA',
    'root-cert.pem',
    '-CAkey',
    'root-key.pem',
    '-CAcreateserial',
    '-days',
    '365',
    '-extfile',
    'ca.ext',
    '-out',
    'ca-cert.pem',
  ]);
  writeFileSync(join(dir, 'cert-chain.pem'), readFileSync(join(dir, 'ca-cert.pem'), 'utf8') + readFileSync(join(dir, 'root-cert.pem'), 'utf8'));
  return ['ca-cert.pem', 'ca-key.pem', 'root-cert.pem', 'cert-chain.pem'];
}
