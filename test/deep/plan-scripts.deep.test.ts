// Plan scripts run by bash against the simulator, every command a process of its own (the shims below):
// install, verify and uninstall by script, the uninstall script's ownership check, the cacerts block. Slow by
// nature (hundreds of processes), so in the deep suite; npm test checks the scripts' shape (test/plan.test.ts).
import { spawnSync } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../store/sqlite/index.js';
import { runCli, runIdFrom, tempDir } from '../support/cli.js';
import * as engine from '../support/engine.js';
import { readJournal } from '../support/journal.js';
import { createSimWorld } from '../support/sim.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe('plan scripts run against the simulator', () => {
  const SIM_TOOL = fileURLToPath(new URL('../support/sim-tool.mjs', import.meta.url));

  // kubectl and istioctl of a script, answered by world `id` of `db` (written before or after the world exists).
  function shims(name: string, db: string, id: string): void {
    for (const tool of ['kubectl', 'istioctl']) {
      const shim = join(tmp.dir, `${name}-${tool}`);
      writeFileSync(shim, `#!/bin/sh\nexec "${process.execPath}" "${SIM_TOOL}" "${db}" ${id} ${tool} "$@"\n`);
      chmodSync(shim, 0o755);
    }
  }

  // Every object of the two clusters of world `id`, with its stored body.
  async function storedObjects(db: string, id: string): Promise<Array<{ cluster: string; kind: string; namespace: string; name: string; bodyJson: string }>> {
    const found = [];
    const reader = openSqliteStore(db, { mustExist: true });
    try {
      for (const cluster of ['cluster1', 'cluster2']) found.push(...(await reader.worlds.transact(id, (o) => o.list(cluster))).map((o) => ({ cluster, ...o })));
    } finally {
      await reader.close();
    }
    return found;
  }

  async function world(
    name: string,
    extraConfig = '',
  ): Promise<{
    db: string;
    config: string;
    objects: () => Promise<string[]>;
    run: (args: string[]) => { status: number | null; stdout: string; stderr: string };
  }> {
    const db = join(tmp.dir, `${name}.db`);
    const store = openSqliteStore(db);
    await createSimWorld(store, 'w');
    await store.close();
    shims(name, db, 'w');
    const config = join(tmp.dir, `${name}.yaml`);
    writeFileSync(
      config,
      `tools: {kubectl: ${join(tmp.dir, `${name}-kubectl`)}, istioctl: ${join(tmp.dir, `${name}-istioctl`)}}\nverify: {timeout: 20s}\n${extraConfig}`,
    );
    const objects = async () => (await storedObjects(db, 'w')).map((o) => `${o.cluster} ${o.kind} ${o.namespace}/${o.name}`);
    const run = (args: string[]) => spawnSync(args[0] as string, args.slice(1), { encoding: 'utf8' });
    return { db, config, objects, run };
  }

  async function script(kind: string, config: string): Promise<string> {
    const out = await runCli(['plan', kind, '--config', config, '--format', 'sh']);
    expect(out.code, out.stderr).toBe(0);
    const file = join(tmp.dir, `${kind}-${Math.random().toString(36).slice(2)}.sh`);
    writeFileSync(file, out.stdout);
    return file;
  }

  it('install, verify and uninstall by script leave the clusters empty; uninstall again changes nothing', async () => {
    const w = await world('by-hand');
    for (const kind of ['install', 'verify', 'uninstall']) {
      const result = w.run(['bash', await script(kind, w.config)]);
      expect(result.status, `${kind} script:\n${result.stderr}`).toBe(0);
      if (kind === 'install') expect((await w.objects()).join('\n')).toMatch(/cluster1 Deployment istio-system\/istiod/);
      if (kind === 'verify') expect((await w.objects()).join('\n')).toMatch(/cluster2 Pod sample\/helloworld-v2/);
    }
    expect((await w.objects()).filter((o) => /istio|sample/.test(o))).toEqual([]);
    // Everything is gone already: each check tolerates NotFound, each delete is guarded.
    const again = w.run(['bash', await script('uninstall', w.config)]);
    expect(again.status, again.stderr).toBe(0);
    // Hundreds of tool processes, each a Node start: a correctness test, given room on a busy machine.
  });

  // Issue 29's starting point: a mesh mesh-run never journaled (its install script run by bash, as a person would
  // run the page's commands) is read back from its clusters alone, and reading it changes nothing.
  it('a mesh installed by its script, not by mesh-run, is discovered as its config says, and discovery changes nothing', async () => {
    const w = await world('discovered');
    const installed = w.run(['bash', await script('install', w.config)]);
    expect(installed.status, installed.stderr).toBe(0);
    const before = await w.objects();
    const json = await runCli(['mesh', 'discover', '-c', w.config, '-o', 'json']);
    expect(json.code, json.stdout + json.stderr).toBe(0);
    const report = JSON.parse(json.stdout) as { clusters: Array<{ name: string; role: string; network?: string; controlPlane?: string; meshID?: string }> };
    expect(report.clusters.map((c) => [c.name, c.role, c.network, c.controlPlane ?? null])).toEqual([
      ['cluster1', 'primary', 'network1', null],
      ['cluster2', 'remote', 'network1', 'cluster1'],
    ]);
    expect(report.clusters[0]?.meshID).toBe('mesh1');
    const yaml = await runCli(['mesh', 'discover', '-c', w.config, '-o', 'yaml']);
    expect(yaml.code, yaml.stderr).toBe(0);
    const written = join(tmp.dir, 'discovered-mesh.yaml');
    writeFileSync(written, yaml.stdout);
    const check = await runCli(['config', 'check', '-c', written]);
    expect(check.code, check.stdout + check.stderr).toBe(0);
    expect(await w.objects()).toEqual(before);
  });

  it('the uninstall script refuses an Istio mesh-run did not install, and keeps a sample namespace it did not create', async () => {
    const w = await world('guards');
    for (const kind of ['install', 'verify']) expect(w.run(['bash', await script(kind, w.config)]).status).toBe(0);
    // The sample namespace on cluster1 turns out to be someone else's (no mesh-run label).
    expect(w.run([join(tmp.dir, 'guards-kubectl'), '--context=cluster1', 'label', 'namespace', 'sample', 'app.kubernetes.io/managed-by-']).status).toBe(0);
    const uninstall = await script('uninstall', w.config);
    const kept = w.run(['bash', uninstall]);
    expect(kept.status, kept.stderr).toBe(0);
    expect(kept.stderr).toContain('namespace sample on cluster1 was not created by mesh-run verify: kept');
    expect(await w.objects()).toContain('cluster1 Namespace /sample');
    // Another control plane (an unnamed IstioOperator) on cluster2: the script stops before purging anything.
    expect(w.run([join(tmp.dir, 'guards-istioctl'), 'install', '--context=cluster2', '-y']).status).toBe(0);
    const refused = w.run(['bash', uninstall]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('cluster cluster2 (context cluster2) holds an Istio install that mesh-run did not make; not purging it');
    expect((await w.objects()).join('\n')).toMatch(/cluster2 MutatingWebhookConfiguration \/istio-sidecar-injector/);
  });

  // The CA's secret parts as they could show up in output: each base64 line of each PEM, and the whole file's base64.
  function keyTraces(dir: string): string[] {
    const key = readFileSync(join(dir, 'ca-key.pem'), 'utf8');
    const lines = key.split('\n').filter((l) => l.length > 40 && !l.startsWith('-----'));
    return [...lines, Buffer.from(key).toString('base64').slice(0, 64)];
  }

  it('the install script creates cacerts as a run does: a run that stopped before it resumes and keeps it', async () => {
    const db = join(tmp.dir, 'trust.db');
    const certs = join(tmp.dir, 'trust-certs');
    const config = join(tmp.dir, 'trust.yaml');
    writeFileSync(
      config,
      `tools: {kubectl: ${join(tmp.dir, 'trust-kubectl')}, istioctl: ${join(tmp.dir, 'trust-istioctl')}}\ntrust: {outputDir: ${certs}}\nverify: {timeout: 20s}\n`,
    );
    // A dry-run install generates the CA into outputDir and stops at establish-trust, before creating cacerts.
    const stopped = await runCli([
      'install',
      '--dry-run',
      '--sim-lb-delay',
      '0',
      '-q',
      '--config',
      config,
      '--db',
      db,
      '--inject-failure',
      'establish-trust@cluster1',
    ]);
    expect(stopped.code, stopped.stderr).toBe(1);
    const id = runIdFrom(stopped);
    expect((await storedObjects(db, id)).filter((o) => o.name === 'cacerts')).toEqual([]);
    // A person runs the plan's script on those clusters (CA_DIR defaults to trust.outputDir) ...
    shims('trust', db, id);
    const ran = spawnSync('bash', [await script('install', config)], { encoding: 'utf8' });
    expect(ran.status, ran.stderr).toBe(0);
    const [secret] = (await storedObjects(db, id)).filter((o) => o.name === 'cacerts');
    const made = JSON.parse(secret?.bodyJson ?? '{}') as { metadata?: { labels?: object; annotations?: Record<string, string> } };
    // ... and neither its output nor its text shows a key.
    for (const trace of keyTraces(join(certs, 'cluster1'))) expect(`${ran.stdout}${ran.stderr}`).not.toContain(trace);
    // ... then mesh-run finishes the install with the same config and CA: the secret is its own, kept as it is.
    const resumed = await runCli(['resume', id, '-q', '--db', db]);
    expect(resumed.code, resumed.stderr).toBe(0);
    const journal = await readJournal(db, id);
    expect(journal.attempts.filter((a) => a.step === 'establish-trust').map((a) => a.outcome)).toEqual(['failed', 'succeeded']);
    // The object a run creates itself, in a world of its own, from the same CA: the same label and annotations.
    const own = await engine.install(db, { config });
    expect(own.status).toBe('succeeded');
    const [theirs] = (await storedObjects(db, own.id)).filter((o) => o.name === 'cacerts');
    const byRun = JSON.parse(theirs?.bodyJson ?? '{}') as typeof made;
    expect(made.metadata?.labels).toEqual(byRun.metadata?.labels);
    expect(made.metadata?.annotations).toEqual(byRun.metadata?.annotations);
    expect(made.metadata?.annotations?.['mesh-run.io/ca-fingerprint']).toMatch(/^[0-9a-f]{64}$/);
  });

  it("the script's cacerts block fails loudly: a cacerts it did not make, a read-back without the fingerprint", async () => {
    const certs = join(tmp.dir, 'loud-certs');
    const w = await world('loud', `trust: {outputDir: ${certs}}\n`);
    const install = await script('install', w.config);
    // Someone else's cacerts: refused, as a run refuses it.
    const kubectl = join(tmp.dir, 'loud-kubectl');
    expect(w.run([kubectl, '--context=cluster1', 'create', 'namespace', 'istio-system']).status).toBe(0);
    const foreign = JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'cacerts', namespace: 'istio-system' }, data: { x: 'eQ==' } });
    expect(spawnSync(kubectl, ['--context=cluster1', 'create', '-f', '-'], { input: foreign }).status).toBe(0);
    const refused = w.run(['bash', install]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('secret istio-system/cacerts on cluster1 already exists and was not created by mesh-run');
    // A kubectl that loses the annotation on the way: the read-back finds no fingerprint and the script stops there.
    expect(w.run([kubectl, '--context=cluster1', 'delete', 'secret', 'cacerts', '-n', 'istio-system']).status).toBe(0);
    const lossy = join(tmp.dir, 'lossy-kubectl');
    writeFileSync(
      lossy,
      `#!/bin/sh\nif [ "$2" = create ]; then sed 's/mesh-run.io\\/ca-fingerprint/x-elsewhere/' | exec "${kubectl}" "$@"; fi\nexec "${kubectl}" "$@"\n`,
    );
    chmodSync(lossy, 0o755);
    const text = readFileSync(install, 'utf8').split(`${kubectl} --context=cluster1 create -f -\n`).join(`${lossy} --context=cluster1 create -f -\n`);
    expect(text).toContain(lossy);
    const withLossy = join(tmp.dir, 'loud-lossy.sh');
    writeFileSync(withLossy, text);
    const lost = w.run(['bash', withLossy]);
    expect(lost.status).toBe(1);
    expect(lost.stderr).toMatch(/secret istio-system\/cacerts on cluster1 does not carry CA [0-9a-f]{16} after creating it \(read back: ''\)/);
    expect(lost.stderr).not.toContain('still there');
  });
});
