import { afterEach, describe, expect, it } from 'vitest';
import { eastwestGatewayOperator, primaryOperator } from '../engine/activities/manifests.js';
import { type SimHarness, simHarness } from './support/sim.js';

let h: SimHarness;
afterEach(async () => h?.close());

const UNNAMED_PRIMARY = `apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
spec:
  values:
    global: {meshID: mesh1, multiCluster: {clusterName: cluster1}, network: network1, externalIstiod: true}
`;

describe('simulated kubectl', () => {
  it('fails "create namespace" on an existing namespace with AlreadyExists', async () => {
    h = await simHarness();
    expect((await h.run('kubectl', ['--context=cluster2', 'create', 'namespace', 'istio-system'])).exitCode).toBe(0);
    const again = await h.run('kubectl', ['--context=cluster2', 'create', 'namespace', 'istio-system']);
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toBe('Error from server (AlreadyExists): namespaces "istio-system" already exists\n');
  });

  it('refuses to change an annotation without --overwrite, and accepts it with it', async () => {
    h = await simHarness();
    await h.run('kubectl', ['--context=cluster2', 'create', 'namespace', 'istio-system']);
    const key = 'topology.istio.io/controlPlaneClusters';
    expect((await h.run('kubectl', ['--context=cluster2', 'annotate', 'namespace', 'istio-system', `${key}=old`])).exitCode).toBe(0);
    const refused = await h.run('kubectl', ['--context=cluster2', 'annotate', 'namespace', 'istio-system', `${key}=cluster1`]);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain(
      "--overwrite is false but found the following declared annotation(s): 'topology.istio.io/controlPlaneClusters' already has a value (old)",
    );
    expect((await h.run('kubectl', ['--context=cluster2', 'annotate', 'namespace', 'istio-system', `${key}=cluster1`, '--overwrite'])).exitCode).toBe(0);
    const read = await h.run('kubectl', ['--context=cluster2', 'get', 'namespace', 'istio-system', '-o', `jsonpath={.metadata.annotations}`]);
    expect(JSON.parse(read.stdout)).toEqual({ [key]: 'cluster1' });
  });

  it('answers NotFound, unknown contexts and unknown flags the way kubectl does', async () => {
    h = await simHarness();
    const missing = await h.run('kubectl', ['--context=cluster1', '-n', 'istio-system', 'get', 'svc', 'istio-eastwestgateway', '-o', 'json']);
    expect(missing).toMatchObject({ exitCode: 1, stderr: 'Error from server (NotFound): services "istio-eastwestgateway" not found\n' });
    const context = await h.run('kubectl', ['--context=nope', 'get', 'ns']);
    expect(context.stderr).toBe('error: context "nope" does not exist\n');
    const flag = await h.run('kubectl', ['--context=cluster1', 'get', 'ns', '--frobnicate']);
    expect(flag.exitCode).toBe(1);
    expect(flag.stderr).toContain('unknown flag: --frobnicate');
  });

  it("lists nodes with kwok's mark, which verify reads before it deploys the sample", async () => {
    h = await simHarness();
    const { NODES_QUERY, simulatedNodes } = await import('../engine/activities/verify.js');
    const node = (name: string, fake: boolean) =>
      `apiVersion: v1\nkind: Node\nmetadata: {name: ${name}${fake ? ', annotations: {kwok.x-k8s.io/node: fake}' : ''}}\n`;
    const nodes = async () => simulatedNodes((await h.run('kubectl', ['--context=cluster1', ...NODES_QUERY])).stdout);
    expect(await nodes()).toEqual({ all: 0, simulated: 0 });
    await h.run('kubectl', ['--context=cluster1', 'apply', '-f', '-'], `${node('n0', true)}---\n${node('n1', true)}`);
    expect(await nodes()).toEqual({ all: 2, simulated: 2 });
    await h.run('kubectl', ['--context=cluster1', 'apply', '-f', '-'], node('n2', false));
    expect(await nodes()).toEqual({ all: 3, simulated: 2 });
  });

  it('applies manifests idempotently: created, then unchanged, then configured', async () => {
    h = await simHarness();
    await h.run('kubectl', ['--context=cluster1', 'create', 'namespace', 'istio-system']);
    const gw = (port: number) => `apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: g}\nspec: {servers: [{port: {number: ${port}}}]}\n`;
    const apply = (m: string) => h.run('kubectl', ['--context=cluster1', 'apply', '-n', 'istio-system', '-f', '-'], m);
    expect((await apply(gw(1))).stdout).toBe('gateway.networking.istio.io/g created\n');
    expect((await apply(gw(1))).stdout).toBe('gateway.networking.istio.io/g unchanged\n');
    expect((await apply(gw(2))).stdout).toBe('gateway.networking.istio.io/g configured\n');
  });

  it('gives LoadBalancer services an address only after the configured delay', async () => {
    h = await simHarness('ip', 300);
    await h.run('istioctl', ['install', '--context=cluster1', '-y', '-f', '-'], eastwestGatewayOperator({ meshID: 'mesh1', network: 'network1' }));
    const ip = () =>
      h.run('kubectl', [
        '--context=cluster1',
        '-n',
        'istio-system',
        'get',
        'svc',
        'istio-eastwestgateway',
        '-o',
        'jsonpath={.status.loadBalancer.ingress[0].ip}',
      ]);
    expect((await ip()).stdout).toBe('');
    await new Promise((r) => setTimeout(r, 350));
    expect((await ip()).stdout).toMatch(/^172\.18\.1\.\d+$/);
  });
});

describe('simulated istioctl', () => {
  it('prints the prompt and "Cancelled." and exits 1 without -y when stdin is not a terminal', async () => {
    h = await simHarness();
    const result = await h.run('istioctl', ['install', '--context=cluster1', '-f', '-'], UNNAMED_PRIMARY);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toMatch(/This will install the Istio \S+ profile "default" into the cluster\. Proceed\? \(y\/N\) Cancelled\.\n$/);
    const ns = await h.run('kubectl', ['--context=cluster1', 'get', 'namespace', 'istio-system']);
    expect(ns.exitCode).toBe(1);
  });

  it('prunes the east-west gateway when an unnamed primary IstioOperator is installed again (Istio #29634)', async () => {
    h = await simHarness();
    const install = (m: string) => h.run('istioctl', ['install', '--context=cluster1', '-y', '-f', '-'], m);
    const gateway = () => h.run('kubectl', ['--context=cluster1', '-n', 'istio-system', 'get', 'deployment', 'istio-eastwestgateway', '-o', 'name']);
    await install(UNNAMED_PRIMARY);
    await install(eastwestGatewayOperator({ meshID: 'mesh1', network: 'network1' }));
    expect((await gateway()).stdout).toBe('deployment.apps/istio-eastwestgateway\n');
    await install(UNNAMED_PRIMARY);
    expect((await gateway()).exitCode).toBe(1);
  });

  it('keeps the east-west gateway when the named primary IstioOperator mesh-run generates is installed again', async () => {
    h = await simHarness();
    const install = (m: string) => h.run('istioctl', ['install', '--context=cluster1', '-y', '-f', '-'], m);
    const primary = primaryOperator('cluster1', { meshID: 'mesh1', network: 'network1', istioVersion: '1.25.2' });
    await install(primary);
    await install(eastwestGatewayOperator({ meshID: 'mesh1', network: 'network1' }));
    await install(primary);
    const gateway = await h.run('kubectl', ['--context=cluster1', '-n', 'istio-system', 'get', 'deployment', 'istio-eastwestgateway', '-o', 'name']);
    expect(gateway.stdout).toBe('deployment.apps/istio-eastwestgateway\n');
  });

  it('emits a remote secret with a bearer token that never reaches the database', async () => {
    h = await simHarness();
    const result = await h.tools.pipe(
      { tool: 'istioctl', args: ['create-remote-secret', '--context=cluster2', '--name=cluster2', '-n', 'istio-system'], context: 'cluster2' },
      { tool: 'kubectl', args: ['--context=cluster1', 'apply', '-f', '-'], context: 'cluster1' },
      { signal: new AbortController().signal, timeoutMs: 1000, step: 'attach-remote', cluster: 'cluster2' },
    );
    // istio-system does not exist on cluster1 yet: apply fails like kubectl would.
    expect(result.sink.exitCode).toBe(1);
    await h.run('kubectl', ['--context=cluster1', 'create', 'namespace', 'istio-system']);
    const produced = await h.tools.run(
      { tool: 'istioctl', args: ['create-remote-secret', '--context=cluster2', '--name=cluster2', '-n', 'istio-system'], context: 'cluster2' },
      { signal: new AbortController().signal, timeoutMs: 1000, step: 'attach-remote', cluster: 'cluster2' },
    );
    const token = /token: (\S+)/.exec(produced.stdout)?.[1] ?? '';
    expect(token).toMatch(/^eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(produced.stdout).toContain('istio/multiCluster: "true"');
    const applied = await h.run('kubectl', ['--context=cluster1', 'apply', '-f', '-'], produced.stdout);
    expect(applied.stdout).toBe('secret/istio-remote-secret-cluster2 created\n');
    const everything = [...(await h.objects('cluster1')), ...(await h.objects('cluster2'))].map((o) => o.bodyJson).join('\n');
    expect(everything).toContain('istio-remote-secret-cluster2');
    expect(everything).not.toContain(token);
  });
});
