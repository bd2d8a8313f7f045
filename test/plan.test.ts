import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from './support/cli.js';
import { runCli } from './support/cli-here.js';
import * as engine from './support/engine.js';
import { readJournal } from './support/journal.js';

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
