// mesh-run mesh adopt: a mesh built by hand on simulated clusters (Istio's commands, no mesh-run run) becomes a
// mesh of the journal. Adoption changes nothing on the clusters and records what they run as there before
// mesh-run; then every day-2 verb works on it, and uninstall refuses it unless --force, which names what goes.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { adoptedConfig } from '../engine/adopt-service.js';
import { openStore } from '../engine/composition.js';
import { loadConfig } from '../engine/config/mesh-config.js';
import { parseStoreLocation } from '../store/location.js';
import { runIdFrom, tempDir } from './support/cli.js';
import { runCli } from './support/cli-here.js';
import { copyExamples } from './support/examples.js';
import { handBuiltWorld } from './support/hand-built.js';
import { readJournal } from './support/journal.js';
import { NEEDLES, tokenEnv, withToken } from './support/secret-leaks.js';
import { simCommand } from './support/sim.js';
import { havePostgres, newStore } from './support/stores.js';
import { findLeak } from './support/token-scan.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const examples = join(tmp.dir, 'examples');
copyExamples(examples);
const Q = ['-q'];

// The verbs that change a cluster: an adoption issues none of them.
const CHANGING = /^(apply|create|delete|label|annotate|patch|replace|install|uninstall|tag|rollout|scale|set)$/;

// Every command runs with one pinned token: the secrets built by hand carry it, and the scans look for it.
const cli = (args: string[]) => runCli(args, { env: tokenEnv });

async function adopt(db: string, args: string[]) {
  return cli(['mesh', 'adopt', '--name', 'mesh1', '--dry-run', '--db', db, ...args]);
}

async function observations(db: string, runId: string) {
  const store = await openStore(parseStoreLocation(db, 'test'), 'existing');
  try {
    return await store.runs.listObservations([runId]);
  } finally {
    await store.close();
  }
}

// Every Istio object's kind/name on a simulated cluster, for before/after comparisons.
async function istioObjects(db: string, world: string, context: string): Promise<string[]> {
  const out: string[] = [];
  for (const args of [
    ['get', 'deployments,services,configmaps,secrets', '-n', 'istio-system', '-o', 'name'],
    ['get', 'mutatingwebhookconfigurations,validatingwebhookconfigurations', '-o', 'name'],
    ['get', 'namespaces', '-o', 'name'],
  ]) {
    const result = await simCommand(db, world, context, args);
    out.push(...result.stdout.split('\n').filter(Boolean));
  }
  return out.sort();
}

describe('mesh-run mesh adopt on a primary-remote mesh built by hand', () => {
  const db = join(tmp.dir, 'adopt.db');
  let adoption = '';
  let world = '';

  it('reads the clusters, records the adoption as a run of its own that changes nothing, and lists the mesh', async () => {
    const result = await adopt(db, ['-c', join(examples, 'primary-remote.yaml')]);
    expect(result.code, result.stderr).toBe(0);
    adoption = runIdFrom(result);
    expect(result.stdout).toContain('cluster2');
    const journal = await readJournal(db, adoption);
    world = journal.run.simWorld;
    expect(journal.run.kind).toBe('adopt');
    expect(journal.run.status).toBe('succeeded');
    expect(journal.run.config?.clusters.map((c) => [c.name, c.role, c.controlPlane ?? null])).toEqual([
      ['cluster1', 'primary', null],
      ['cluster2', 'remote', 'cluster1'],
    ]);
    // Read only: not one command of the run changes a cluster.
    const verbs = journal.commands.map((c) => c.argv.find((a, i) => i > 0 && !a.startsWith('-')) ?? '');
    expect(verbs.filter((v) => CHANGING.test(v))).toEqual([]);
    expect(journal.events.some((e) => e.type === 'adopted-from')).toBe(true);
    // Everything found is recorded as there before mesh-run: nobody's, with istiod among cluster1's objects.
    const seen = await observations(db, adoption);
    const istio = seen.find((o) => o.cluster === 'cluster1' && o.subject === 'adopted/istio');
    expect(Object.keys(istio?.detail ?? {})).toEqual(expect.arrayContaining(['namespace/istio-system']));
    expect(Object.keys(istio?.detail ?? {}).some((k) => /istio-sidecar-injector/.test(k))).toBe(true);
    // What the namespace holds is named too: istiod and the east-west gateway built by hand.
    expect(Object.keys(istio?.detail ?? {})).toEqual(expect.arrayContaining(['deployment/istiod', 'service/istio-eastwestgateway']));
    expect(seen.filter((o) => o.subject === 'namespace/istio-system').map((o) => [o.cluster, o.present, o.owner])).toEqual(
      expect.arrayContaining([
        ['cluster1', true, null],
        ['cluster2', true, null],
      ]),
    );
    const meshes = await cli(['meshes', '--db', db, '-o', 'json']);
    const listed = (JSON.parse(meshes.stdout) as Array<{ name: string; state: string; createdBy: string }>).find((m) => m.name === 'mesh1');
    expect(listed).toMatchObject({ state: 'installed', origin: 'adopted', createdBy: adoption });
    const show = await cli(['mesh', 'show', 'mesh1', '--db', db]);
    expect(show.stdout).toContain(`made by   ${adoption} (adopted: mesh-run did not install it)`);
    const history = await cli(['history', '--db', db, '-o', 'json']);
    expect(history.stdout).toContain(adoption);
  });

  it('adopting the same mesh again is refused (exit 3), and nothing is recorded', async () => {
    const again = await adopt(db, ['--sim-world', world, '-c', join(examples, 'primary-remote.yaml')]);
    expect(again.code, again.stderr).toBe(3);
    expect(again.stderr).toContain('already in this journal');
  });

  it('verify, secrets audit and secrets rotate work on the adopted mesh', async () => {
    const verify = await cli(['verify', '--mesh', 'mesh1', '--db', db, ...Q]);
    expect(verify.code, verify.stderr + verify.stdout).toBe(0);
    const audit = await cli(['secrets', 'audit', '--mesh', 'mesh1', '--db', db]);
    expect(audit.code, audit.stderr + audit.stdout).toBe(0);
    expect(audit.stdout).toContain('cluster2');
    const rotate = await cli(['secrets', 'rotate', '--mesh', 'mesh1', '--db', db, ...Q]);
    expect(rotate.code, rotate.stderr + rotate.stdout).toBe(0);
    // The token secret istioctl made for the hand-built secret was there before mesh-run: it stays valid, and the
    // run's last line says so instead of "revoked", with the command that revokes it.
    expect(rotate.stdout).toContain('but one old token stays valid, as its secret was there before mesh-run');
    expect(rotate.stderr).toMatch(/! secret istio-reader-service-account-istio-remote-secret-token on cluster2 .* delete secret/);
    for (const out of [audit, rotate]) expect(findLeak(out.stdout + out.stderr, NEEDLES)).toBeUndefined();
  });

  it('a new remote joins with cluster add, and leaves with cluster remove; the adopted clusters stay as they were', async () => {
    const before = await istioObjects(db, world, 'cluster1');
    const add = await cli(['cluster', 'add', '--mesh', 'mesh1', '--name', 'cluster3', '--context', 'cluster3', '--db', db, ...Q]);
    expect(add.code, add.stderr + add.stdout).toBe(0);
    const verify = await cli(['verify', '--mesh', 'mesh1', '--db', db, ...Q]);
    expect(verify.code, verify.stderr + verify.stdout).toBe(0);
    // A cluster the adoption found is not mesh-run's to empty; one mesh-run added is.
    const adopted = await cli(['cluster', 'remove', '--mesh', 'mesh1', '--name', 'cluster2', '--db', db, ...Q]);
    expect(adopted.code, adopted.stderr).toBe(3);
    expect(adopted.stderr).toMatch(/cluster cluster2 was adopted with its Istio .*: cluster remove would delete namespace\/istio-system/);
    const remove = await cli(['cluster', 'remove', '--mesh', 'mesh1', '--name', 'cluster3', '--db', db, ...Q]);
    expect(remove.code, remove.stderr + remove.stdout).toBe(0);
    expect(await istioObjects(db, world, 'cluster3')).not.toContain('namespace/istio-system');
    // Removing the cluster mesh-run added takes its secret off cluster1 and nothing else.
    expect(await istioObjects(db, world, 'cluster1')).toEqual(before);
  });

  it('upgrades from the default revision to a named one, and rolls back', async () => {
    const upgrade = await cli(['upgrade', '--mesh', 'mesh1', '--revision', 'canary', '--keep-old', '--db', db, ...Q]);
    expect(upgrade.code, upgrade.stderr + upgrade.stdout).toBe(0);
    const id = runIdFrom(upgrade);
    const rollback = await cli(['upgrade', 'rollback', id, '--db', db, ...Q]);
    expect(rollback.code, rollback.stderr + rollback.stdout).toBe(0);
    const pods = await simCommand(db, world, 'cluster1', ['get', 'deployments', '-n', 'istio-system', '-o', 'name']);
    expect(pods.stdout).toContain('deployment.apps/istiod\n');
    expect(pods.stdout).not.toContain('istiod-canary');
  });

  it('uninstall refuses the adopted mesh (exit 3) naming what it would delete, and changes nothing', async () => {
    const before = await istioObjects(db, world, 'cluster1');
    const refused = await cli(['uninstall', '--mesh', 'mesh1', '--db', db, ...Q]);
    expect(refused.code, refused.stderr + refused.stdout).toBe(3);
    expect(refused.stderr).toContain(`was adopted (run ${adoption})`);
    expect(refused.stderr).toMatch(/cluster1: .*namespace\/istio-system/);
    expect(refused.stderr).toContain('--force');
    expect(await istioObjects(db, world, 'cluster1')).toEqual(before);
  });

  it('uninstall --force removes it, naming every object it deletes, and leaves no Istio', async () => {
    const forced = await cli(['uninstall', '--mesh', 'mesh1', '--force', '--db', db, ...Q]);
    expect(forced.code, forced.stderr + forced.stdout).toBe(0);
    const journal = await readJournal(db, runIdFrom(forced));
    const named = journal.events.filter((e) => e.type === 'deleted-preexisting').map((e) => e.detail ?? '');
    expect(
      named.some((d) => d.includes('cluster1') && d.includes('namespace/istio-system') && /istio-sidecar-injector/.test(d) && d.includes('deployment/istiod')),
    ).toBe(true);
    expect(named.some((d) => d.includes('cluster2'))).toBe(true);
    for (const context of ['cluster1', 'cluster2']) {
      const left = await istioObjects(db, world, context);
      expect(
        left.filter((o) => /istio/.test(o)),
        context,
      ).toEqual([]);
    }
    for (const file of [db, `${db}-wal`]) if (existsSync(file)) expect(findLeak(readFileSync(file), NEEDLES), file).toBeUndefined();
  });
});

describe('mesh-run mesh adopt: a multi-primary multi-network mesh built by hand', () => {
  it('adopts it with its networks and common root, then verify, rotate and uninstall --force work', async () => {
    const db = join(tmp.dir, 'mpmn.db');
    const adopted = await adopt(db, ['-c', join(examples, 'multi-primary-multi-network.yaml')]);
    expect(adopted.code, adopted.stderr + adopted.stdout).toBe(0);
    const journal = await readJournal(db, runIdFrom(adopted));
    expect(journal.run.config?.clusters.map((c) => [c.name, c.role, c.network])).toEqual([
      ['cluster1', 'primary', 'network1'],
      ['cluster2', 'primary', 'network2'],
    ]);
    // The example asks mesh-run to generate a root; this mesh's root was made by hand, so that is not kept.
    expect(journal.run.config?.trust).toBeUndefined();
    expect(journal.events.map((e) => e.detail)).toContainEqual(expect.stringContaining('asks mesh-run to generate a root'));
    for (const verb of [
      ['verify', '--mesh', 'mesh1'],
      ['secrets', 'rotate', '--mesh', 'mesh1'],
      ['uninstall', '--mesh', 'mesh1', '--force'],
    ]) {
      const result = await cli([...verb, '--db', db, ...Q]);
      expect(result.code, `${verb.join(' ')}: ${result.stderr}${result.stdout}`).toBe(0);
    }
  });
});

describe('mesh-run mesh adopt: where the primaries dial each cluster', () => {
  // A config naming cluster2's API server as the address its remote secret dials; cluster2's simulated kubeconfig
  // gives the same one (the first two clusters of a world are https://10.10.0.1:6443 and https://10.11.0.1:6443).
  const named = join(tmp.dir, 'named-server.yaml');
  writeFileSync(
    named,
    'primary: {name: cluster1, context: cluster1}\nremotes:\n  - {name: cluster2, context: cluster2, apiServer: "https://10.11.0.1:6443"}\n',
  );

  it("keeps the config's apiServer where the secrets dial the kubeconfig's own address (discovery writes none there)", async () => {
    // Without it, every remote secret a day-2 verb makes would go to the kubeconfig's address: on kind or kwok a
    // loopback one, which create-remote-secret warns of and swap-secret refuses.
    const db = join(tmp.dir, 'named-server.db');
    const adopted = await adopt(db, ['-c', named, ...Q]);
    expect(adopted.code, adopted.stderr).toBe(0);
    const clusters = (await readJournal(db, runIdFrom(adopted))).run.config?.clusters ?? [];
    expect(clusters.map((c) => [c.name, c.apiServer ?? null])).toEqual([
      ['cluster1', null],
      ['cluster2', 'https://10.11.0.1:6443'],
    ]);
  });

  it("an address the secrets dial, other than the kubeconfig's, wins over the config's", () => {
    const { config } = loadConfig(named, {});
    const discovered = 'https://172.18.0.3:6443';
    const adopted = adoptedConfig(
      'mesh1',
      config,
      {
        clusters: [],
        findings: [],
        config: {
          meshID: 'mesh1',
          clusters: [
            { name: 'cluster1', context: 'cluster1', role: 'primary', network: 'network1' },
            { name: 'cluster2', context: 'cluster2', role: 'remote', network: 'network1', controlPlane: 'cluster1', apiServer: discovered },
          ],
        },
      },
      [],
    );
    expect(adopted.clusters.map((c) => c.apiServer ?? null)).toEqual([null, discovered]);
  });
});

describe('mesh-run mesh adopt: what it refuses, and a failed adoption resumed', () => {
  it('a blocking finding refuses the adoption (exit 3, no run); --accept-findings adopts and journals it', async () => {
    const db = join(tmp.dir, 'finding.db');
    const config = join(examples, 'primary-remote.yaml');
    const world = await withToken(() => handBuiltWorld(db, config));
    const removed = await simCommand(db, world, 'cluster1', ['-n', 'istio-system', 'delete', 'secret', 'istio-remote-secret-cluster2']);
    expect(removed.exitCode, removed.stderr).toBe(0);
    const refused = await adopt(db, ['--sim-world', world, '-c', config]);
    expect(refused.code, refused.stderr).toBe(3);
    expect(refused.stderr).toContain('remote cluster2: its primary cluster1 holds no secret for it');
    expect(refused.stderr).toContain('--accept-findings');
    expect((await cli(['runs', '--db', db, '-o', 'json'])).stdout.trim()).toBe('[]');
    const accepted = await adopt(db, ['--sim-world', world, '-c', config, '--accept-findings']);
    expect(accepted.code, accepted.stderr).toBe(0);
    const journal = await readJournal(db, runIdFrom(accepted));
    expect(journal.events.filter((e) => e.type === 'finding-accepted').map((e) => e.detail)).toEqual([
      expect.stringContaining('remote cluster2: its primary cluster1 holds no secret for it'),
    ]);
  });

  it('refuses bad input (exit 2) and clusters without a mesh (exit 3), recording nothing', async () => {
    const db = join(tmp.dir, 'refusals.db');
    const config = join(examples, 'primary-remote.yaml');
    const world = await withToken(() => handBuiltWorld(db, config));
    const name = await cli(['mesh', 'adopt', '--name', 'prod', '--dry-run', '--sim-world', world, '-c', config, '--db', db]);
    expect(name.code).toBe(2);
    expect(name.stderr).toContain("--name prod: the mesh's istiod runs with meshID mesh1, and mesh-run names a mesh by its meshID; give --name mesh1");
    const badName = await cli(['mesh', 'adopt', '--name', 'a b', '--dry-run', '-c', config, '--db', db]);
    expect(badName.code).toBe(2);
    const noClusters = await cli(['mesh', 'adopt', '--name', 'mesh1', '--db', db]);
    expect(noClusters.code).toBe(2);
    expect(noClusters.stderr).toContain('no clusters');
    const simWorldAlone = await cli(['mesh', 'adopt', '--name', 'mesh1', '--sim-world', world, '-c', config, '--db', db]);
    expect(simWorldAlone.code).toBe(2);
    const plan = await cli(['plan', 'adopt', '-c', config]);
    expect(plan.code).toBe(2);
    expect(plan.stderr).toContain('plan adopt: an adoption changes nothing on the clusters');
    const bare = await withToken(() => handBuiltWorld(db, config, { bare: true }));
    const empty = await adopt(db, ['--sim-world', bare, '-c', config]);
    expect(empty.code, empty.stderr).toBe(3);
    expect(empty.stderr).toContain('no istiod on any of the given clusters');
    expect((await cli(['runs', '--db', db, '-o', 'json'])).stdout.trim()).toBe('[]');
  });

  it('an adoption that fails on a cluster resumes to the end, recording every cluster once', async () => {
    const db = join(tmp.dir, 'resume.db');
    const failed = await adopt(db, ['-c', join(examples, 'primary-remote.yaml'), '--inject-failure', 'record-existing@cluster2', ...Q]);
    expect(failed.code, failed.stderr).toBe(1);
    const id = runIdFrom(failed);
    expect((await readJournal(db, id)).run.status).toBe('failed');
    const resumed = await cli(['resume', id, '--db', db, ...Q]);
    expect(resumed.code, resumed.stderr).toBe(0);
    const seen = await observations(db, id);
    expect([...new Set(seen.filter((o) => o.subject === 'adopted/istio').map((o) => o.cluster))].sort()).toEqual(['cluster1', 'cluster2']);
    const meshes = await cli(['meshes', '--db', db, '-o', 'json']);
    expect(JSON.parse(meshes.stdout)).toEqual([expect.objectContaining({ name: 'mesh1', state: 'installed', createdBy: id })]);
  });
});

describe('mesh-run mesh adopt on a team store (PostgreSQL)', () => {
  it.runIf(havePostgres())('records the adoption and its simulated clusters there; verify and uninstall --force act on them', async () => {
    const { args } = newStore('postgres', tmp.dir, 'adopt');
    const adopted = await cli(['mesh', 'adopt', '--name', 'mesh1', '--dry-run', '-c', join(examples, 'primary-remote.yaml'), ...args, ...Q]);
    expect(adopted.code, adopted.stderr).toBe(0);
    const meshes = JSON.parse((await cli(['meshes', ...args, '-o', 'json'])).stdout) as Array<{ name: string; origin: string }>;
    expect(meshes).toEqual([expect.objectContaining({ name: 'mesh1', origin: 'adopted' })]);
    for (const verb of [
      ['verify', '--mesh', 'mesh1'],
      ['uninstall', '--mesh', 'mesh1', '--force'],
    ]) {
      const result = await cli([...verb, ...args, ...Q]);
      expect(result.code, `${verb.join(' ')}: ${result.stderr}`).toBe(0);
    }
  });
});
