import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runIdFrom, tempDir } from './support/cli.js';
import { runCli } from './support/cli-here.js';
import { writeFakeTools } from './support/fake-tools.js';
import { readJournal } from './support/journal.js';
import { simCommand } from './support/sim.js';

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

// A loopback address a config (or cluster add --api-server) names is what the remote secret carries, and
// istiod dials it from its pod. Real preflight and a dry run's preflight apply one rule: refused when a primary
// holding the secret has its API server elsewhere (istiod is not on this machine); taken when every holder is
// on this machine's loopback too (istiod in this machine's network, as the kwok suite runs it).
describe('a loopback API server the config names', () => {
  it('real: refused when the primary is elsewhere (exit 3, nothing written), taken when the primary is on loopback too', async () => {
    const dir = join(tmp.dir, 'named');
    mkdirSync(dir, { recursive: true });
    const far = writeFakeTools(dir, 'unused-marker', 'https://10.20.0.2:6443');
    const config = join(dir, 'named.yaml');
    const named = 'remotes: [{name: cluster2, apiServer: "https://127.0.0.1:6443"}]\ntimeouts: {command: 2s}\n';
    writeFileSync(config, `${named}tools: {kubectl: ${far.kubectl}, istioctl: ${far.istioctl}}\n`);
    const db = join(dir, 'named.db');
    const refused = await runCli(['install', '--config', config, '--db', db]);
    expect(refused.code, refused.stderr).toBe(3);
    expect(refused.stderr).toContain(
      "remotes[0].apiServer gives cluster2's API server as https://127.0.0.1:6443, a loopback address, but cluster1's API server (https://10.20.0.2:6443) is not on this machine, so istiod there would dial its own pod; set remotes[0].apiServer to an address cluster1's pods can reach",
    );
    expect(existsSync(db)).toBe(false);

    const near = join(dir, 'near');
    mkdirSync(near);
    const local = writeFakeTools(near, 'unused-marker', 'https://127.0.0.1:7443');
    writeFileSync(config, `${named}tools: {kubectl: ${local.kubectl}, istioctl: ${local.istioctl}}\n`);
    // Past preflight: the fake istioctl install outlives the 2 s command timeout.
    const taken = await runCli(['install', '--config', config, '--db', db, '-q']);
    expect(taken.code, taken.stderr).toBe(1);
    const journal = await readJournal(db, runIdFrom(taken));
    expect(journal.attempts.find((a) => a.step === 'preflight')?.outcome).toBe('succeeded');
  });

  it("plan: the rehearsal's invented addresses do not refuse it; the run checks the real ones", async () => {
    const dir = join(tmp.dir, 'named-plan');
    mkdirSync(dir, { recursive: true });
    const config = join(dir, 'named.yaml');
    writeFileSync(config, 'remotes: [{name: cluster2, apiServer: "https://127.0.0.1:6443"}]\n');
    const plan = await runCli(['plan', 'install', '--config', config, '--db', join(dir, 'unused.db')]);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toContain('create-remote-secret');
    expect(plan.stdout).toContain('--server=https://127.0.0.1:6443');
    expect(existsSync(join(dir, 'unused.db'))).toBe(false);
  });

  it('dry run: cluster add --api-server https://127.0.0.1:6443 fails at preflight as the real one would, and changes nothing', async () => {
    const dir = join(tmp.dir, 'dry-add');
    mkdirSync(dir, { recursive: true });
    const db = join(dir, 'j.db');
    const FAST = ['--dry-run', '--sim-lb-delay', '0', '-q', '--db', db];
    const installed = await runCli(['install', ...FAST]);
    expect(installed.code, installed.stderr).toBe(0);
    const world = (await readJournal(db, runIdFrom(installed))).run.simWorld as string;
    const secretsOnPrimary = async () =>
      (await simCommand(db, world, 'cluster1', ['get', 'secrets', '-n', 'istio-system', '-l', 'istio/multiCluster=true', '-o', 'name'])).stdout;
    const before = await secretsOnPrimary();

    const add = ['cluster', 'add', '--mesh', 'mesh1', '--name', 'cluster3', '--context', 'cluster3', '--role', 'remote', '--db', db, '-q'];
    const refused = await runCli([...add, '--api-server', 'https://127.0.0.1:6443']);
    expect(refused.code, refused.stderr).toBe(1);
    expect(refused.stderr).toContain(
      "failed at preflight: --api-server gives cluster3's API server as https://127.0.0.1:6443, a loopback address, but cluster1's API server (https://10.10.0.1:6443) is not on this machine, so istiod there would dial its own pod; set --api-server to an address cluster1's pods can reach",
    );
    const journal = await readJournal(db, runIdFrom(refused));
    expect(journal.attempts.map((a) => a.step)).toEqual(['preflight']);
    const changing = ['create', 'apply', 'annotate', 'label', 'install', 'patch', 'delete', 'create-remote-secret'];
    expect(journal.commands.filter((c) => c.argv.some((a) => changing.includes(a))).map((c) => c.argv.join(' '))).toEqual([]);
    expect(await secretsOnPrimary()).toBe(before);
    expect((await simCommand(db, world, 'cluster3', ['get', 'namespace', 'istio-system'])).exitCode).toBe(1);

    // The address the cluster has: it joins.
    const joined = await runCli([...add, '--api-server', 'https://10.12.0.1:6443']);
    expect(joined.code, joined.stderr).toBe(0);
  });

  it("dry run: the simulated istiod dials the secret's own address, so a loopback one there never syncs and verify says why", async () => {
    const dir = join(tmp.dir, 'dry-secret');
    mkdirSync(dir, { recursive: true });
    const db = join(dir, 'j.db');
    const FAST = ['--dry-run', '--sim-lb-delay', '0', '-q', '--db', db];
    // The token the simulated cluster2 mints for istioctl, pinned so a hand-made secret can carry it.
    const token = `${Buffer.from('{"alg":"RS256"}').toString('base64url')}.${Buffer.from('{"sub":"reader"}').toString('base64url')}.c2ln`;
    const env = { MESH_RUN_SIM_TOKEN: token };
    const config = join(dir, 'mesh.yaml');
    writeFileSync(config, 'verify: {timeout: 3s}\n');
    const installed = await runCli(['install', ...FAST, '--config', config], { env });
    expect(installed.code, installed.stderr).toBe(0);
    const world = (await readJournal(db, runIdFrom(installed))).run.simWorld as string;
    const secretAt = (server: string) =>
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'istio-remote-secret-cluster2', namespace: 'istio-system', labels: { 'istio/multiCluster': 'true' } },
        stringData: {
          cluster2: `apiVersion: v1\nkind: Config\nclusters: [{name: cluster2, cluster: {server: "${server}"}}]\ncontexts: [{name: cluster2, context: {cluster: cluster2, user: cluster2}}]\ncurrent-context: cluster2\nusers: [{name: cluster2, user: {token: "${token}"}}]\n`,
        },
      });
    const put = async (server: string) => {
      process.env.MESH_RUN_SIM_TOKEN = token;
      try {
        const applied = await simCommand(db, world, 'cluster1', ['apply', '--server-side', '--force-conflicts', '-f', '-'], { stdin: secretAt(server) });
        expect(applied.exitCode, applied.stderr).toBe(0);
      } finally {
        delete process.env.MESH_RUN_SIM_TOKEN;
      }
    };
    const verify = ['verify', '--run', runIdFrom(installed), '--db', db, '-q'];
    await put('https://127.0.0.1:6443');
    const failed = await runCli(verify, { env });
    expect(failed.code, failed.stderr).toBe(1);
    expect(failed.stderr).toContain(
      "cluster2's API server at https://127.0.0.1:6443 (the address in its remote secret on cluster1) does not answer: dial tcp 127.0.0.1:6443: i/o timeout; it is a loopback address, so istiod on cluster1 dials its own pod there",
    );
    // The same secret at cluster2's own address (same token): synced, verified.
    await put('https://10.11.0.1:6443');
    const passed = await runCli(verify, { env });
    expect(passed.code, passed.stderr).toBe(0);
  });
});
