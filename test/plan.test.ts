import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../store/sqlite/index.js';
import { runCli, runIdFrom, tempDir } from './support/cli.js';
import * as engine from './support/engine.js';
import { readJournal } from './support/journal.js';
import { createSimWorld } from './support/sim.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

interface Planned {
  step: string;
  cluster: string;
  argv: string[];
  pipeTo?: string[];
  purpose: string;
  stdin?: string;
}

const bySlot = (rows: Array<{ slot: string; argv: string[] }>) => {
  const map = new Map<string, string[]>();
  for (const r of rows) map.set(r.slot, [...(map.get(r.slot) ?? []), r.argv.join(' ')]);
  return Object.fromEntries([...map.entries()].sort(([a], [b]) => a.localeCompare(b)));
};

describe('mesh-run plan', () => {
  const config = join(tmp.dir, 'two.yaml');
  writeFileSync(
    config,
    'revision: canary\nremotes: [{name: cluster2}, {name: cluster3}]\ntools: {kubectl: /nonexistent/kubectl, istioctl: /nonexistent/istioctl}\n',
  );

  it('lists what a dry run executes, command for command (plan and execution share one code path)', async () => {
    const planned = JSON.parse((await runCli(['plan', '--config', config, '--format', 'json'])).stdout) as Planned[];
    const db = join(tmp.dir, 'run.db');
    // The dry run is driven in this process: its journal is what plan is compared with.
    const run = await engine.install(db, { config });
    expect(run.status).toBe('succeeded');
    const journal = await readJournal(db, run.id);
    const slotOf = new Map(journal.attempts.map((a) => [a.id, `${a.step}@${a.cluster}`]));
    const executed = journal.commands.map((c) => ({ slot: slotOf.get(c.attemptId as number) as string, argv: c.argv }));
    const expected = planned.flatMap((p) => [
      { slot: `${p.step}@${p.cluster}`, argv: p.argv },
      ...(p.pipeTo ? [{ slot: `${p.step}@${p.cluster}`, argv: p.pipeTo }] : []),
    ]);
    expect(bySlot(expected)).toEqual(bySlot(executed));
    expect(expected.length).toBeGreaterThan(30);
  });

  it('fills in names, contexts, network and revision, and touches no cluster (the tools do not even exist)', async () => {
    const text = await runCli(['plan', '--config', config]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(
      'istioctl create-remote-secret --context=cluster3 --name=cluster3 -n istio-system | kubectl --context=cluster1 apply --server-side --field-manager=mesh-run --force-conflicts -f -',
    );
    expect(text.stdout).toContain('(stdin: IstioOperator mesh-run-primary-canary)');
    expect(text.stdout).toContain('virtualservice.networking.istio.io/istiod-vs-canary');
    expect(text.stdout).toContain('rollout status deployment/istiod-canary');
  });

  it('writes a bash script with here-documents and a polling loop for the gateway address', async () => {
    const script = (await runCli(['plan', '--config', config, '--format', 'sh'])).stdout;
    const file = join(tmp.dir, 'plan.sh');
    writeFileSync(file, script);
    execFileSync('bash', ['-n', file]);
    expect(script).toContain('set -euo pipefail');
    expect(script).toContain("/nonexistent/istioctl install --context=cluster1 -y -f - <<'MANIFEST_2'");
    expect(script).toMatch(
      /for _ in \$\(seq 1 300\); do\n {2}GATEWAY_ADDRESS_CLUSTER1="\$\(\/nonexistent\/kubectl --context=cluster1 get -n istio-system service istio-eastwestgateway -o 'jsonpath=\{\.status\.loadBalancer\.ingress\[0\]\.ip\}'/,
    );
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the script's shell variable
    expect(script).toContain('remotePilotAddress: ${GATEWAY_ADDRESS_CLUSTER1}');
    expect(script).toContain(
      "/nonexistent/kubectl --context=cluster3 get namespace istio-system -o json >/dev/null 2>&1 || /nonexistent/kubectl --context=cluster3 create -f - <<'MANIFEST_",
    );
    expect(script).toContain('injectionPath: /inject/cluster/cluster3/net/network1');
    expect(script).toContain('revision: canary');
  });
});

// The scripts run by hand, the way a person would run them, against simulated clusters: kubectl and
// istioctl on the script's path answer from a dry run's world (test/support/sim-tool.mjs).
describe('plan scripts run against the simulator', () => {
  const SIM_TOOL = fileURLToPath(new URL('./support/sim-tool.mjs', import.meta.url));

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
  }, 240_000);

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
  }, 240_000);

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
  }, 240_000);

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
  }, 240_000);
});

describe("the README's plan lines", () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  // What each kind needs besides the mesh, on the two-cluster mesh of the test (cluster3 joins, cluster2 leaves).
  const needs: Record<string, string[]> = {
    'cluster-add': ['--name', 'cluster3', '--context', 'ctx-3'],
    'cluster-remove': ['--name', 'cluster2'],
    upgrade: ['--revision', 'canary2'],
    'upgrade-rollback': ['--revision', 'canary2'],
  };

  it('every kind the commands table lists plans from -c F and from --mesh M, and every plan command the README shows runs', async () => {
    const dir = join(tmp.dir, 'readme-plans');
    mkdirSync(dir);
    const db = join(dir, 'journal.db');
    const file = join(dir, 'mesh.yaml');
    writeFileSync(file, 'meshID: blue\nrevision: canary\n');
    expect((await engine.install(db, { config: file })).status).toBe('succeeded');

    const line = /`mesh-run plan \[([^\]]+)\] \[-c F \\\| --mesh M\]([^`]*)`/.exec(readme) ?? [];
    expect(line.length, 'the commands table has a plan line').toBe(3);
    const kinds = (line[1] ?? '').split('\\|');
    expect(kinds.length).toBeGreaterThanOrEqual(8);
    for (const kind of kinds) {
      for (const mesh of [
        ['-c', file],
        ['--mesh', 'blue'],
      ]) {
        const argv = ['plan', kind, ...mesh, ...(needs[kind] ?? []), '--db', db, '-o', 'json'];
        const planned = await runCli(argv);
        expect(planned.code, `${argv.join(' ')}: ${planned.stderr}`).toBe(0);
        expect((JSON.parse(planned.stdout) as unknown[]).length, argv.join(' ')).toBeGreaterThan(0);
      }
    }
    // The table's --cluster C: secrets-rotate of one cluster's secret.
    if (line[2]?.includes('--cluster C')) {
      const one = await runCli(['plan', 'secrets-rotate', '--mesh', 'blue', '--cluster', 'cluster2', '--db', db]);
      expect(one.code, one.stderr).toBe(0);
    }

    // Every other `mesh-run plan …` the README shows, its placeholders filled in.
    const shown = [...readme.matchAll(/`(mesh-run plan [^`[]+)`/g)].map((m) => m[1] as string);
    expect(shown.length).toBeGreaterThanOrEqual(2);
    for (const text of shown) {
      const words = text.split(/\s+/).slice(1);
      for (const kind of (words[1] as string).split('|')) {
        const argv = words
          .map((w, i) => (i === 1 ? kind : w))
          .map((w) => ({ M: 'blue', C: kind === 'cluster-remove' ? 'cluster2' : 'cluster3', CTX: 'ctx-3', R: 'canary2' })[w] ?? w);
        const planned = await runCli([...argv, '--db', db]);
        expect(planned.code, `${argv.join(' ')}: ${planned.stderr}`).toBe(0);
      }
    }
  }, 300_000);
});
