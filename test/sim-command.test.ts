// mesh-run sim kubectl|istioctl: a dry-run mesh changed by hand from the CLI. What the simulated tool says and
// its exit code come through; the change stays in the world (discover sees it); the journal is not written;
// a mesh on real clusters, a context not of the mesh, no arguments and an unknown mesh are mesh-run's refusals.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../engine/composition.js';
import { parseStoreLocation } from '../store/location.js';
import { runIdFrom, tempDir } from './support/cli.js';
import { runCli } from './support/cli-here.js';
import { copyExamples } from './support/examples.js';
import { readJournal } from './support/journal.js';
import { PROD, recordRealMesh } from './support/real-mesh.js';
import { NEEDLES, tokenEnv } from './support/secret-leaks.js';
import { findLeak } from './support/token-scan.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const examples = join(tmp.dir, 'examples');
copyExamples(examples);
const db = join(tmp.dir, 'mesh.db');
// The clusters' contexts differ from their names, so --context is shown to take either.
const CONTEXTS = ['--context', 'cluster1=kind-east', '--context', 'cluster2=kind-west'];
const sim = (tool: 'kubectl' | 'istioctl', context: string, args: string[], where = db) =>
  runCli(['sim', tool, '--mesh', 'mesh1', '--context', context, '--db', where, '--', ...args], { env: tokenEnv });
let id: string;

// What the journal holds of the install run, without the simulated clusters.
async function journalRows(): Promise<string> {
  const { cluster: _, ...rest } = await readJournal(db, id);
  const runs = await runCli(['runs', '-o', 'json', '--db', db]);
  return JSON.stringify(rest) + runs.stdout;
}

beforeAll(async () => {
  const installed = await runCli(['install', '--dry-run', '--sim-lb-delay', '0', '-q', '-c', join(examples, 'primary-remote.yaml'), ...CONTEXTS, '--db', db], {
    env: tokenEnv,
  });
  expect(installed.code, installed.stderr).toBe(0);
  id = runIdFrom(installed);
});

describe('mesh-run sim on a dry-run mesh', () => {
  it("passes the tool's arguments through untouched, by cluster name or context, with or without --", async () => {
    const byName = await sim('kubectl', 'cluster1', ['-n', 'istio-system', 'get', 'secrets', '-o', 'name']);
    expect(byName.code, byName.stderr).toBe(0);
    expect(byName.stdout).toBe('secret/istio-remote-secret-cluster2\n');
    const byContext = await sim('kubectl', 'kind-east', ['-n', 'istio-system', 'get', 'secrets', '-o', 'name']);
    expect(byContext.stdout).toBe(byName.stdout);
    // Without --: commander stops at the first argument and passes the rest on, flags included.
    const bare = await runCli(['sim', 'kubectl', '--mesh', 'mesh1', '--context', 'cluster2', '--db', db, 'get', 'namespace', 'istio-system', '-o', 'name']);
    expect(bare.code, bare.stderr).toBe(0);
    expect(bare.stdout).toBe('namespace/istio-system\n');
    // A --context among the tool's arguments reaches it and wins, as kubectl's last flag does.
    const other = await sim('kubectl', 'cluster1', ['--context=kind-west', '-n', 'istio-system', 'get', 'secrets', '-o', 'name']);
    expect(other.code, other.stderr).toBe(0);
    expect(other.stdout).not.toContain('istio-remote-secret-cluster2');
  });

  it('istioctl remote-clusters answers for the primary', async () => {
    const remotes = await sim('istioctl', 'cluster1', ['remote-clusters']);
    expect(remotes.code, remotes.stderr).toBe(0);
    expect(remotes.stdout).toMatch(/^cluster2\s+istio-system\/istio-remote-secret-cluster2\s+synced/m);
  });

  it("prints a Secret's data as asked, yet the token reaches neither the journal nor the database", async () => {
    const before = await journalRows();
    const yaml = await sim('kubectl', 'cluster1', ['-n', 'istio-system', 'get', 'secret', 'istio-remote-secret-cluster2', '-o', 'yaml']);
    expect(yaml.code, yaml.stderr).toBe(0);
    expect(yaml.stdout).toMatch(/^kind: Secret$/m);
    // The kubeconfig in the data holds the reader token: what a person asking a cluster for the secret gets.
    expect(findLeak(yaml.stdout, NEEDLES)).toBeDefined();
    expect(await journalRows()).toBe(before);
    for (const file of [db, `${db}-wal`]) if (existsSync(file)) expect(findLeak(readFileSync(file), NEEDLES), file).toBeUndefined();
  });

  it("passes the tool's failure through: its stderr and exit code, no mesh-run error", async () => {
    const missing = await sim('kubectl', 'cluster1', ['get', 'namespace', 'nosuch']);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toBe('Error from server (NotFound): namespaces "nosuch" not found\n');
  });

  it('a deleted remote secret stays deleted: discover finds it missing, and no run was made', async () => {
    const before = await journalRows();
    const deleted = await sim('kubectl', 'cluster1', ['-n', 'istio-system', 'delete', 'secret', 'istio-remote-secret-cluster2']);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(deleted.stdout).toContain('secret "istio-remote-secret-cluster2" deleted');
    const found = await runCli(['mesh', 'discover', '--mesh', 'mesh1', '--db', db], { env: tokenEnv });
    expect(found.code).toBe(3);
    expect(found.stdout).toContain('remote cluster2: its primary cluster1 holds no secret for it');
    expect(await journalRows()).toBe(before);
    const again = await sim('kubectl', 'cluster1', ['-n', 'istio-system', 'delete', 'secret', 'istio-remote-secret-cluster2']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('NotFound');
  });
});

describe('mesh-run sim on other dry-run meshes', () => {
  it('reads a manifest from stdin for apply -f -', async () => {
    const manifest = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: by-hand, namespace: istio-system}\ndata: {moved: "yes"}\n';
    const args = ['sim', 'kubectl', '--mesh', 'mesh1', '--context', 'cluster2', '--db', db, '--'];
    const applied = await runCli([...args, 'apply', '-f', '-'], { input: manifest });
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toBe('configmap/by-hand created\n');
    const read = await runCli([...args, '-n', 'istio-system', 'get', 'configmap', 'by-hand', '-o', 'jsonpath={.data.moved}']);
    expect(read.stdout).toBe('yes');
  });

  it('reaches the clusters of a dry-run adoption', async () => {
    const where = join(tmp.dir, 'adopted.db');
    const adopted = await runCli(['mesh', 'adopt', '--name', 'mesh1', '--dry-run', '-q', '-c', join(examples, 'primary-remote.yaml'), '--db', where]);
    expect(adopted.code, adopted.stderr).toBe(0);
    const secrets = await sim('kubectl', 'cluster1', ['-n', 'istio-system', 'get', 'secrets', '-o', 'name'], where);
    expect(secrets.code, secrets.stderr).toBe(0);
    expect(secrets.stdout).toContain('secret/istio-remote-secret-cluster2');
  });
});

describe("mesh-run sim's own refusals", () => {
  it('a context not of the mesh (exit 2), naming the valid ones', async () => {
    const bad = await sim('kubectl', 'cluster3', ['get', 'ns']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe(
      'mesh-run: error: --context "cluster3": mesh mesh1 has no such cluster or context (did you mean cluster1?); its clusters: cluster1 (context kind-east), cluster2 (context kind-west)\n',
    );
  });

  it('no arguments (exit 2), an unknown mesh (exit 4), a missing --mesh (exit 2)', async () => {
    const none = await runCli(['sim', 'kubectl', '--mesh', 'mesh1', '--context', 'cluster1', '--db', db]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^mesh-run: error: no kubectl arguments: give them after --/);
    const unknown = await runCli(['sim', 'istioctl', '--mesh', 'nosuch', '--context', 'cluster1', '--db', db, '--', 'remote-clusters']);
    expect(unknown.code).toBe(4);
    expect(unknown.stderr).toMatch(/^mesh-run: error: no mesh "nosuch" in this journal/);
    const noMesh = await runCli(['sim', 'kubectl', '--context', 'cluster1', '--db', db, '--', 'get', 'ns']);
    expect(noMesh.code).toBe(2);
  });

  it('a mesh on real clusters (exit 2, one line), its tools never started', async () => {
    const real = join(tmp.dir, 'real.db');
    await recordRealMesh(real, PROD);
    for (const tool of ['kubectl', 'istioctl'] as const) {
      const refused = await runCli(['sim', tool, '--mesh', 'prod', '--context', 'east', '--db', real, '--', 'version']);
      expect(refused.code).toBe(2);
      expect(refused.stdout).toBe('');
      expect(refused.stderr).toBe(`mesh-run: error: mesh prod runs on real clusters: use ${tool} itself\n`);
    }
  });
});

describe('failures injected for a run', () => {
  it('are not taken by a command typed by hand', async () => {
    const where = join(tmp.dir, 'faults.db');
    const failed = await runCli([
      'install',
      '--dry-run',
      '--sim-lb-delay',
      '0',
      '-q',
      '-c',
      join(examples, 'primary-remote.yaml'),
      '--db',
      where,
      '--inject-failure',
      'preflight@cluster1:3',
    ]);
    expect(failed.code).toBe(1);
    const remaining = async () => {
      const store = await openStore(parseStoreLocation(where, 'test'), 'read-only');
      try {
        const run = await store.runs.getRun(runIdFrom(failed));
        return (await store.worlds.faults(run?.simWorld as string)).map((f) => f.remaining);
      } finally {
        await store.close();
      }
    };
    const left = await remaining();
    expect(left.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    // kubectl version is where a preflight failure hits a run.
    const version = await sim('kubectl', 'cluster1', ['version'], where);
    expect(version.code, version.stderr).toBe(0);
    expect(version.stdout).toContain('serverVersion');
    expect(await remaining()).toEqual(left);
  });
});
