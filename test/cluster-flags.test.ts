// --context <cluster>=<context> and --kubeconfig: flags over the config file, over CTX_*, over the defaults.
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from './support/cli.js';
import { runCli } from './support/cli-here.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

// The context the plan's commands use for the remote (cluster2).
async function remoteContext(args: string[], env: Record<string, string> = {}): Promise<string> {
  const plan = await runCli(['plan', '--format', 'json', ...args], { env });
  expect(plan.code, plan.stderr).toBe(0);
  const commands = JSON.parse(plan.stdout) as Array<{ step: string; context: string | null; argv: string[] }>;
  const first = commands.find((c) => c.step === 'create-remote-namespace');
  expect(first?.argv).toContain(`--context=${first?.context}`);
  return first?.context ?? '';
}

describe('which kube context a cluster gets', () => {
  const config = join(tmp.dir, 'contexts.yaml');
  writeFileSync(config, 'remotes: [{name: cluster2, context: from-file}]\n');

  it('follows the chain: --context, then the config, then CTX_CLUSTER2, then the cluster name', async () => {
    expect(await remoteContext([])).toBe('cluster2');
    expect(await remoteContext([], { CTX_CLUSTER2: 'from-env' })).toBe('from-env');
    expect(await remoteContext(['-c', config], { CTX_CLUSTER2: 'from-env' })).toBe('from-file');
    expect(await remoteContext(['-c', config, '--context', 'cluster2=from-flag'], { CTX_CLUSTER2: 'from-env' })).toBe('from-flag');
  });

  it.each([
    [['--context', 'cluster2'], '--context "cluster2": expected <cluster>=<kube context>, e.g. --context cluster2=kind-east'],
    [['--context', 'east=x'], '--context east=x: the config has no cluster "east"; its clusters: cluster1, cluster2'],
    [['--context', 'cluster2=a', '--context', 'cluster2=b'], '--context cluster2: given twice (a, b); give each cluster one context'],
    [['--context', 'cluster2=cluster1'], '--context: clusters cluster1 and cluster2 would both use context "cluster1"; give each cluster its own'],
    [['--context', 'cluster2=-x'], '--context "cluster2=-x": expected <cluster>=<kube context>'],
  ])('refuses %j with exit 2 and one line', async (args, message) => {
    const result = await runCli(['plan', ...args]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain(message);
  });

  it('is refused with --run (that run recorded its contexts), before any store is opened', async () => {
    const db = join(tmp.dir, 'none.db');
    const result = await runCli(['verify', '--run', 'mr-abcdefgh', '--context', 'cluster2=x', '--db', db]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--context and --kubeconfig go with --config');
    expect(existsSync(db)).toBe(false);
  });
});

describe('--kubeconfig', () => {
  // A kubectl that writes down the KUBECONFIG it was given, then answers preflight's questions.
  function recordingTools(name: string): { kubectl: string; istioctl: string; seen: string } {
    const seen = join(tmp.dir, `${name}-seen.txt`);
    const kubectl = join(tmp.dir, `${name}-kubectl`);
    const istioctl = join(tmp.dir, `${name}-istioctl`);
    writeFileSync(
      kubectl,
      `#!/usr/bin/env bash
echo "kubectl KUBECONFIG=\${KUBECONFIG:-unset}" >> "${seen}"
case "$*" in
  *"config get-contexts"*) printf 'cluster1\\ncluster2\\n' ;;
  *"config view"*) printf 'https://10.20.0.2:6443' ;;
  *" version "*|*" version") echo '{"serverVersion":{"gitVersion":"v1.33.5"}}' ;;
  *) echo 'Error from server (NotFound): not found' >&2; exit 1 ;;
esac
`,
    );
    writeFileSync(
      istioctl,
      `#!/usr/bin/env bash\necho "istioctl KUBECONFIG=\${KUBECONFIG:-unset}" >> "${seen}"\necho '{"clientVersion":{"version":"1.27.3"}}'\n`,
    );
    chmodSync(kubectl, 0o755);
    chmodSync(istioctl, 0o755);
    return { kubectl, istioctl, seen };
  }

  it('reaches every kubectl and istioctl; the flag overrides tools.kubeconfig, which overrides $KUBECONFIG', async () => {
    for (const [name, file, flag, expected] of [
      ['env', '', [], '/from/env'],
      ['file', '  kubeconfig: /from/config\n', [], '/from/config'],
      ['flag', '  kubeconfig: /from/config\n', ['--kubeconfig', '/from/flag'], '/from/flag'],
    ] as const) {
      const tools = recordingTools(name);
      const config = join(tmp.dir, `${name}.yaml`);
      writeFileSync(config, `tools:\n  kubectl: ${tools.kubectl}\n  istioctl: ${tools.istioctl}\n${file}`);
      // uninstall stops at its confirmation (no terminal, no --yes) after the preflight checks ran.
      await runCli(['uninstall', '--config', config, ...flag, '--db', join(tmp.dir, `${name}.db`)], { env: { KUBECONFIG: '/from/env' } });
      const lines = readFileSync(tools.seen, 'utf8').trim().split('\n');
      expect(lines.length).toBeGreaterThan(2);
      expect(new Set(lines.map((l) => l.split(' ')[1]))).toEqual(new Set([`KUBECONFIG=${expected}`]));
      expect(lines.some((l) => l.startsWith('istioctl'))).toBe(true);
    }
  });
});
