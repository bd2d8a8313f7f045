// mesh-run mesh discover: a mesh read back from its clusters. Each example is installed on simulated clusters,
// then discovered from them alone: the roles, networks, control planes and revision must be the config's, and
// the config discovery writes must pass "config check" and describe the same clusters. Findings are made by
// changing the clusters as an operator would; tokens must reach no output and no byte of the store.
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { deriveMesh } from '../engine/activities/discovered-mesh.js';
import type { ClusterFacts } from '../engine/activities/mesh-discovery.js';
import { loadConfig } from '../engine/config/mesh-config.js';
import { runIdFrom, tempDir } from './support/cli.js';
import { runCli } from './support/cli-here.js';
import { copyExamples } from './support/examples.js';
import { readJournal } from './support/journal.js';
import { NEEDLES, TOKEN, tokenEnv, withToken } from './support/secret-leaks.js';
import { simCommand } from './support/sim.js';
import { findLeak } from './support/token-scan.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const examples = join(tmp.dir, 'examples');
copyExamples(examples);
const FAST = ['--dry-run', '--sim-lb-delay', '0', '-q'];

interface Report {
  ok: boolean;
  topology?: string;
  clusters: Array<{ name: string; role: string; network?: string; controlPlane?: string; revision?: string; meshID?: string }>;
  findings: Array<{ level: string; message: string }>;
  config: { meshID?: string; revision?: string };
}

// The clusters as a config describes them, in a form two configs can be compared by.
function membersOf(file: string) {
  const { config } = loadConfig(file, {});
  return {
    meshID: config.meshID,
    revision: config.revision ?? 'default',
    clusters: config.clusters
      .map((c) => ({ name: c.name, context: c.context, role: c.role, network: c.network, controlPlane: c.controlPlane ?? null }))
      .sort((a, b) => a.name.localeCompare(b.name)),
  };
}

async function installed(config: string, db: string, env?: Record<string, string>): Promise<string> {
  const result = await runCli(['install', ...FAST, '-c', config, '--db', db], env ? { env } : {});
  expect(result.code, result.stderr).toBe(0);
  return runIdFrom(result);
}

describe('mesh-run mesh discover on a dry-run install', () => {
  const cases = ['primary-remote', 'primary-remote-multi-network', 'multi-primary', 'multi-primary-multi-network', 'mixed-fleet', 'canary'];
  for (const name of cases) {
    it(`finds ${name} as its config says, and writes a config that check accepts and that names the same mesh`, async () => {
      let config = join(examples, `${name}.yaml`);
      if (name === 'canary') {
        // A revisioned control plane: the revision is discovered from istiod and the remote's injector.
        config = join(tmp.dir, 'canary.yaml');
        writeFileSync(config, readFileSync(join(examples, 'primary-remote.yaml')));
        appendFileSync(config, '\nrevision: canary\n');
      }
      const db = join(tmp.dir, `${name}.db`);
      await installed(config, db);
      const want = membersOf(config);
      const json = await runCli(['mesh', 'discover', '--mesh', want.meshID, '--db', db, '-o', 'json']);
      expect(json.code, json.stdout + json.stderr).toBe(0);
      const report = JSON.parse(json.stdout) as Report;
      expect(report.findings.filter((f) => f.level === 'blocking')).toEqual([]);
      const byName = new Map(report.clusters.map((c) => [c.name, c]));
      for (const c of want.clusters) {
        expect(byName.get(c.name), c.name).toMatchObject({ role: c.role, network: c.network, revision: want.revision });
        expect(byName.get(c.name)?.controlPlane ?? null, `${c.name} control plane`).toBe(c.role === 'remote' ? c.controlPlane : null);
      }
      for (const c of report.clusters.filter((c) => c.role === 'primary')) expect(c.meshID).toBe(want.meshID);

      const yaml = await runCli(['mesh', 'discover', '--mesh', want.meshID, '--db', db, '-o', 'yaml']);
      expect(yaml.code, yaml.stderr).toBe(0);
      const written = join(tmp.dir, `${name}-discovered.yaml`);
      writeFileSync(written, yaml.stdout);
      const check = await runCli(['config', 'check', '-c', written]);
      expect(check.code, check.stdout + check.stderr).toBe(0);
      expect(membersOf(written)).toEqual(want);

      const text = await runCli(['mesh', 'discover', '--mesh', want.meshID, '--db', db]);
      expect(text.code).toBe(0);
      expect(text.stdout).toContain(`: ${report.topology}`);
    });
  }

  it('reports a remote whose primary holds no secret for it (exit 3), and no token reaches an output or the store', async () => {
    const db = join(tmp.dir, 'finding.db');
    const id = await installed(join(examples, 'primary-remote.yaml'), db, tokenEnv);
    const clean = await runCli(['mesh', 'discover', '--mesh', 'mesh1', '--db', db, '-o', 'json'], { env: tokenEnv });
    expect(clean.code, clean.stderr).toBe(0);
    // The secret was there, and its server was read (in memory); its token was not kept.
    const primary = (
      JSON.parse(clean.stdout) as { clusters: Array<{ name: string; remoteSecrets: Array<{ clusters: string[]; server: string }> }> }
    ).clusters.find((c) => c.name === 'cluster1');
    expect(primary?.remoteSecrets).toEqual([{ name: 'istio-remote-secret-cluster2', clusters: ['cluster2'], server: expect.stringMatching(/^https:\/\//) }]);

    const world = (await readJournal(db, id)).run.simWorld;
    const removed = await withToken(() => simCommand(db, world, 'cluster1', ['-n', 'istio-system', 'delete', 'secret', 'istio-remote-secret-cluster2']));
    expect(removed.exitCode, removed.stderr).toBe(0);
    const missing = await runCli(['mesh', 'discover', '--mesh', 'mesh1', '--db', db], { env: tokenEnv });
    expect(missing.code).toBe(3);
    expect(missing.stdout).toContain('remote cluster2: its primary cluster1 holds no secret for it');
    expect(missing.stdout).toContain('hint: istiod on cluster1 cannot see cluster2');
    const yaml = await runCli(['mesh', 'discover', '--mesh', 'mesh1', '--db', db, '-o', 'yaml'], { env: tokenEnv });
    expect(yaml.code).toBe(3);
    expect(yaml.stdout).toContain('# blocking: remote cluster2: its primary cluster1 holds no secret for it');
    expect(yaml.stderr).toContain('blocking: remote cluster2');

    for (const out of [clean, missing, yaml]) expect(findLeak(out.stdout + out.stderr, NEEDLES)).toBeUndefined();
    for (const file of [db, `${db}-wal`, `${db}-shm`]) if (existsSync(file)) expect(findLeak(readFileSync(file), NEEDLES), file).toBeUndefined();
    // The scan finds the token where it is.
    expect(findLeak(`x${TOKEN}y`, NEEDLES)).toBeDefined();
  });

  it('refuses bad input with exit 2: no clusters, two ways of naming them, an unknown mesh', async () => {
    const none = await runCli(['mesh', 'discover']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('no clusters: give -c <config>, --context <cluster>=<context>');
    const both = await runCli(['mesh', 'discover', '--mesh', 'mesh1', '--context', 'a=ctx-a']);
    expect(both.code).toBe(2);
    const twice = await runCli(['mesh', 'discover', '--context', 'a=ctx', '--context', 'b=ctx']);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toContain('would both use context "ctx"');
    const bad = await runCli(['mesh', 'discover', '--context', 'nocontext']);
    expect(bad.code).toBe(2);
    // A context that does not answer (or no kubectl at all) is a cluster not read, never one without Istio.
    const silent = await runCli(['mesh', 'discover', '--context', 'east=no-such-context-x']);
    expect(silent.code).toBe(3);
    expect(silent.stdout).toContain('cluster east: cannot be read');
    expect(silent.stdout).not.toContain('no Istio');
    const db = join(tmp.dir, 'primary-remote.db');
    const unknown = await runCli(['mesh', 'discover', '--mesh', 'nosuch', '--db', db]);
    expect(unknown.code).toBe(4);
  });
});

// Facts as a cluster would show them; each test changes what it is about.
function facts(name: string, over: Partial<ClusterFacts> = {}): ClusterFacts {
  return { name, context: name, istioSystem: true, istiods: [], injectors: [], revisionTags: [], remoteSecrets: [], cacerts: true, ...over };
}
const istiod = (meshID: string) => [{ name: 'istiod', revision: 'default', meshID, network: 'network1', externalIstiod: true }];
const secret = (cluster: string) => ({ name: `istio-remote-secret-${cluster}`, clusters: [cluster], server: 'https://10.0.0.9:6443' });
const injector = [{ name: 'istio-sidecar-injector', revision: 'default' }];
const messages = (fs: ClusterFacts[]) => deriveMesh(fs).findings.map((f) => `${f.level}: ${f.message}`);

describe('what discovery finds wrong', () => {
  it('a remote secret for a cluster not among the given ones', () => {
    expect(messages([facts('p', { istiods: istiod('m'), remoteSecrets: [secret('r'), secret('ghost')] }), facts('r', { injectors: injector })])).toEqual([
      'blocking: primary p: remote secret istio-remote-secret-ghost is for cluster ghost, which is not among the given clusters',
    ]);
  });

  it('differing meshIDs, and a cluster with no Istio', () => {
    const found = messages([
      facts('a', { istiods: istiod('m1'), remoteSecrets: [secret('b')] }),
      facts('b', { istiods: istiod('m2'), remoteSecrets: [secret('a')] }),
      facts('c', { istioSystem: false }),
    ]);
    expect(found).toContain('blocking: the primaries differ in meshID: m1 on a; m2 on b');
    expect(found).toContain('blocking: cluster c: no Istio (no istiod, no remote profile, no istio-system)');
  });

  it('two primaries claiming one remote, by annotation and by secrets', () => {
    const primaries = [
      facts('a', { istiods: istiod('m'), remoteSecrets: [secret('r'), secret('b')] }),
      facts('b', { istiods: istiod('m'), remoteSecrets: [secret('r'), secret('a')] }),
    ];
    expect(messages([...primaries, facts('r', { injectors: injector })])).toEqual([
      'blocking: remote r: claimed by 2 primaries (a, b, by their remote secrets)',
    ]);
    expect(messages([...primaries, facts('r', { injectors: injector, controlPlaneClusters: ['a', 'b'] })])).toEqual([
      'blocking: remote r: claimed by 2 primaries (a, b, by its controlPlaneClusters annotation)',
    ]);
    // One annotated control plane is no claim by two, though both primaries read the remote (a mixed fleet).
    const one = deriveMesh([...primaries, facts('r', { injectors: injector, controlPlaneClusters: ['a'] })]);
    expect(one.findings).toEqual([]);
    expect(one.config.clusters.find((c) => c.name === 'r')).toEqual({ name: 'r', context: 'r', role: 'remote', network: 'network1', controlPlane: 'a' });
  });

  it('a remote served by a url injector (the remote profile) on its own network', () => {
    const report = deriveMesh([
      facts('p', { istiods: istiod('m'), remoteSecrets: [secret('r')] }),
      facts('r', { injectors: [{ name: 'istio-sidecar-injector', revision: 'default', url: 'https://x:15017/inject/cluster/r/net/n2', network: 'n2' }] }),
    ]);
    expect(report.findings).toEqual([]);
    expect(report.config.clusters.map((c) => `${c.name} ${c.role} ${c.network} ${c.controlPlane ?? '-'}`)).toEqual(['p primary network1 -', 'r remote n2 p']);
    expect(report.topology).toBe('primary-remote multi-network');
  });
});
