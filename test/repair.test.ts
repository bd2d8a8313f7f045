// mesh-run repair: a drift check, then a resumable run of kind repair that puts back what drifted through
// install's own steps. Each example is installed once on simulated clusters; each case copies that journal
// (and its world), changes the clusters as drift.test.ts does, repairs, and then drift must find nothing
// (exit 0) and verify must pass. --only limits; a kind this version does not repair is listed (exit 5); a
// failed repair resumes; an adopted mesh is repaired too; tokens reach no output and no journal.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { runIdFrom, tempDir } from './support/cli.js';
import { runCli } from './support/cli-here.js';
import { readJournal } from './support/journal.js';
import { type Mesh, repairCases } from './support/repair-cases.js';
import { tokenEnv } from './support/secret-leaks.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const { cli, install, copyOf, kubectl, driftOf, repair, slotsOf, expectRepaired, expectNoLeaks, examples, dbs } = repairCases(tmp.dir);

const b64 = (text: string) => Buffer.from(text).toString('base64');

describe('mesh-run repair on a primary-remote mesh', () => {
  let mesh: Mesh;
  const base = () => mesh;
  beforeAll(async () => {
    mesh = await install('primary-remote');
  });

  it('nothing drifted: "nothing to repair", exit 0, no run recorded', async () => {
    const m = copyOf(mesh);
    const runsBefore = (await cli(['runs', '--db', m.db, '--json'])).stdout;
    const result = await repair(m);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('nothing to repair');
    expect((await cli(['runs', '--db', m.db, '--json'])).stdout).toBe(runsBefore);
  });

  it('a remote secret deleted: repair-secret on the primary', () =>
    expectRepaired(
      base,
      (m) => kubectl(m, 'cluster1', ['-n', 'istio-system', 'delete', 'secret', 'istio-remote-secret-cluster2']),
      ['remote-secret-missing@cluster1'],
      ['repair-secret@cluster1'],
    ));

  it('a remote secret dialling another server: written again with the right one', () =>
    expectRepaired(
      base,
      async (m) => {
        const secret = JSON.parse(await kubectl(m, 'cluster1', ['get', 'secret', 'istio-remote-secret-cluster2', '-n', 'istio-system', '-o', 'json'])) as {
          data: Record<string, string>;
        };
        const kubeconfig = parse(Buffer.from(secret.data.cluster2 as string, 'base64').toString()) as { clusters: Array<{ cluster: { server: string } }> };
        (kubeconfig.clusters[0] as { cluster: { server: string } }).cluster.server = 'https://10.77.0.1:6443';
        secret.data.cluster2 = b64(stringify(kubeconfig));
        await kubectl(m, 'cluster1', ['apply', '--server-side', '-f', '-'], JSON.stringify(secret));
      },
      ['remote-secret-server@cluster1'],
      ['repair-secret@cluster1'],
    ));

  it("the secret's token revoked on the remote: a secret with the reader's token as it is now", () =>
    expectRepaired(
      base,
      (m) => kubectl(m, 'cluster2', ['-n', 'istio-system', 'delete', 'secret', 'istio-reader-service-account-istio-remote-secret-token']),
      ['remote-secret-token@cluster1'],
      ['repair-secret@cluster1'],
    ));

  it('a stale secret for a cluster that is not a member: deleted by name', () =>
    expectRepaired(
      base,
      (m) => {
        const ghost = {
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { name: 'istio-remote-secret-ghost', namespace: 'istio-system', labels: { 'istio/multiCluster': 'true' } },
          data: {
            ghost: b64(stringify({ clusters: [{ name: 'ghost', cluster: { server: 'https://10.99.0.1:6443' } }], users: [{ name: 'ghost', user: {} }] })),
          },
        };
        return kubectl(m, 'cluster1', ['apply', '-f', '-'], JSON.stringify(ghost));
      },
      ['remote-secret-stale@cluster1'],
      ['remove-stale-secret@cluster1'],
    ));

  it('the control-plane annotation removed or naming another cluster: repair-annotation', async () => {
    const ns = ['namespace', 'istio-system'];
    await expectRepaired(
      base,
      (m) => kubectl(m, 'cluster2', ['annotate', ...ns, 'topology.istio.io/controlPlaneClusters=cluster9', '--overwrite']),
      ['control-plane-annotation@cluster2'],
      ['repair-annotation@cluster2'],
    );
  });

  it('the network label changed: repair-label', () =>
    expectRepaired(
      base,
      (m) => kubectl(m, 'cluster2', ['label', 'namespace', 'istio-system', 'topology.istio.io/network=network9', '--overwrite']),
      ['network-label@cluster2'],
      ['repair-label@cluster2'],
    ));

  it('the istiod expose VirtualService deleted: repair-expose', () =>
    expectRepaired(
      base,
      (m) => kubectl(m, 'cluster1', ['-n', 'istio-system', 'delete', 'virtualservice.networking.istio.io', 'istiod-vs']),
      ['expose-istiod@cluster1'],
      ['repair-expose@cluster1'],
    ));

  it('a failed repair step exits 1 and resume finishes it', async () => {
    const m = copyOf(mesh);
    await kubectl(m, 'cluster1', ['-n', 'istio-system', 'delete', 'secret', 'istio-remote-secret-cluster2']);
    const failed = await repair(m, '-q', '--inject-failure', 'repair-secret@cluster1');
    expect(failed.code, failed.stderr).toBe(1);
    expect(failed.stderr).toContain('repair-secret');
    expect((await driftOf(m)).found).toContain('remote-secret-missing@cluster1');
    const resumed = await cli(['resume', runIdFrom(failed as never), '--db', m.db, '-q']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect((await driftOf(m)).code).toBe(0);
  });

  it('bad input is refused with exit 2, nothing changed; plan repair refuses it too', async () => {
    const m = copyOf(mesh);
    await kubectl(m, 'cluster1', ['-n', 'istio-system', 'delete', 'secret', 'istio-remote-secret-cluster2']);
    const bad = await repair(m, '--only', 'secret-gone');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--only secret-gone');
    const fault = await repair(m, '--inject-failure', 'no-such-step');
    expect(fault.code).toBe(2);
    expect((await driftOf(m)).found).toContain('remote-secret-missing@cluster1');
    // plan repair takes --only as repair does: a kind that is not one is refused the same way.
    const plan = await cli(['plan', 'repair', '--mesh', 'mesh1', '--only', 'no-such-kind', '--db', m.db]);
    expect(plan.code).toBe(2);
    expect(plan.stderr).toContain('--only no-such-kind: not a drift kind');
    const unknown = await cli(['repair', '--mesh', 'nope', '--db', m.db]);
    expect(unknown.code).toBe(4);
  });
});

describe('mesh-run repair on a multi-primary multi-network mesh', () => {
  let mesh: Mesh;
  const base = () => mesh;
  beforeAll(async () => {
    mesh = await install('multi-primary-multi-network');
  });

  it('a network label removed and the cross-network Gateway pruned: both put back in one run', () =>
    expectRepaired(
      base,
      async (m) => {
        await kubectl(m, 'cluster2', ['label', 'namespace', 'istio-system', 'topology.istio.io/network-']);
        await kubectl(m, 'cluster1', ['-n', 'istio-system', 'delete', 'gateway.networking.istio.io', 'cross-network-gateway']);
      },
      ['network-label@cluster2', 'expose-services@cluster1'],
      ['repair-label@cluster2', 'repair-expose@cluster1'],
    ));

  it("one primary's secret of the other deleted: repaired on that primary only", () =>
    expectRepaired(
      base,
      (m) => kubectl(m, 'cluster2', ['-n', 'istio-system', 'delete', 'secret', 'istio-remote-secret-cluster1']),
      ['remote-secret-missing@cluster2'],
      ['repair-secret@cluster2'],
    ));

  it('--only limits the repair to the kinds named; what it leaves out is listed and exits 5', async () => {
    const m = copyOf(mesh);
    await kubectl(m, 'cluster2', ['label', 'namespace', 'istio-system', 'topology.istio.io/network-']);
    await kubectl(m, 'cluster1', ['-n', 'istio-system', 'delete', 'gateway.networking.istio.io', 'cross-network-gateway']);
    const result = await repair(m, '--only', 'network-label');
    expect(result.code, result.stderr).toBe(5);
    expect(result.stderr).toMatch(/expose-services cluster1: left out by --only/);
    expect((await slotsOf(m, result.stdout)).filter((s) => s.startsWith('repair-'))).toEqual(['repair-label@cluster2']);
    expect((await driftOf(m)).found).toEqual(['expose-services@cluster1']);
  });

  it('a kind this version does not repair is reported with why and its repair text, exit 5, no run when it is all there is', async () => {
    const m = copyOf(mesh);
    await kubectl(m, 'cluster2', ['-n', 'istio-system', 'label', 'deployment', 'istiod', 'istio.io/rev=canary', '--overwrite']);
    const alone = await repair(m);
    expect(alone.code).toBe(5);
    expect(alone.stderr).toMatch(
      /revision cluster2: not repaired by this version: another revision runs there instead of the journal's default .*two control planes/,
    );
    expect(alone.stderr).toMatch(/\n {4}by hand: istioctl install -y --context=cluster2/);
    expect(alone.stdout).toContain('nothing to repair');
    const json = await repair(m, '--json');
    expect(json.code).toBe(5);
    expect(JSON.parse(json.stdout)).toMatchObject({
      ok: false,
      notRepaired: [{ kind: 'revision', cluster: 'cluster2', reason: expect.stringContaining('two control planes') }],
    });
    // With something it does repair: that is repaired, the rest listed, exit 5.
    await kubectl(m, 'cluster1', ['label', 'namespace', 'istio-system', 'topology.istio.io/network=network9', '--overwrite']);
    const mixed = await repair(m);
    expect(mixed.code, mixed.stderr).toBe(5);
    expect(mixed.stdout).toContain('drift repaired: network-label@cluster1');
    expect((await driftOf(m)).found).toEqual(['revision@cluster2']);
  });
});

describe('mesh-run repair on an adopted mesh (built by hand, as Istio pages build it)', () => {
  it('a deleted remote secret is written again; drift and verify pass', async () => {
    const db = join(tmp.dir, 'adopted.db');
    dbs.push(db);
    const adopted = await runCli(['mesh', 'adopt', '--name', 'mesh1', '--dry-run', '-q', '-c', join(examples, 'primary-remote.yaml'), '--db', db], {
      env: tokenEnv,
    });
    expect(adopted.code, adopted.stderr).toBe(0);
    const mesh = { db, world: (await readJournal(db, runIdFrom(adopted))).run.simWorld };
    await expectRepaired(
      () => mesh,
      (m) => kubectl(m, 'cluster1', ['-n', 'istio-system', 'delete', 'secret', 'istio-remote-secret-cluster2']),
      ['remote-secret-missing@cluster1'],
      ['repair-secret@cluster1'],
    );
  });
});

describe('no token in any output', () => {
  it('every output above is free of the token and its encodings, and so is every journal', () => expectNoLeaks(40));
});
