import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, runIdFrom, tempDir } from './support/cli.js';
import { writeFakeTools } from './support/fake-tools.js';
import { readJournal } from './support/journal.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe('preflight against real tools, before a run is recorded', () => {
  it('refuses a remote whose kubeconfig API server is loopback, unless the config names one (exit 3, nothing written)', async () => {
    const tools = writeFakeTools(tmp.dir, 'unused-marker', 'https://127.0.0.1:6443');
    const config = join(tmp.dir, 'loopback.yaml');
    writeFileSync(config, `tools: {kubectl: ${tools.kubectl}, istioctl: ${tools.istioctl}}\n`);
    const db = join(tmp.dir, 'loopback.db');
    const result = await runCli(['install', '--config', config, '--db', db]);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain("the kubeconfig gives cluster2's API server as https://127.0.0.1:6443");
    expect(result.stderr).toContain('set remotes[0].apiServer');
    expect(existsSync(db)).toBe(false);
  });

  it('refuses an istioctl older than 1.15', async () => {
    const tools = writeFakeTools(tmp.dir, 'unused-marker');
    writeFileSync(tools.istioctl, '#!/usr/bin/env bash\necho \'{"clientVersion":{"version":"1.14.6"}}\'\n');
    const config = join(tmp.dir, 'old.yaml');
    writeFileSync(config, `tools: {kubectl: ${tools.kubectl}, istioctl: ${tools.istioctl}}\n`);
    const result = await runCli(['install', '--config', config, '--db', join(tmp.dir, 'old.db')]);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('istioctl 1.14.6 is too old: this flow needs istioctl 1.15 or newer');
  });

  it('names missing contexts and lists the ones the kubeconfig has', async () => {
    const tools = writeFakeTools(tmp.dir, 'unused-marker');
    const config = join(tmp.dir, 'ctx.yaml');
    writeFileSync(config, `primary: {context: east}\ntools: {kubectl: ${tools.kubectl}, istioctl: ${tools.istioctl}}\n`);
    const result = await runCli(['install', '--config', config, '--db', join(tmp.dir, 'ctx.db')]);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('kube context "east" (cluster cluster1) not found in the kubeconfig (it has: cluster1, cluster2)');
  });
});

describe('a real install asks the clusters each environment question once', () => {
  it("the precheck's answers are the preflight step's: journaled under it, with the times they were asked, not asked again", async () => {
    const dir = join(tmp.dir, 'once');
    mkdirSync(dir, { recursive: true });
    const log = join(dir, 'calls.log');
    const tools = writeFakeTools(dir, `mesh-run-once-${process.pid}`, 'https://10.20.0.2:6443', { log });
    const config = join(dir, 'once.yaml');
    // istioctl install (a 30 s sleep here) times out: the run stops at install-primary, after its preflight.
    writeFileSync(config, `tools: {kubectl: ${tools.kubectl}, istioctl: ${tools.istioctl}}\ntimeouts: {command: 2s}\n`);
    const db = join(dir, 'once.db');
    const result = await runCli(['install', '--config', config, '--db', db, '-q']);
    expect(result.code, result.stderr).toBe(1);
    const calls = readFileSync(log, 'utf8').trim().split('\n');
    const count = (pattern: RegExp) => calls.filter((c) => pattern.test(c)).length;
    expect(count(/^kubectl config get-contexts/)).toBe(1);
    expect(count(/^istioctl version/)).toBe(1);
    for (const ctx of ['cluster1', 'cluster2']) expect(count(new RegExp(`^kubectl --context=${ctx} version`)), ctx).toBe(1);
    const journal = await readJournal(db, runIdFrom(result));
    const preflight = journal.attempts.find((a) => a.step === 'preflight');
    // Asked by the precheck, before the run (and its preflight attempt) was recorded; the inventory the step
    // takes afterwards is its own.
    const answered = journal.commands.filter((c) => c.attemptId === preflight?.id && c.startedAt < journal.run.createdAt);
    expect(answered.map((c) => c.argv.slice(0, 3).join(' ')).sort()).toEqual([
      'istioctl version --remote=false',
      'kubectl --context=cluster1 version',
      'kubectl --context=cluster2 version',
      'kubectl config get-contexts',
      'kubectl config view',
    ]);
    for (const c of answered) expect(c.exitCode, c.argv.join(' ')).toBe(0);
  });
});

describe('preflight reports every problem at once', () => {
  it('a missing context, a silent API server, an old istioctl and a loopback remote: one line each, no JSON', async () => {
    const dir = join(tmp.dir, 'many');
    const { mkdirSync, chmodSync } = await import('node:fs');
    mkdirSync(dir, { recursive: true });
    const kubectl = join(dir, 'kubectl');
    writeFileSync(
      kubectl,
      `#!/usr/bin/env bash
case "$*" in
  *"config get-contexts"*) printf 'cluster1\\ncluster2\\ncluster3\\n' ;;
  *"config view"*"cluster2"*) printf 'https://127.0.0.1:6443' ;;
  *"config view"*) printf 'https://10.0.0.9:6443' ;;
  *"--context=cluster2 version"*) echo '{"clientVersion":{"gitVersion":"v1.32.3"}}'; echo 'Unable to connect to the server: dial tcp 10.1.2.3:6443: connect: connection refused' >&2; exit 1 ;;
  *" version "*) echo '{"serverVersion":{"gitVersion":"v1.33.5"}}' ;;
  *) echo "fake kubectl: $*" >&2; exit 1 ;;
esac
`,
    );
    const istioctl = join(dir, 'istioctl');
    writeFileSync(istioctl, '#!/usr/bin/env bash\necho \'{"clientVersion":{"version":"1.14.6"}}\'\n');
    chmodSync(kubectl, 0o755);
    chmodSync(istioctl, 0o755);
    const config = join(dir, 'many.yaml');
    writeFileSync(config, `remotes: [{name: cluster2}, {name: cluster4, context: gone}]\ntools: {kubectl: ${kubectl}, istioctl: ${istioctl}}\n`);
    const db = join(dir, 'many.db');
    const result = await runCli(['install', '--config', config, '--db', db]);
    expect(result.code).toBe(3);
    const errors = result.stderr.split('\n').filter((l) => l.startsWith('mesh-run: error: '));
    expect(errors).toHaveLength(4);
    expect(result.stderr).toContain(
      'kube context "gone" (cluster cluster4) not found in the kubeconfig (it has: cluster1, cluster2, cluster3); set remotes[1].context',
    );
    expect(result.stderr).toContain('istioctl 1.14.6 is too old');
    expect(result.stderr).toContain('the API server of context "cluster2" (cluster cluster2) does not answer: Unable to connect to the server');
    expect(result.stderr).toContain("the kubeconfig gives cluster2's API server as https://127.0.0.1:6443");
    expect(result.stderr).not.toContain('clientVersion');
    expect(result.stderr).toContain('mesh-run: hint: 4 problems, one per line');
    expect(existsSync(db)).toBe(false);
  });
});
