import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, runIdFrom, tempDir } from './support/cli.js';
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
  writeFileSync(config, 'revision: canary\nremotes: [{name: cluster2}, {name: cluster3}]\ntools: {kubectl: /nonexistent/kubectl, istioctl: /nonexistent/istioctl}\n');

  it('lists what a dry run executes, command for command (plan and execution share one code path)', async () => {
    const planned = JSON.parse((await runCli(['plan', '--config', config, '--format', 'json'])).stdout) as Planned[];
    const db = join(tmp.dir, 'run.db');
    const run = await runCli(['install', '--dry-run', '--sim-lb-delay', '0', '-q', '--config', config, '--db', db]);
    expect(run.code, run.stderr).toBe(0);
    const journal = readJournal(db, runIdFrom(run));
    const slotOf = new Map(journal.attempts.map((a) => [a.id, `${a.step}@${a.cluster}`]));
    const executed = journal.commands.map((c) => ({ slot: slotOf.get(c.attemptId as number) as string, argv: c.argv }));
    const expected = planned.flatMap((p) => [{ slot: `${p.step}@${p.cluster}`, argv: p.argv }, ...(p.pipeTo ? [{ slot: `${p.step}@${p.cluster}`, argv: p.pipeTo }] : [])]);
    expect(bySlot(expected)).toEqual(bySlot(executed));
    expect(expected.length).toBeGreaterThan(30);
  });

  it('fills in names, contexts, network and revision, and touches no cluster (the tools do not even exist)', async () => {
    const text = await runCli(['plan', '--config', config]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('istioctl create-remote-secret --context=cluster3 --name=cluster3 -n istio-system | kubectl --context=cluster1 apply --server-side --field-manager=mesh-run --force-conflicts -f -');
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
    expect(script).toContain("/nonexistent/istioctl install --context=cluster1 -y -f - <<'MANIFEST_1'");
    expect(script).toMatch(/for _ in \$\(seq 1 300\); do\n {2}DISCOVERY_ADDRESS="\$\(\/nonexistent\/kubectl --context=cluster1 get -n istio-system service istio-eastwestgateway -o 'jsonpath=\{\.status\.loadBalancer\.ingress\[0\]\.ip\}'/);
    expect(script).toContain('remotePilotAddress: ${DISCOVERY_ADDRESS}');
    expect(script).toContain('/nonexistent/kubectl --context=cluster3 get namespace istio-system -o json >/dev/null 2>&1 || /nonexistent/kubectl --context=cluster3 create namespace istio-system');
    expect(script).toContain('injectionPath: /inject/cluster/cluster3/net/network1');
    expect(script).toContain('revision: canary');
  });
});
