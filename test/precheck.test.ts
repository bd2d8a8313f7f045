// mesh-run precheck on simulated clusters reached through kubectl and istioctl shims (the real code path):
// every problem found in one run, one line each with a hint; exit 3 when one blocks an install.
import { spawnSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { newWorldSettings, writeWorld } from '../adapters/simulator/world.js';
import { openSqliteStore } from '../store/sqlite/index.js';
import { tempDir } from './support/cli.js';
import { runCli } from './support/cli-here.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const SIM_TOOL = fileURLToPath(new URL('./support/sim-tool.mjs', import.meta.url));

// A world with the given contexts; shims named kubectl and istioctl that answer from it.
async function world(name: string, contexts: Array<{ name: string; server?: string; user?: { exec?: string }; unreachable?: boolean }>) {
  const db = join(tmp.dir, `${name}.db`);
  const store = openSqliteStore(db);
  const settings = newWorldSettings(
    contexts.map((c) => ({ name: c.name, context: c.name })),
    { loadBalancer: { mode: 'ip', delayMs: 0 } },
    Date.now(),
  );
  settings.contexts = settings.contexts.map((c, i) => ({ ...c, ...contexts[i], name: c.name, cluster: c.cluster, server: contexts[i]?.server ?? c.server }));
  await writeWorld(store.worlds, 'w', settings);
  await store.close();
  const tools: Record<string, string> = {};
  for (const tool of ['kubectl', 'istioctl']) {
    tools[tool] = join(tmp.dir, `${name}-${tool}`);
    writeFileSync(tools[tool] as string, `#!/bin/sh\nexec "${process.execPath}" "${SIM_TOOL}" "${db}" w ${tool} "$@"\n`);
    chmodSync(tools[tool] as string, 0o755);
  }
  const apply = (context: string, manifest: object) => {
    const result = spawnSync(tools.kubectl as string, [`--context=${context}`, 'apply', '-f', '-'], { input: JSON.stringify(manifest), encoding: 'utf8' });
    expect(result.status, result.stderr).toBe(0);
  };
  return { tools, apply };
}

const rootConfigMap = (pem: string) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'istio-ca-root-cert', namespace: 'istio-system' },
  data: { 'root-cert.pem': pem },
});

describe('mesh-run precheck', () => {
  it('finds a missing context, a silent API server, a loopback address, an exec plugin, a foreign Istio and differing roots, in one run', async () => {
    const w = await world('many', [
      { name: 'east' },
      { name: 'west', user: { exec: 'aws-iam-authenticator' } },
      { name: 'edge', server: 'https://127.0.0.1:6443' },
      { name: 'dark', unreachable: true },
    ]);
    w.apply('east', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'istio-system' } });
    w.apply('west', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'istio-system' } });
    w.apply('east', {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingWebhookConfiguration',
      metadata: { name: 'istio-sidecar-injector', labels: { 'install.operator.istio.io/owning-resource': 'installed-state' } },
      webhooks: [],
    });
    w.apply('east', rootConfigMap('-----BEGIN CERTIFICATE-----\nroot-A\n-----END CERTIFICATE-----'));
    w.apply('west', rootConfigMap('-----BEGIN CERTIFICATE-----\nroot-B\n-----END CERTIFICATE-----'));
    const config = join(tmp.dir, 'many.yaml');
    writeFileSync(
      config,
      [
        'clusters:',
        '  - {name: east, context: east, role: primary}',
        '  - {name: west, context: west, role: primary}',
        '  - {name: edge, context: edge, role: remote, controlPlane: east}',
        '  - {name: gone, context: nowhere, role: remote, controlPlane: east}',
        '  - {name: dark, context: dark, role: remote, controlPlane: west}',
        `trust: {outputDir: ${join(tmp.dir, 'certs')}}`,
        `tools: {kubectl: ${w.tools.kubectl}, istioctl: ${w.tools.istioctl}}`,
        '',
      ].join('\n'),
    );
    const result = await runCli(['precheck', '-c', config]);
    expect(result.code, result.stderr).toBe(3);
    const out = result.stdout;
    expect(out).toContain('kube context "nowhere" (cluster gone) not found in the kubeconfig');
    expect(out).toMatch(/the API server of context "dark" \(cluster dark\) does not answer: .*i\/o timeout/);
    expect(out).toContain("the kubeconfig gives edge's API server as https://127.0.0.1:6443");
    expect(out).toContain('context "west" authenticates through an exec plugin (aws-iam-authenticator), which istiod cannot run');
    expect(out).toContain('east already runs an Istio that mesh-run did not install (owner: installed-state)');
    expect(out).toMatch(/the clusters trust different roots \((east \/ west|west \/ east)\)/);
    // One line per finding, each with its hint on the next.
    const findings = out.split('\n').filter((l) => /^[✖!] /.test(l));
    expect(findings.length).toBeGreaterThanOrEqual(6);
    expect(out.split('\n').filter((l) => l.startsWith('    hint: ')).length).toBeGreaterThanOrEqual(4);
    expect(out.trim().split('\n').at(-1)).toMatch(/^\d+ problems, \d+ warnings?: an install would fail or do harm$/);

    const json = await runCli(['precheck', '-c', config, '-o', 'json']);
    const doc = JSON.parse(json.stdout) as { ok: boolean; problems: number; findings: Array<{ check: string; level: string; cluster?: string }> };
    expect(doc.ok).toBe(false);
    expect(new Set(doc.findings.map((f) => f.check))).toEqual(new Set(['preflight', 'credential-plugin', 'existing-istio', 'root-of-trust', 'load-balancer']));
    expect(doc.findings.find((f) => f.check === 'credential-plugin')?.level).toBe('warning');
  });

  it('passes clean clusters with exit 0, naming what it checked; warnings alone do not block', async () => {
    const w = await world('clean', [{ name: 'cluster1' }, { name: 'cluster2' }]);
    const config = join(tmp.dir, 'clean.yaml');
    writeFileSync(
      config,
      `remotes: [{name: cluster2, apiServer: "https://10.11.0.1:6443"}]\ntools: {kubectl: ${w.tools.kubectl}, istioctl: ${w.tools.istioctl}}\n`,
    );
    const result = await runCli(['precheck', '-c', config]);
    // No LoadBalancer Service has an address yet on a fresh cluster: a warning, not a problem.
    expect(result.code, result.stdout).toBe(0);
    expect(result.stdout).toContain('no Service of type LoadBalancer has an address on cluster1');
    expect(result.stdout.trim().split('\n').at(-1)).toBe('0 problems, 1 warning: an install can go ahead');

    // version with a config reads each cluster's Kubernetes and Istio versions.
    const version = await runCli(['version', '-c', config, '-o', 'json']);
    expect(version.code, version.stderr).toBe(0);
    const doc = JSON.parse(version.stdout) as { clusters: Array<{ cluster: string; kubernetes: string; istio: string[] }> };
    expect(doc.clusters).toEqual([
      { cluster: 'cluster1', context: 'cluster1', kubernetes: 'v1.33.1', istio: [] },
      { cluster: 'cluster2', context: 'cluster2', kubernetes: 'v1.33.1', istio: [] },
    ]);
  });
});
