// What a new user found wrong, each reproduced on simulated clusters: uninstall keeping what existed before,
// replaced values on record, the right step in `runs`, verify's choice of install, and the smaller ones.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type CliResult, runIdFrom, startCli, tempDir } from './support/cli.js';
import { runCli } from './support/cli-here.js';
import { attemptsOf, peek, readJournal } from './support/journal.js';
import { simCommand } from './support/sim.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
let dbCount = 0;
const freshDb = () => join(tmp.dir, `sweep-${dbCount++}.db`);
const FAST = ['--dry-run', '--sim-lb-delay', '0', '-q'];

async function ok(args: string[]): Promise<CliResult> {
  const result = await runCli(args);
  expect(result.code, `${args.join(' ')}\n${result.stderr}`).toBe(0);
  return result;
}

// Runs kubectl (or istioctl) on a dry run's simulated clusters, as an operator would.
async function sim(db: string, world: string, context: string, args: string[], stdin?: string, tool: 'kubectl' | 'istioctl' = 'kubectl') {
  const result = await simCommand(db, world, context, args, { tool, ...(stdin !== undefined ? { stdin } : {}) });
  expect(result.exitCode, `${args.join(' ')}: ${result.stderr}`).toBe(0);
  return result.stdout;
}

// A dry-run install that stopped before changing anything: its simulated clusters, to prepare by hand.
async function stoppedBeforeInstalling(db: string): Promise<string> {
  const failed = await runCli(['install', ...FAST, '--inject-failure', 'preflight', '--db', db]);
  expect(failed.code).toBe(1);
  return runIdFrom(failed);
}

const USER_CA = JSON.stringify({
  apiVersion: 'v1',
  kind: 'Secret',
  type: 'Opaque',
  metadata: { name: 'cacerts', namespace: 'istio-system' },
  data: { 'ca-key.pem': Buffer.from('-----BEGIN RSA PRIVATE KEY-----\nuser key\n-----END RSA PRIVATE KEY-----\n').toString('base64') },
});

describe('uninstall keeps what existed before mesh-run', () => {
  it("keeps a user's istio-system with its cacerts, restores the annotation it replaced, and says so everywhere", async () => {
    const db = freshDb();
    const id = await stoppedBeforeInstalling(db);
    // Before mesh-run: the user's istio-system with their CA on the primary; on the remote, an istio-system
    // that another control plane ("other") was meant to manage.
    await sim(db, id, 'cluster1', ['create', 'namespace', 'istio-system']);
    await sim(db, id, 'cluster1', ['create', '-f', '-'], USER_CA);
    await sim(db, id, 'cluster2', ['create', 'namespace', 'istio-system']);
    await sim(db, id, 'cluster2', ['annotate', 'namespace', 'istio-system', 'topology.istio.io/controlPlaneClusters=other']);

    const resumed = await runCli(['resume', id, '--db', db]);
    expect(resumed.code, resumed.stderr).toBe(0);
    // The replaced value is a warning while the run goes, and a note afterwards.
    expect(resumed.stderr).toMatch(
      /warning: annotate-remote-namespace@cluster2: annotation topology\.istio\.io\/controlPlaneClusters on namespace istio-system of cluster2: "other" -> "cluster1"/,
    );
    const status = await ok(['status', id, '--db', db]);
    expect(status.stdout).toMatch(
      /notes\n.*overwrote\s+annotate-remote-namespace@cluster2: annotation topology\.istio\.io\/controlPlaneClusters .*"other" -> "cluster1"/,
    );
    const show = await ok(['show', id, '--db', db]);
    expect(show.stdout).toMatch(/overwrote .*annotate-remote-namespace@cluster2: {2}annotation/);
    const actions = JSON.parse((await ok(['history', '--actions', '--run', id, '--json', '--db', db])).stdout) as Array<{
      action: string;
      where: string | null;
      detail: string;
    }>;
    expect(actions.find((a) => a.action === 'overwrote')).toMatchObject({ where: 'annotate-remote-namespace@cluster2' });
    const page = join(tmp.dir, 'overwrote.html');
    await ok(['report', id, '--html', page, '--db', db]);
    expect(readFileSync(page, 'utf8')).toContain('&quot;other&quot; -&gt; &quot;cluster1&quot;');

    const uninstall = await ok(['uninstall', '--run', id, '--db', db]);
    const removed = await readJournal(db, runIdFrom(uninstall));
    const c1 = (removed.cluster.cluster1 ?? []).join('\n');
    const c2 = (removed.cluster.cluster2 ?? []).join('\n');
    // The user's namespace and CA are still there; mesh-run's Istio is gone.
    expect(c1).toMatch(/"kind":"Namespace".*"name":"istio-system"/);
    expect(c1).toMatch(/"kind":"Secret".*"name":"cacerts"/);
    expect(c1).not.toMatch(/istiod|eastwest|"kind":"CustomResourceDefinition"/);
    expect(c2).toMatch(/"kind":"Namespace".*"name":"istio-system".*"topology.istio.io\/controlPlaneClusters":"other"/);
    expect(c2).not.toMatch(/istio-sidecar-injector|istio-reader-service-account-istio-remote-secret-token/);
    const kept = removed.events.filter((e) => e.type === 'kept').map((e) => e.detail ?? '');
    expect(
      kept.some((d) =>
        /namespace istio-system on cluster1 existed before mesh-run \(run mr-[a-z0-9]+\); kept it and secret cacerts, which mesh-run did not create/.test(d),
      ),
    ).toBe(true);
    expect(removed.events.some((e) => e.type === 'restored' && /"cluster1" -> "other"/.test(e.detail ?? ''))).toBe(true);
    expect(uninstall.stderr).toMatch(/uninstall-primary@cluster1: namespace istio-system on cluster1 existed before mesh-run/);
  });

  it("removes from a kept istio-system what istioctl leaves: the remote's istiod EndpointSlice, istiod's ConfigMaps; keeps the user's", async () => {
    const db = freshDb();
    const id = await stoppedBeforeInstalling(db);
    // Both clusters have an istio-system of their own; cluster1's holds a ConfigMap of the user's and a leader lock
    // an earlier Istio left (Istio-made, but there before mesh-run: it stays).
    const earlierLock = JSON.stringify({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'istio-leader', namespace: 'istio-system', annotations: { 'control-plane.alpha.kubernetes.io/leader': '{"holderIdentity":"old"}' } },
    });
    const userMap = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'team-settings', namespace: 'istio-system' }, data: { a: 'b' } });
    for (const ctx of ['cluster1', 'cluster2']) await sim(db, id, ctx, ['create', 'namespace', 'istio-system']);
    await sim(db, id, 'cluster1', ['create', '-f', '-'], earlierLock);
    await sim(db, id, 'cluster1', ['create', '-f', '-'], userMap);
    await ok(['resume', id, '--db', db, '-q']);
    await ok(['verify', '--run', id, '--db', db, '-q']);
    const installed = await readJournal(db, id);
    const names = (ctx: string, kind: string, journal = installed) =>
      (journal.cluster[ctx] ?? [])
        .map((o) => JSON.parse(o) as { kind: string; metadata: { name: string; namespace?: string } })
        .filter((o) => o.kind === kind && o.metadata.namespace === 'istio-system')
        .map((o) => o.metadata.name)
        .sort();
    // What istiod and the remote profile made there, which istioctl uninstall --purge does not remove.
    expect(names('cluster2', 'EndpointSlice')).toEqual(['istiod']);
    expect(names('cluster1', 'ConfigMap')).toEqual(['istio-ca-root-cert', 'istio-leader', 'istio-namespace-controller-election', 'team-settings']);
    expect(names('cluster2', 'ConfigMap')).toEqual(['istio-ca-root-cert']);

    const uninstall = await ok(['uninstall', '--run', id, '--db', db]);
    const removed = await readJournal(db, runIdFrom(uninstall));
    expect(names('cluster2', 'EndpointSlice', removed)).toEqual([]);
    expect(names('cluster1', 'EndpointSlice', removed)).toEqual([]);
    expect(names('cluster1', 'ConfigMap', removed)).toEqual(['istio-leader', 'team-settings']);
    expect(names('cluster2', 'ConfigMap', removed)).toEqual([]);
    expect(uninstall.stderr).toMatch(
      /uninstall-remote@cluster2: removed what istioctl leaves in istio-system of cluster2: endpointslice\/istiod, configmap\/istio-ca-root-cert/,
    );
    // A second uninstall finds nothing left to remove.
    const again = await ok(['uninstall', '--run', id, '--db', db]);
    expect(again.stderr).not.toContain('removed what istioctl leaves');
  });

  it('--force removes them too, and names what it deletes', async () => {
    const db = freshDb();
    const id = await stoppedBeforeInstalling(db);
    await sim(db, id, 'cluster1', ['create', 'namespace', 'istio-system']);
    await sim(db, id, 'cluster1', ['create', '-f', '-'], USER_CA);
    await ok(['resume', id, '--db', db, '-q']);
    const forced = await ok(['uninstall', '--run', id, '--force', '--db', db]);
    expect(forced.stderr).toMatch(
      /warning: uninstall-primary@cluster1: --force: deleting namespace istio-system on cluster1, which existed before mesh-run .* \(secrets: cacerts\)/,
    );
    const journal = await readJournal(db, runIdFrom(forced));
    expect((journal.cluster.cluster1 ?? []).join('\n')).not.toMatch(/istio-system|cacerts/);
    expect(journal.events.map((e) => e.type)).toContain('deleted-preexisting');
  });

  it("keeps a user's sample namespace, removing only verify's workloads and giving back its injection label", async () => {
    const db = freshDb();
    const install = runIdFrom(await ok(['install', ...FAST, '--db', db]));
    await sim(db, install, 'cluster1', ['create', 'namespace', 'sample']);
    await sim(db, install, 'cluster1', ['label', 'namespace', 'sample', 'istio-injection=disabled', 'team=web']);
    const verify = await ok(['verify', '--run', install, '--db', db]);
    expect(verify.stderr).toMatch(/warning: deploy-sample@cluster1: label istio-injection on namespace sample of cluster1: "disabled" -> "enabled"/);
    const uninstall = await readJournal(db, runIdFrom(await ok(['uninstall', '--run', install, '--db', db, '-q'])));
    const c1 = (uninstall.cluster.cluster1 ?? []).join('\n');
    expect(c1).toMatch(/"kind":"Namespace".*"name":"sample".*"istio-injection":"disabled".*"team":"web"/);
    expect(c1).not.toMatch(/helloworld|"name":"curl"/);
    expect((uninstall.cluster.cluster2 ?? []).join('\n')).not.toContain('"name":"sample"');
  });
});

describe('runs, status and history say what happened', () => {
  it.each([
    ['install', 'install-remote', 'install-remote@cluster2'],
    ['install', 'attach-remote', 'attach-remote@cluster2'],
    ['install', 'expose-istiod', 'expose-istiod@cluster1'],
    ['install', 'preflight', 'preflight'],
  ])('runs names the step a failed %s run failed at (%s), not the last one to finish', async (_kind, step, where) => {
    const db = freshDb();
    await runCli(['install', ...FAST, '--inject-failure', step, '--db', db]);
    const [run] = JSON.parse((await ok(['runs', '--json', '--db', db])).stdout) as Array<{ currentStep: string }>;
    expect(run?.currentStep).toBe(where);
    expect((await ok(['runs', '--db', db])).stdout).not.toContain('@*');
  });

  it('history --cluster all finds the steps that span every cluster; --actions refuses attempt filters', async () => {
    const db = freshDb();
    await ok(['install', ...FAST, '--db', db]);
    const rows = JSON.parse((await ok(['history', '--cluster', 'all', '--json', '--db', db])).stdout) as Array<{ step: string; cluster: string }>;
    expect(rows.map((r) => [r.step, r.cluster])).toEqual([['preflight', 'all']]);
    for (const flag of [
      ['--status', 'failed'],
      ['--step', 'preflight'],
      ['--cluster', 'cluster1'],
    ]) {
      const refused = await runCli(['history', '--actions', ...flag, '--db', db]);
      expect(refused.code).toBe(2);
      expect(refused.stderr.trim().split('\n')).toHaveLength(1);
      expect(refused.stderr).toContain(`--actions lists operator actions; ${flag[0]} filter`);
    }
  });

  it('an interrupted step shows as interrupted; a resumed run shows its active time apart from the wall time', async () => {
    const db = freshDb();
    const { child, done } = startCli(['install', '--dry-run', '--sim-lb-delay', '0', '--sim-latency', '300ms', '-q', '--db', db]);
    const deadline = Date.now() + 20_000;
    while (!(peek<{ n: number }>(db, "SELECT COUNT(*) AS n FROM step_attempts WHERE step = 'install-primary' AND outcome = 'running'")?.[0]?.n ?? 0)) {
      if (Date.now() > deadline) throw new Error('install-primary never started');
      await new Promise((r) => setTimeout(r, 25));
    }
    child.kill('SIGINT');
    const id = runIdFrom(await done);
    const status = JSON.parse((await ok(['status', id, '--json', '--db', db])).stdout) as {
      run: { currentStep: string };
      steps: Array<{ step: string; status: string }>;
    };
    expect(status.steps.find((s) => s.step === 'install-primary')?.status).toBe('interrupted');
    expect(status.run.currentStep.split(', ')).toContain('install-primary@cluster1');
    await new Promise((r) => setTimeout(r, 1500));
    await ok(['resume', id, '--db', db, '-q']);
    const [run] = JSON.parse((await ok(['runs', '--json', '--db', db])).stdout) as Array<{ activeMs: number; durationMs: number }>;
    expect(run?.durationMs).toBeGreaterThanOrEqual((run?.activeMs ?? 0) + 1400);
    expect((await ok(['status', id, '--db', db])).stdout).toMatch(/\(active [\d.]+m?s, wall [\d.]+s\)/);
  });

  it('the report marks ↻ only on the steps this run tried more than once', async () => {
    const db = freshDb();
    const failed = await runCli(['install', ...FAST, '--inject-failure', 'install-remote', '--db', db]);
    const id = runIdFrom(failed);
    await ok(['resume', id, '--db', db, '-q']);
    const page = join(tmp.dir, 'retries.html');
    await ok(['report', id, '--html', page, '--db', db]);
    const html = readFileSync(page, 'utf8');
    const marked = [...html.matchAll(/data-step="([a-z-]+)"[^>]*>(?:(?!<\/g>).)*↻/gs)].map((m) => m[1]);
    expect(marked).toEqual(['install-remote']);
  });
});

describe('verify picks a finished install', () => {
  it('refuses a failed install at once, naming it and how to resume it', async () => {
    const db = freshDb();
    const failed = runIdFrom(await runCli(['install', ...FAST, '--inject-failure', 'attach-remote', '--db', db]));
    const started = Date.now();
    for (const args of [
      ['verify', '--dry-run'],
      ['verify', '--run', failed],
    ]) {
      const refused = await runCli([...args, '--db', db]);
      expect(refused.code, args.join(' ')).toBe(3);
      expect(refused.stderr).toContain(`install run ${failed} failed at attach-remote@cluster2: there is no finished mesh to verify`);
      expect(refused.stderr).toContain(`mesh-run resume ${failed}`);
    }
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('verifies the latest install that succeeded when a later one failed', async () => {
    const db = freshDb();
    const good = runIdFrom(await ok(['install', ...FAST, '--db', db]));
    await runCli(['install', ...FAST, '--inject-failure', 'attach-remote', '--db', db]);
    const verify = await ok(['verify', '--dry-run', '--db', db]);
    expect(verify.stdout).toContain(`verify of ${good}`);
  });
});

describe('smaller ones', () => {
  it('a resume with the load balancer switched from hostname to ip goes through', async () => {
    const db = freshDb();
    const failed = await runCli(['install', '--dry-run', '--sim-lb', 'hostname', '--sim-lb-delay', '0', '-q', '--db', db]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('hostname');
    const id = runIdFrom(failed);
    await ok(['resume', id, '--sim-lb', 'ip', '--sim-lb-delay', '200ms', '--db', db, '-q']);
    expect(attemptsOf(await readJournal(db, id), 'await-gateway-address', 'cluster1').map((a) => a.outcome)).toEqual(['failed', 'succeeded']);
  });

  it('plans show how the curl pod is found, not the rehearsal pod names', async () => {
    for (const format of ['text', 'json']) {
      const plan = (await ok(['plan', 'verify', '--format', format])).stdout;
      expect(plan, format).not.toMatch(/curl-[0-9a-f]{10}-[0-9a-f]{5}/);
      expect(plan, format).toContain('<pod of app=curl>');
    }
  });

  it('resume of a run another process drives prints nothing on stdout before refusing', async () => {
    const db = freshDb();
    const { child, done } = startCli(['install', '--dry-run', '--sim-lb-delay', '0', '--sim-latency', '300ms', '-q', '--db', db]);
    const deadline = Date.now() + 20_000;
    let id: string | undefined;
    while (!id) {
      if (Date.now() > deadline) throw new Error('the run never took its lease');
      id = peek<{ id: string }>(db, 'SELECT id FROM runs WHERE lease_pid IS NOT NULL')?.[0]?.id;
      await new Promise((r) => setTimeout(r, 25));
    }
    const refused = await runCli(['resume', id, '--db', db]);
    expect(refused.code).toBe(3);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toMatch(/^mesh-run: error: run mr-[a-z0-9]+ is being driven by pid \d+/);
    child.kill('SIGINT');
    await done;
  });
});

describe('messages', () => {
  it('hints follow from the error seen (istioctl remote-clusters)', async () => {
    const { remoteClustersHint } = await import('../engine/activities/verify.js');
    expect(
      remoteClustersHint(
        'Error: failed to execute command on istiod-6c9d8f7b5-x2kqp: no forward found for port 15014 in pod istiod-6c9d8f7b5-x2kqp',
        'cluster1',
      ),
    ).toMatch(/simulated \(kwok\).*needs a real istiod/);
    expect(remoteClustersHint('Error: unable to find any Istiod instances', 'cluster1')).toMatch(/^no istiod runs on cluster1/);
    expect(remoteClustersHint('error: unable to upgrade connection: pod does not exist', 'cluster1')).toMatch(/could not open the port-forward/);
    expect(remoteClustersHint('dial tcp 127.0.0.1:15014: connect: connection refused', 'cluster1')).toMatch(/did not answer on its debug port/);
    // On the simulator, the injected failure is "no istiod": the hint says so, not "check it is ready".
    const db = freshDb();
    const install = runIdFrom(await ok(['install', ...FAST, '--db', db]));
    const failed = await runCli(['verify', '--run', install, '--inject-failure', 'check-remote-clusters', '--db', db, '-q']);
    expect(failed.stderr).toContain('hint: no istiod runs on cluster1');
  });

  it('one error style; "1 request"; "an install run"; version is a verb; a typo names the nearest verb or option', async () => {
    const db = freshDb();
    const install = runIdFrom(await ok(['install', ...FAST, '--db', db]));
    const graph = await runCli(['graph', '--run', install, '--kind', 'verify', '--db', db]);
    expect(graph.stderr).toBe(`mesh-run: error: --kind verify: run ${install} is an install run; drop --kind\n`);
    const unknownOption = await runCli(['install', '--bogus']);
    expect(unknownOption.code).toBe(2);
    expect(unknownOption.stderr).toBe('mesh-run: error: unknown option \'--bogus\'; "mesh-run install --help" lists the options\n');
    const version = await ok(['version', '--json']);
    expect(JSON.parse(version.stdout)).toMatchObject({ meshRun: expect.stringMatching(/^\d+\.\d+\.\d+/) });
    const typo = await runCli(['verison']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('(did you mean version?)');
    // A suggestion is only printed: nothing runs until the verb is typed right.
    for (const [word, verb] of [
      ['verfy', 'verify'],
      ['instal', 'install'],
      ['uninstal', 'uninstall'],
      ['resum', 'resume'],
    ]) {
      const result = await runCli([word as string]);
      expect(result.code).toBe(2);
      expect(result.stderr, word).toBe(`mesh-run: error: unknown command '${word}' (did you mean ${verb}?); "mesh-run --help" lists the commands\n`);
    }
    const { count, withArticle } = await import('../shared/words.js');
    expect([count(1, 'request'), count(2, 'request'), withArticle('install'), withArticle('verify')]).toEqual([
      '1 request',
      '2 requests',
      'an install',
      'a verify',
    ]);
  });
});
