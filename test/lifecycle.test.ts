// The whole page's lifecycle on simulated clusters: install, verify, uninstall; each resumable.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stepSlots, UNINSTALL_STEP_IDS, VERIFY_STEP_IDS } from '../machines/steps.js';
import { type CliResult, runIdFrom, startCli, tempDir } from './support/cli.js';
import { runCli } from './support/cli-here.js';
import * as engine from './support/engine.js';
import { writeFakeTools } from './support/fake-tools.js';
import { attemptsOf, peek, readJournal } from './support/journal.js';
import { primaryRemote } from './support/shapes.js';
import { simCommand } from './support/sim.js';
import { findLeak, needlesFor } from './support/token-scan.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
let dbCount = 0;
const freshDb = () => join(tmp.dir, `life-${dbCount++}.db`);
const FAST = ['--dry-run', '--sim-lb-delay', '0', '-q'];
const CLUSTERS = primaryRemote();

// An installed mesh, driven in this process where the install only sets up what a test is about.
async function installed(db: string, options: engine.InstallOptions = {}): Promise<string> {
  const run = await engine.install(db, options);
  expect(run.status).toBe('succeeded');
  return run.id;
}

async function ok(args: string[]): Promise<CliResult> {
  const result = await runCli(args);
  expect(result.code, `${args.join(' ')}\n${result.stderr}`).toBe(0);
  return result;
}

// Runs a command against a run's simulated clusters, as an operator with kubectl would.
function simKubectl(db: string, world: string, context: string, args: string[], tool: 'kubectl' | 'istioctl' = 'kubectl') {
  return simCommand(db, world, context, args, { tool });
}

async function runCount(db: string): Promise<number> {
  const doc = JSON.parse((await ok(['runs', '--db', db, '--json'])).stdout) as { runs?: unknown[] } | unknown[];
  return (Array.isArray(doc) ? doc : (doc.runs ?? [])).length;
}

// Everything Istio-shaped left in a simulated cluster.
function istioLeft(objects: readonly string[]): string[] {
  return objects.filter(
    (o) =>
      /istio|"name":"sample"/.test(o) &&
      /"kind":"(Namespace|CustomResourceDefinition|MutatingWebhookConfiguration|ValidatingWebhookConfiguration|Deployment)"/.test(o),
  );
}

describe('install, verify, uninstall on simulated clusters', () => {
  it('goes from two empty clusters to a verified mesh and back to empty, with three commands', async () => {
    const db = freshDb();
    const installedByCli = await runCli(['install', ...FAST, '--db', db]);
    expect(installedByCli.code, installedByCli.stderr).toBe(0);
    const install = runIdFrom(installedByCli);
    const verify = await ok(['verify', '--run', install, '--db', db]);
    const verifyId = runIdFrom(verify);
    expect(verify.stdout).toContain(`verify of ${install}`);
    expect(verify.stdout).toContain('mesh verified');
    expect(verify.stderr).toMatch(/check-traffic@cluster1: answers from cluster1: v1 x\d+, v2 x\d+/);
    expect(verify.stderr).toMatch(/check-traffic@cluster2: answers from cluster2: v1 x\d+, v2 x\d+/);
    const verified = await readJournal(db, verifyId);
    expect(verified.run.kind).toBe('verify');
    expect(verified.run.targetRun).toBe(install);
    for (const slot of stepSlots('verify', CLUSTERS))
      expect(
        attemptsOf(verified, slot.step, slot.cluster).map((a) => a.outcome),
        `${slot.step}@${slot.cluster}`,
      ).toEqual(['succeeded']);
    // The sample as the verify page has it: v1 in the primary, v2 in the remote, injected everywhere.
    const c1 = verified.cluster.cluster1?.join('\n') ?? '';
    const c2 = verified.cluster.cluster2?.join('\n') ?? '';
    expect(c1).toMatch(/"kind":"Deployment".*"name":"helloworld-v1"/);
    expect(c2).toMatch(/"kind":"Deployment".*"name":"helloworld-v2"/);
    expect(c1).not.toContain('"name":"helloworld-v2"');
    expect(c2).toMatch(/"kind":"Pod".*"name":"istio-proxy"/);

    const uninstall = await ok(['uninstall', '--run', install, '--db', db]);
    expect(uninstall.stdout).toContain('mesh removed');
    const removed = await readJournal(db, runIdFrom(uninstall));
    for (const slot of stepSlots('uninstall', CLUSTERS)) expect(attemptsOf(removed, slot.step, slot.cluster).map((a) => a.outcome)).toEqual(['succeeded']);
    expect(istioLeft(removed.cluster.cluster1 ?? [])).toEqual([]);
    expect(istioLeft(removed.cluster.cluster2 ?? [])).toEqual([]);
    // The remotes were removed before the primary.
    const order = removed.attempts.map((a) => `${a.step}@${a.cluster}`);
    expect(order.indexOf('uninstall-remote@cluster2')).toBeLessThan(order.indexOf('uninstall-primary@cluster1'));
    expect(order.indexOf('detach-remote@cluster2')).toBeLessThan(order.indexOf('uninstall-remote@cluster2'));

    // history, runs and graph cover the new kinds.
    const history = await ok(['history', '--kind', 'verify', '--db', db, '--json']);
    const rows = JSON.parse(history.stdout) as Array<{ run: string; step: string }>;
    expect(new Set(rows.map((r) => r.run))).toEqual(new Set([verifyId]));
    expect(rows.map((r) => r.step)).toContain('check-traffic');
    const runs = await ok(['runs', '--db', db]);
    expect(runs.stdout).toMatch(/uninstall\s+succeeded/);
    const graph = await ok(['graph', '--run', runIdFrom(uninstall), '--db', db]);
    for (const step of UNINSTALL_STEP_IDS) expect(graph.stdout).toContain(`state "${step}"`);
    expect(graph.stdout).not.toContain('state "install-primary"');
    const page = join(tmp.dir, 'verify-report.html');
    await ok(['report', verifyId, '--html', page, '--db', db]);
    const html = readFileSync(page, 'utf8');
    for (const step of VERIFY_STEP_IDS) expect(html).toContain(step);
    expect(html).toContain('verify primary-remote');
    const status = await ok(['status', verifyId, '--db', db]);
    expect(status.stdout).toContain(`acts on run ${install}`);
  });

  it.each(['preflight', ...VERIFY_STEP_IDS])('verify fails at %s when told to, and resume finishes it without redoing the rest', async (step) => {
    const db = freshDb();
    const install = await installed(db);
    const failed = await runCli(['verify', '--run', install, '--inject-failure', step, '--db', db, '-q']);
    expect(failed.code, failed.stderr).toBe(1);
    const id = runIdFrom(failed);
    expect(failed.stderr).toContain(`failed at ${step}`);
    expect(failed.stderr).toContain(`mesh-run resume ${id}`);
    await ok(['resume', id, '--db', db, '-q']);
    const journal = await readJournal(db, id);
    expect(journal.run.status).toBe('succeeded');
    const struck = journal.attempts.filter((a) => a.outcome === 'failed');
    expect(struck.map((a) => a.step)).toEqual([step]);
    for (const slot of stepSlots('verify', CLUSTERS)) {
      const expected = slot.step === step && slot.cluster === struck[0]?.cluster ? ['failed', 'succeeded'] : ['succeeded'];
      expect(
        attemptsOf(journal, slot.step, slot.cluster).map((a) => a.outcome),
        `${slot.step}@${slot.cluster}`,
      ).toEqual(expected);
    }
  });

  it.each(['preflight', ...UNINSTALL_STEP_IDS])('uninstall fails at %s when told to, and resume converges to empty clusters', async (step) => {
    const db = freshDb();
    const install = await installed(db);
    await ok(['verify', '--run', install, '--db', db, '-q']);
    const failed = await runCli(['uninstall', '--run', install, '--inject-failure', step, '--db', db, '-q']);
    expect(failed.code, failed.stderr).toBe(1);
    const id = runIdFrom(failed);
    expect(failed.stderr).toContain(`failed at ${step}`);
    await ok(['resume', id, '--db', db, '-q']);
    const journal = await readJournal(db, id);
    expect(journal.run.status).toBe('succeeded');
    expect(journal.attempts.filter((a) => a.outcome === 'failed').map((a) => a.step)).toEqual([step]);
    expect(istioLeft(journal.cluster.cluster1 ?? [])).toEqual([]);
    expect(istioLeft(journal.cluster.cluster2 ?? [])).toEqual([]);
  });

  it('uninstalls a half-installed mesh, and a second uninstall of empty clusters changes nothing', async () => {
    const db = freshDb();
    // install-remote applies its manifests and then fails: the remote is half installed.
    const partial = await runCli(['install', ...FAST, '--inject-failure', 'install-remote', '--db', db]);
    expect(partial.code).toBe(1);
    const install = runIdFrom(partial);
    expect(((await readJournal(db, install)).cluster.cluster2 ?? []).join('\n')).toContain('istio-sidecar-injector');
    const first = await readJournal(db, runIdFrom(await ok(['uninstall', '--run', install, '--db', db, '-q'])));
    expect(istioLeft(first.cluster.cluster1 ?? [])).toEqual([]);
    expect(istioLeft(first.cluster.cluster2 ?? [])).toEqual([]);
    const again = await ok(['uninstall', '--run', install, '--db', db]);
    expect(again.stderr).toContain('no Istio left on cluster2');
    const second = await readJournal(db, runIdFrom(again));
    expect(second.commands.filter((c) => c.argv.includes('uninstall') || c.argv.includes('delete'))).toEqual([]);
  });

  it('refuses to purge an Istio that mesh-run did not install, unless --force', async () => {
    const db = freshDb();
    const install = await installed(db);
    // Someone installs another control plane (an unnamed IstioOperator) on the remote.
    const foreign = await simKubectl(db, install, 'cluster2', ['install', '-y'], 'istioctl');
    expect(foreign.exitCode, foreign.stderr).toBe(0);
    const refused = await runCli(['uninstall', '--run', install, '--db', db]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(
      /^mesh-run: error: cluster cluster2 \(context "cluster2"\) holds an Istio install that mesh-run did not make \(owner: unknown\)/,
    );
    expect(refused.stderr).toContain('--force');
    expect(refused.stdout).toBe('');
    expect(await runCount(db)).toBe(1);
    const forced = await ok(['uninstall', '--run', install, '--force', '--db', db, '-q']);
    const journal = await readJournal(db, runIdFrom(forced));
    expect(journal.events.map((e) => e.type)).toEqual(['started', 'forced', 'succeeded']);
    expect(istioLeft(journal.cluster.cluster2 ?? [])).toEqual([]);
  });

  it('lets one run at a time act on a mesh: an uninstall waits for a verify still running', async () => {
    const db = freshDb();
    const install = await installed(db, { simulation: { loadBalancerDelayMs: 0, commandLatencyMs: 150 } });
    const { child, done } = startCli(['verify', '--run', install, '--db', db, '-q']);
    const deadline = Date.now() + 20_000;
    while (!(peek<{ n: number }>(db, "SELECT COUNT(*) AS n FROM runs WHERE kind = 'verify' AND lease_pid IS NOT NULL")?.[0]?.n ?? 0)) {
      if (Date.now() > deadline) throw new Error('verify never started');
      await new Promise((r) => setTimeout(r, 50));
    }
    const refused = await runCli(['uninstall', '--run', install, '--db', db]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/^mesh-run: error: run mr-[a-z0-9]+ \(verify\) is still running on these simulated clusters/);
    child.kill('SIGINT');
    expect((await done).code).toBe(130);
    expect(await runCount(db)).toBe(2);
  });

  it('refuses a second install or an uninstall on contexts a live real install is using', async () => {
    const marker = `mesh-run-busy-${process.pid}`;
    const tools = writeFakeTools(tmp.dir, marker);
    const config = join(tmp.dir, 'busy.yaml');
    writeFileSync(config, `tools: {kubectl: ${tools.kubectl}, istioctl: ${tools.istioctl}}\n`);
    const db = freshDb();
    const { child, done } = startCli(['install', '--config', config, '--db', db, '-q']);
    const deadline = Date.now() + 20_000;
    while (!(peek<{ n: number }>(db, "SELECT COUNT(*) AS n FROM step_attempts WHERE step = 'install-primary' AND outcome = 'running'")?.[0]?.n ?? 0)) {
      if (Date.now() > deadline) throw new Error('the install never reached install-primary');
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const verb of ['install', 'uninstall']) {
      // uninstall asks first (--yes answers): the busy contexts refuse it all the same, with nothing changed.
      const refused = await runCli([verb, '--config', config, '--db', db, ...(verb === 'uninstall' ? ['--yes'] : [])]);
      expect(refused.code, `${verb}: ${refused.stderr}`).toBe(3);
      expect(refused.stderr).toMatch(/^mesh-run: error: run mr-[a-z0-9]+ \(install\) is still running on context "cluster[12]"/);
    }
    child.kill('SIGINT');
    expect((await done).code).toBe(130);
    expect(await runCount(db)).toBe(1);
  });

  it("sees a detached remote: remote-clusters misses it, the primary reaches only v1, the remote's sidecar is cut off", async () => {
    const db = freshDb();
    const config = join(tmp.dir, 'short-verify.yaml');
    writeFileSync(config, 'verify: {timeout: 1s}\n');
    const install = await installed(db, { config });
    await ok(['verify', '--run', install, '--db', db, '-q']);
    const detached = await simKubectl(db, install, 'cluster1', ['-n', 'istio-system', 'delete', 'secret', 'istio-remote-secret-cluster2']);
    expect(detached.exitCode, detached.stderr).toBe(0);
    const answers = async (context: string) => {
      const pod = (await simKubectl(db, install, context, ['get', 'pods', '-n', 'sample', '-l', 'app=curl', '-o', 'jsonpath={.items[0].metadata.name}']))
        .stdout;
      const seen = new Set<string>();
      for (let i = 0; i < 6; i++) {
        const r = await simKubectl(db, install, context, ['exec', '-n', 'sample', '-c', 'curl', pod, '--', 'curl', '-sS', 'helloworld.sample:5000/hello']);
        seen.add(/version: (v\d)/.exec(r.stdout)?.[1] ?? r.stderr.split('\n')[0] ?? '');
      }
      return [...seen];
    };
    expect(await answers('cluster1')).toEqual(['v1']);
    // istiod no longer reads cluster2, so it cannot authenticate cluster2's proxies: they get no config.
    expect(await answers('cluster2')).toEqual(['curl: (56) Recv failure: Connection reset by peer']);
    const failed = await runCli(['verify', '--run', install, '--db', db, '-q']);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('failed at check-remote-clusters');
    expect(failed.stderr).toContain('cluster2 missing: cluster1 holds no remote secret for cluster2 (istio-system/istio-remote-secret-cluster2)');
  });

  it('names why istiod does not see a remote: its token revoked on the remote is refused there (HTTP 401)', async () => {
    const db = freshDb();
    const config = join(tmp.dir, 'short-verify.yaml');
    writeFileSync(config, 'verify: {timeout: 1s}\n');
    const install = await installed(db, { config });
    const kubeconfig = (
      await simKubectl(db, install, 'cluster1', ['-n', 'istio-system', 'get', 'secret', 'istio-remote-secret-cluster2', '-o', 'jsonpath={.data.cluster2}'])
    ).stdout;
    const token = /token: (\S+)/.exec(Buffer.from(kubeconfig, 'base64').toString('utf8'))?.[1] ?? '';
    expect(token.length).toBeGreaterThan(20);
    const revoked = await simKubectl(db, install, 'cluster2', [
      '-n',
      'istio-system',
      'delete',
      'secret',
      'istio-reader-service-account-istio-remote-secret-token',
    ]);
    expect(revoked.exitCode, revoked.stderr).toBe(0);
    const failed = await runCli(['verify', '--run', install, '--db', db, '-q']);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(
      /failed at check-remote-clusters@cluster1: istiod on cluster1 does not see every cluster synced after 1.0s; cluster2 timeout: cluster2's API server refuses the token in the remote secret on cluster1 \(HTTP 401\)/,
    );
    expect(failed.stderr).toContain('hint: run "mesh-run secrets rotate --cluster cluster2" to give istiod a new token');
    // The diagnosis read the secret and presented its token, but the token reached neither output nor store.
    const needles = needlesFor(token);
    expect(findLeak(failed.stdout + failed.stderr, needles)).toBeUndefined();
    expect(findLeak(readFileSync(db), needles)).toBeUndefined();
  });

  it('rejects bad verify and uninstall input with one line and exit 2, recording nothing', async () => {
    const db = freshDb();
    const install = await installed(db);
    const cases: Array<[string[], RegExp]> = [
      [['verify', '--run', install, '--config', 'x.yaml'], /--run and --config: give one of them/],
      [['verify', '--run', install, '--inject-failure', 'install-primary'], /verify has no step "install-primary"/],
      [['uninstall', '--run', install, '--inject-failure', 'uninstall-remote@cluster1'], /does not run on cluster "cluster1"/],
      [['verify', '--run', 'bad id!'], /is not a run id/],
    ];
    for (const [args, message] of cases) {
      const before = await readJournal(db, install);
      const result = await runCli([...args, '--db', db]);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(result.stderr).toMatch(message);
      expect((await readJournal(db, install)).cluster).toEqual(before.cluster);
    }
    expect(await runCount(db)).toBe(1);
  });

  it('deploys the samples of a local Istio release when verify.samplesDir names one', async () => {
    const release = join(tmp.dir, 'istio-1.26.0');
    mkdirSync(join(release, 'samples', 'helloworld'), { recursive: true });
    mkdirSync(join(release, 'samples', 'curl'), { recursive: true });
    const deployment = (v: string) =>
      `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: helloworld-${v}, labels: {app: helloworld, version: ${v}}}\nspec:\n  replicas: 1\n  selector: {matchLabels: {app: helloworld, version: ${v}}}\n  template:\n    metadata: {labels: {app: helloworld, version: ${v}}}\n    spec: {containers: [{name: helloworld, image: "mirror.example/helloworld-${v}:local", ports: [{containerPort: 5000}]}]}\n`;
    writeFileSync(
      join(release, 'samples', 'helloworld', 'helloworld.yaml'),
      `apiVersion: v1\nkind: Service\nmetadata: {name: helloworld, labels: {app: helloworld, service: helloworld}}\nspec: {ports: [{port: 5000, name: http}], selector: {app: helloworld}}\n---\n${deployment('v1')}---\n${deployment('v2')}`,
    );
    writeFileSync(
      join(release, 'samples', 'curl', 'curl.yaml'),
      'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: curl}\nspec:\n  replicas: 1\n  selector: {matchLabels: {app: curl}}\n  template:\n    metadata: {labels: {app: curl}}\n    spec: {containers: [{name: curl, image: "mirror.example/curl:local", command: [sleep, infinity]}]}\n',
    );
    const config = join(tmp.dir, 'release.yaml');
    writeFileSync(config, `verify: {samplesDir: ${release}}\n`);
    const db = freshDb();
    const install = await installed(db, { config });
    const verify = await ok(['verify', '--run', install, '--db', db, '-q']);
    const c2 = (await readJournal(db, runIdFrom(verify))).cluster.cluster2?.join('\n') ?? '';
    expect(c2).toContain('mirror.example/helloworld-v2:local');
    expect(c2).not.toContain('mirror.example/helloworld-v1:local');

    writeFileSync(config, `verify: {samplesDir: ${join(tmp.dir, 'no-release')}}\n`);
    const other = await installed(db, { config });
    const refused = await runCli(['verify', '--run', other, '--db', db]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^mesh-run: error: verify\.samplesDir: .*no-release\/samples\/helloworld\/helloworld\.yaml cannot be read/);
  });

  it('plans verify and uninstall by rehearsing them after an install', async () => {
    const verify = await ok(['plan', 'verify']);
    expect(verify.stdout).toContain('istioctl remote-clusters --context=cluster1');
    expect(verify.stdout).toContain('exec -n sample -c curl');
    expect(verify.stdout).not.toContain('install-primary');
    const uninstall = await ok(['plan', 'uninstall', '--format', 'json']);
    const steps = new Set((JSON.parse(uninstall.stdout) as Array<{ step: string }>).map((c) => c.step));
    expect([...steps]).toEqual(['preflight', ...UNINSTALL_STEP_IDS]);
    const bad = await runCli(['plan', 'reinstall']);
    expect(bad.code).toBe(2);

    // The script's checks grep for what the tools print: try its patterns on the simulator's answers.
    const checks = (JSON.parse((await ok(['plan', 'verify', '--format', 'json'])).stdout) as Array<{ step: string; check?: { patterns: string[] } }>).filter(
      (c) => c.check,
    );
    const db = freshDb();
    const install = await installed(db);
    await ok(['verify', '--run', install, '--db', db, '-q']);
    const synced = (await simKubectl(db, install, 'cluster1', ['remote-clusters'], 'istioctl')).stdout;
    const remoteCheck = checks.find((c) => c.step === 'check-remote-clusters')?.check?.patterns ?? [];
    expect(remoteCheck).toHaveLength(1);
    const grep = (pattern: string, text: string) => spawnSync('grep', ['-Eq', pattern], { input: text }).status;
    expect(grep(remoteCheck[0] as string, synced)).toBe(0);
    expect(grep(remoteCheck[0] as string, synced.replace(/synced/g, 'timeout'))).toBe(1);
    const traffic = checks.find((c) => c.step === 'check-traffic')?.check?.patterns ?? [];
    expect(traffic.map((p) => grep(p, 'Hello version: v1, instance: helloworld-v1-abc\nHello version: v2, instance: helloworld-v2-def\n'))).toEqual([0, 0]);
    expect(traffic.map((p) => grep(p, 'Hello version: v1, instance: helloworld-v1-abc\n'))).toEqual([0, 1]);
    const script = (await ok(['plan', 'verify', '--format', 'sh'])).stdout;
    expect(spawnSync('bash', ['-n'], { input: script }).status).toBe(0);
  });
});
