// mesh-run repair of the kinds that reinstall part of a cluster's Istio: the east-west gateway (and the remotes
// that follow its address), a remote pointed at an old gateway address, a control plane gone or running with
// other values, the mesh's CA, the default tag, and istiod unsynced through its secret. Each is injected on a
// simulated mesh as an operator would (kubectl on the simulator), found, repaired through install's own steps
// only, then drift finds nothing, verify passes and a second repair has nothing to do. A repair that fails or is
// killed half-way resumes to the same clean mesh. The choice of repairs (what follows, what is refused) is pure
// and checked on its own last.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import type { DriftItem } from '../engine/activities/drift-model.js';
import { chooseRepairs, type RepairFacts } from '../engine/activities/repair-choice.js';
import { tagsMeshRunMade } from '../engine/activities/tag-ownership.js';
import { generateIntermediate, generateRoot } from '../engine/activities/trust/ca.js';
import type { MeshCluster } from '../shared/model.js';
import type { Observation } from '../store/contract.js';
import { runIdFrom, tempDir } from './support/cli.js';
import { runCli } from './support/cli-here.js';
import { onlyRunId } from './support/crash-resume.js';
import { readJournal } from './support/journal.js';
import { type Mesh, repairCases } from './support/repair-cases.js';
import { tokenEnv } from './support/secret-leaks.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const { cli, install, copyOf, kubectl, json, driftOf, repair, slotsOf, expectClean, expectRepaired, expectNoLeaks, canaryTag, tagOf } = repairCases(tmp.dir);

interface Service {
  metadata: Record<string, unknown>;
  status: { loadBalancer: { ingress: Array<{ ip: string }> } };
}

const GATEWAY = ['-n', 'istio-system', 'service', 'istio-eastwestgateway'];
const gatewayIp = async (m: Mesh) => (await json<Service>(m, 'cluster1', ['get', ...GATEWAY])).status.loadBalancer.ingress[0]?.ip as string;

// The load balancer re-provisioned the gateway's Service at another address (as a cloud's may after a re-create).
async function moveGateway(m: Mesh, ip: string): Promise<void> {
  const svc = await json<Service>(m, 'cluster1', ['get', ...GATEWAY]);
  const { uid: _u, resourceVersion: _r, creationTimestamp: _c, ...metadata } = svc.metadata;
  await kubectl(m, 'cluster1', ['delete', ...GATEWAY]);
  await kubectl(m, 'cluster1', ['apply', '-f', '-'], JSON.stringify({ ...svc, metadata, status: { loadBalancer: { ingress: [{ ip }] } } }));
}

// The gateway's Service deleted, and its address taken by another load-balanced Service meanwhile: the gateway
// installed again gets another one.
async function dropGateway(m: Mesh): Promise<string> {
  const old = await gatewayIp(m);
  await kubectl(m, 'cluster1', ['delete', ...GATEWAY]);
  const squatter = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'squatter', namespace: 'istio-system' },
    spec: { type: 'LoadBalancer', ports: [{ port: 80 }] },
  };
  await kubectl(m, 'cluster1', ['apply', '-f', '-'], JSON.stringify({ ...squatter, status: { loadBalancer: { ingress: [{ ip: old }] } } }));
  return old;
}

// Commands of a repair run, as argv joined, on one context.
async function commandsOf(m: Mesh, stdout: string, context: string): Promise<string[]> {
  const journal = await readJournal(m.db, runIdFrom({ stdout } as never));
  return journal.commands.filter((c) => c.argv.includes(`--context=${context}`)).map((c) => c.argv.join(' '));
}

describe('mesh-run repair of reinstalled parts on a primary-remote mesh', () => {
  let mesh: Mesh;
  const base = () => mesh;
  beforeAll(async () => {
    mesh = await install('primary-remote');
  });

  it("the gateway's address moved: the remote installed again at the address read now (gateway-address)", async () => {
    const { mesh: m, repaired } = await expectRepaired(base, (c) => moveGateway(c, '172.18.1.77'), ['gateway-address@cluster2'], ['repair-remote@cluster2']);
    expect(repaired.stderr).toBe('');
    const journal = await readJournal(m.db, runIdFrom(repaired as never));
    expect(journal.events.map((e) => e.detail)).toContainEqual(expect.stringMatching(/remotePilotAddress of cluster2: 172\.18\.1\.\d+ -> 172\.18\.1\.77/));
  });

  it('the gateway deleted and its address taken: gateway first, then the remote follows its new address (east-west-gateway)', async () => {
    let old = '';
    const { mesh: m, slots } = await expectRepaired(
      base,
      async (c) => {
        old = await dropGateway(c);
      },
      ['east-west-gateway@cluster1'],
      ['repair-gateway@cluster1', 'repair-remote@cluster2'],
    );
    expect(slots.indexOf('repair-gateway@cluster1')).toBeLessThan(slots.indexOf('repair-remote@cluster2'));
    const now = await gatewayIp(m);
    expect(now).not.toBe(old);
    const endpoints = await kubectl(m, 'cluster2', ['-n', 'istio-system', 'get', 'endpointslices', '-o', 'json']);
    expect(endpoints).toContain(now);
    expect(endpoints).not.toContain(old);
  });

  it('the gateway deleted, its address free: installed again at the same address, and the remote left as it is', async () => {
    const { mesh: m, repaired } = await expectRepaired(
      base,
      (c) => kubectl(c, 'cluster1', ['delete', ...GATEWAY]),
      ['east-west-gateway@cluster1'],
      ['repair-gateway@cluster1', 'repair-remote@cluster2'],
    );
    expect((await commandsOf(m, repaired.stdout, 'cluster2')).filter((c) => c.startsWith('istioctl install'))).toEqual([]);
  });

  it('a default revision tag no mesh-run upgrade made: left without --force (exit 5, the tag untouched), with the command that repairs it', async () => {
    const m = copyOf(base());
    await canaryTag(m, 'cluster1');
    const left = await repair(m, '-q');
    expect(left.code, left.stderr).toBe(5);
    expect(left.stderr).toContain('no mesh-run upgrade made the default revision tag on cluster1 (MutatingWebhookConfiguration istio-revision-tag-default)');
    expect(left.stderr).toContain('"mesh-run repair --mesh mesh1 --only default-tag --force"');
    expect(left.stdout).toContain('nothing to repair');
    expect(await tagOf(m, 'cluster1')).toBe('canary');
  });

  it('with --force: the tag removed, as the mesh has no revision of its own, and the journal names the webhook it deleted (default-tag)', async () => {
    const { mesh: m, repaired } = await expectRepaired(base, (c) => canaryTag(c, 'cluster1'), ['default-tag@cluster1'], ['repair-tag@cluster1'], ['--force']);
    const journal = await readJournal(m.db, runIdFrom(repaired as never));
    expect(journal.events.filter((e) => e.type === 'deleted-preexisting').map((e) => e.detail)).toEqual([
      expect.stringContaining('mutatingwebhookconfiguration istio-revision-tag-default on cluster1: default tag -> canary removed'),
    ]);
    expect(await tagOf(m, 'cluster1')).toBeUndefined();
  });

  it("a tag a mesh-run upgrade made, moved by hand: pointed at the mesh's revision again without --force, the journal saying what it overwrote", async () => {
    const upgraded = copyOf(base());
    const up = await cli(['upgrade', '--mesh', 'mesh1', '--revision', 'canary', '-q', '--db', upgraded.db]);
    expect(up.code, up.stderr).toBe(0);
    expect(await tagOf(upgraded, 'cluster1')).toBe('canary');
    const { mesh: m, repaired } = await expectRepaired(
      () => upgraded,
      (c) => canaryTag(c, 'cluster1', 'blue'),
      ['default-tag@cluster1'],
      ['repair-tag@cluster1'],
    );
    const journal = await readJournal(m.db, runIdFrom(repaired as never));
    expect(journal.events.filter((e) => e.type === 'overwrote').map((e) => e.detail)).toContainEqual(
      'mutatingwebhookconfiguration istio-revision-tag-default on cluster1: default tag -> blue -> canary (made by a mesh-run upgrade)',
    );
    expect(await tagOf(m, 'cluster1')).toBe('canary');
  });

  it('istiod deleted: the control plane installed again (istio-missing on the primary)', () =>
    expectRepaired(
      base,
      (c) => kubectl(c, 'cluster1', ['-n', 'istio-system', 'delete', 'deployment', 'istiod']),
      ['istio-missing@cluster1'],
      ['repair-control-plane@cluster1'],
    ));

  it("the remote's injector deleted: the remote profile installed again (istio-missing on the remote)", () =>
    expectRepaired(
      base,
      (c) => kubectl(c, 'cluster2', ['delete', 'mutatingwebhookconfiguration', 'istio-sidecar-injector']),
      ['istio-missing@cluster2'],
      ['repair-remote@cluster2'],
    ));

  it("istiod running with another cluster name: the control plane installed again with the journal's (istiod-identity)", () =>
    expectRepaired(
      base,
      async (c) => {
        const istiod = await json<{ spec: { template: { spec: { containers: Array<{ env?: Array<{ name: string; value: string }> }> } } } }>(c, 'cluster1', [
          '-n',
          'istio-system',
          'get',
          'deployment',
          'istiod',
        ]);
        for (const k of istiod.spec.template.spec.containers) for (const e of k.env ?? []) if (e.name === 'CLUSTER_ID') e.value = 'clusterX';
        await kubectl(c, 'cluster1', ['apply', '--server-side', '-f', '-'], JSON.stringify(istiod));
      },
      ['istiod-identity@cluster1'],
      ['repair-control-plane@cluster1'],
    ));

  it('istiod unsynced (its secret carries no bearer token): the secret written again (istiod-unsynced)', () =>
    expectRepaired(
      base,
      async (c) => {
        const secret = await json<{ data: Record<string, string> }>(c, 'cluster1', ['get', 'secret', 'istio-remote-secret-cluster2', '-n', 'istio-system']);
        const kubeconfig = parse(Buffer.from(secret.data.cluster2 as string, 'base64').toString()) as { users: Array<{ user: unknown }> };
        (kubeconfig.users[0] as { user: unknown }).user = { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'aws' } };
        secret.data.cluster2 = Buffer.from(stringify(kubeconfig)).toString('base64');
        await kubectl(c, 'cluster1', ['apply', '--server-side', '-f', '-'], JSON.stringify(secret));
      },
      ['istiod-unsynced@cluster1'],
      ['repair-secret@cluster1'],
    ));

  it('a repair failing after the gateway is back, before the remote follows: exit 1, the remote drifted, resume finishes', async () => {
    const m = copyOf(mesh);
    await dropGateway(m);
    const failed = await repair(m, '-q', '--inject-failure', 'repair-remote@cluster2');
    expect(failed.code, failed.stderr).toBe(1);
    expect((await driftOf(m)).found).toEqual(['gateway-address@cluster2']);
    const resumed = await cli(['resume', runIdFrom(failed as never), '--db', m.db, '-q']);
    expect(resumed.code, resumed.stderr).toBe(0);
    await expectClean(m);
  });

  it('a repair killed at commands spread over its run (SIGKILL) resumes to the same clean mesh', async () => {
    const changed = copyOf(mesh);
    await dropGateway(changed);
    // How many commands the run has: an uninterrupted repair of a copy, its crash points traced.
    const trace = join(tmp.dir, 'repair.trace');
    const reference = copyOf(changed);
    expect((await cli(['repair', '--mesh', 'mesh1', '--db', reference.db, '-q'], { MESH_RUN_CRASH_TRACE: trace })).code).toBe(0);
    const total = readFileSync(trace, 'utf8')
      .split('\n')
      .filter((p) => p === 'after-command').length;
    expect(total).toBeGreaterThan(6);
    for (const n of [2, Math.ceil(total / 2), total - 2]) {
      const m = copyOf(changed);
      const killed = await runCli(['repair', '--mesh', 'mesh1', '--db', m.db, '-q'], { env: { ...tokenEnv, MESH_RUN_CRASH_AT: `after-command:${n}` } });
      expect(killed.signal, `point ${n}: ${killed.stderr}`).toBe('SIGKILL');
      const id = (await onlyRunId(m.db, 'repair')) as string;
      const resumed = await cli(['resume', id, '--db', m.db, '-q']);
      expect(resumed.code, `point ${n}: ${resumed.stderr}`).toBe(0);
      await expectClean(m);
    }
  });
});

describe("mesh-run repair of a primary's CA on a multi-primary multi-network mesh", () => {
  let mesh: Mesh;
  const base = () => mesh;
  beforeAll(async () => {
    mesh = await install('multi-primary-multi-network');
  });

  it('cacerts deleted while istiod still signs with the CA: plugged in again from trust.outputDir, istiod not restarted', async () => {
    const { mesh: m, repaired } = await expectRepaired(
      base,
      (c) => kubectl(c, 'cluster2', ['-n', 'istio-system', 'delete', 'secret', 'cacerts']),
      ['cacerts-missing@cluster2'],
      ['repair-trust@cluster2'],
    );
    expect((await commandsOf(m, repaired.stdout, 'cluster2')).filter((c) => c.includes('rollout restart'))).toEqual([]);
  });

  it('cacerts deleted and istiod restarted on a root of its own: plugged in again, istiod restarted, the roots one again', async () => {
    const { mesh: m, repaired } = await expectRepaired(
      base,
      async (c) => {
        await kubectl(c, 'cluster2', ['-n', 'istio-system', 'delete', 'secret', 'cacerts']);
        await kubectl(c, 'cluster2', ['-n', 'istio-system', 'rollout', 'restart', 'deployment/istiod']);
      },
      ['cacerts-missing@cluster2', 'roots-differ@cluster2'],
      ['repair-trust@cluster2'],
    );
    expect((await commandsOf(m, repaired.stdout, 'cluster2')).filter((c) => c.includes('rollout restart'))).toHaveLength(1);
  });

  it("cacerts replaced with another root's: left without --force (exit 5), replaced with it (journaled), no key anywhere", async () => {
    const m = copyOf(mesh);
    const other = await generateRoot({ keySize: 2048, rootDays: 3650, intermediateDays: 365 });
    const bundle = await generateIntermediate(other, 'cluster2', { keySize: 2048, rootDays: 3650, intermediateDays: 365 });
    const data = Object.fromEntries(Object.entries(bundle).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
    await kubectl(m, 'cluster2', ['-n', 'istio-system', 'delete', 'secret', 'cacerts']);
    await kubectl(
      m,
      'cluster2',
      ['create', '-f', '-'],
      JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'cacerts', namespace: 'istio-system' }, data }),
    );
    expect((await driftOf(m)).found).toEqual(['cacerts-changed@cluster2', 'roots-differ@cluster2']);
    const refused = await repair(m);
    expect(refused.code).toBe(5);
    expect(refused.stdout).toContain('nothing to repair');
    expect(refused.stderr).toMatch(/cacerts-changed cluster2: not repaired by this version: .*"mesh-run repair --force" puts the mesh's CA back/);
    const forced = await repair(m, '--force', '-q');
    expect(forced.code, forced.stderr).toBe(0);
    expect((await slotsOf(m, forced.stdout)).filter((s) => s.startsWith('repair-'))).toEqual(['repair-trust@cluster2']);
    const journal = await readJournal(m.db, runIdFrom(forced as never));
    expect(journal.events.map((e) => e.detail)).toContainEqual(
      expect.stringMatching(/^secret istio-system\/cacerts on cluster2: root \w+, intermediate \w+, not made by mesh-run -> the mesh's CA/),
    );
    await expectClean(m);
    const key = bundle['ca-key.pem'].split('\n')[1] as string;
    for (const file of [m.db, `${m.db}-wal`]) if (existsSync(file)) expect(readFileSync(file).includes(key)).toBe(false);
    for (const out of [refused, forced]) expect(`${out.stdout}${out.stderr}`).not.toContain(key);
  });
});

describe('which drift a repair takes, and how (pure)', () => {
  const clusters: MeshCluster[] = [
    { name: 'p1', context: 'p1', role: 'primary', network: 'n1' },
    { name: 'r1', context: 'r1', role: 'remote', network: 'n1', controlPlane: 'p1' },
    { name: 'r2', context: 'r2', role: 'remote', network: 'n1', controlPlane: 'p1' },
  ];
  const facts = (over: Partial<RepairFacts> = {}): RepairFacts => ({
    config: { meshID: 'm', clusters } as RepairFacts['config'],
    adopted: new Set(),
    force: false,
    tagsMade: new Set(),
    caProblem: () => undefined,
    ...over,
  });
  const item = (kind: string, cluster: string, extra: Partial<DriftItem> = {}) => ({ kind, cluster, what: 'w', why: 'y', repair: 'r', ...extra }) as DriftItem;

  it("a primary's gateway: its remotes follow, except an adopted one; an explicit remote repair is not doubled", () => {
    const chosen = chooseRepairs([item('east-west-gateway', 'p1'), item('gateway-address', 'r1')], facts({ adopted: new Set(['r2']) }));
    expect(chosen.repairs).toEqual([
      { kind: 'east-west-gateway', action: 'gateway', cluster: 'p1' },
      { kind: 'gateway-address', action: 'remote', cluster: 'r1' },
    ]);
    expect(chooseRepairs([item('east-west-gateway', 'p1')], facts()).repairs.map((r) => `${r.action}@${r.cluster}${r.follows ? `<${r.follows}` : ''}`)).toEqual(
      ['gateway@p1', 'remote@r1<p1', 'remote@r2<p1'],
    );
  });

  it('istio-missing reinstalls a primary or a remote by role, never an adopted cluster', () => {
    expect(chooseRepairs([item('istio-missing', 'p1'), item('istio-missing', 'r1')], facts()).repairs.map((r) => r.action)).toEqual([
      'control-plane',
      'remote',
    ]);
    const adopted = chooseRepairs([item('istiod-identity', 'p1')], facts({ adopted: new Set(['p1']) }));
    expect(adopted.repairs).toEqual([]);
    expect(adopted.unrepairable[0]?.reason).toContain("mesh-run adopted p1's Istio");
  });

  it("the CA: only the mesh's own, and one holding another CA only with --force", () => {
    expect(chooseRepairs([item('cacerts-missing', 'p1')], facts({ caProblem: () => 'not kept' })).unrepairable[0]?.reason).toBe('not kept');
    const changed = [item('cacerts-changed', 'p1')];
    expect(chooseRepairs(changed, facts()).unrepairable[0]?.reason).toContain('mesh-run repair --force');
    expect(chooseRepairs(changed, facts({ force: true })).repairs).toEqual([{ kind: 'cacerts-changed', action: 'cacerts', cluster: 'p1', force: true }]);
  });

  it('the default tag: one a mesh-run upgrade made is repaired, another only with --force (and the step told so)', () => {
    const tag = [item('default-tag', 'p1')];
    expect(chooseRepairs(tag, facts()).unrepairable[0]?.reason).toContain('"mesh-run repair --mesh m --only default-tag --force"');
    expect(chooseRepairs(tag, facts()).repairs).toEqual([]);
    expect(chooseRepairs(tag, facts({ tagsMade: new Set(['p1']) })).repairs).toEqual([{ kind: 'default-tag', action: 'default-tag', cluster: 'p1' }]);
    expect(chooseRepairs(tag, facts({ force: true })).repairs).toEqual([{ kind: 'default-tag', action: 'default-tag', cluster: 'p1', force: true }]);
  });

  it("whose the default tag is: an upgrade's that found none and was not rolled back", () => {
    const seen = (runId: string, cluster: string, present: boolean) =>
      ({ runId, cluster, subject: 'upgrade/tag/default', present, owner: null, detail: present ? { revision: 'x' } : null, at: 0 }) as Observation;
    const lineage = [
      { id: 'rb', kind: 'upgrade-rollback', targetRun: 'u3' },
      { id: 'u3', kind: 'upgrade', targetRun: 'u2' },
      { id: 'u2', kind: 'upgrade', targetRun: 'u1' },
      { id: 'u1', kind: 'upgrade', targetRun: 'i' },
      { id: 'i', kind: 'install', targetRun: null },
    ] as const;
    const made = tagsMeshRunMade(lineage, [
      seen('u1', 'a', false),
      seen('u2', 'a', true),
      seen('u1', 'b', true),
      seen('u2', 'b', true),
      seen('u3', 'c', false),
      seen('u2', 'd', false),
      seen('u2', 'd', true),
    ]);
    // a: u1 made it, u2 moved it; b: there before mesh-run; c: made by a rolled-back upgrade; d: u2's first look.
    expect([...made].sort()).toEqual(['a', 'd']);
  });

  it('revision, injector-ca-empty and roots-differ are left with why; istiod-unsynced needs whose secret', () => {
    const left = chooseRepairs(
      [
        item('revision', 'p1'),
        item('injector-ca-empty', 'r1'),
        item('roots-differ', 'p1'),
        item('istiod-unsynced', 'p1'),
        item('istiod-unsynced', 'p1', { source: 'r1' }),
      ],
      facts(),
    );
    expect(left.repairs).toEqual([{ kind: 'istiod-unsynced', action: 'secret', cluster: 'p1', source: 'r1' }]);
    expect(left.unrepairable.map((u) => u.reason)).toEqual([
      expect.stringContaining('two control planes'),
      expect.stringContaining('istiod on p1 writes this CA itself'),
      expect.stringContaining('mesh-run trust audit --mesh m'),
      'the drift check did not say whose secret it is',
    ]);
  });
});

describe('no token in any output', () => {
  it('every output above is free of the token and its encodings, and so is every journal', () => expectNoLeaks(40));
});
