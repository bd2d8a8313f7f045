import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stepSlots } from '../machines/steps.js';
import { runIdFrom, tempDir } from './support/cli.js';
import { runCli } from './support/cli-here.js';
import { attemptsOf, readJournal } from './support/journal.js';
import { primaryRemote } from './support/shapes.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
let dbCount = 0;
const freshDb = () => join(tmp.dir, `run-${dbCount++}.db`);
const FAST = ['--dry-run', '--sim-lb-delay', '0', '-q'];

describe('mesh-run install --dry-run', () => {
  it('refuses to inject a failure into a step this mesh does not run, saying when it runs', async () => {
    const db = freshDb();
    const result = await runCli(['install', ...FAST, '--inject-failure', 'exchange-secret', '--db', db]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('mesh-run: error: --inject-failure "exchange-secret": exchange-secret runs only when the mesh needs it (several primaries)\n');
  });

  it('installs primary-remote with every step succeeding after exactly one attempt', async () => {
    const db = freshDb();
    const result = await runCli(['install', ...FAST, '--db', db]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const id = runIdFrom(result);
    expect(result.stdout.split('\n')[0]).toBe(`run ${id}`);
    const journal = await readJournal(db, id);
    expect(journal.run.status).toBe('succeeded');
    for (const slot of stepSlots('install', primaryRemote())) {
      const attempts = attemptsOf(journal, slot.step, slot.cluster);
      expect(
        attempts.map((a) => a.outcome),
        `${slot.step}@${slot.cluster}`,
      ).toEqual(['succeeded']);
    }
    // What the Istio page leaves behind, in the simulated clusters.
    const c1 = journal.cluster.cluster1?.join('\n') ?? '';
    const c2 = journal.cluster.cluster2?.join('\n') ?? '';
    expect(c1).toContain('"name":"istiod"');
    expect(c1).toContain('"name":"istio-eastwestgateway"');
    expect(c1).toContain('"name":"istiod-gateway"');
    expect(c1).toContain('"name":"istiod-vs"');
    expect(c1).toContain('"name":"istio-remote-secret-cluster2"');
    expect(c1).toContain('"istio/multiCluster":"true"');
    expect(c1).toContain('{"name":"EXTERNAL_ISTIOD","value":"true"}');
    expect(c2).toContain('"topology.istio.io/controlPlaneClusters":"cluster1"');
    expect(c2).toContain('"path":"/inject/cluster/cluster2/net/network1"');
    expect(c2).toMatch(/"kind":"EndpointSlice".*"addresses":\["172\.18\.1\.\d+"\]/);
  });

  it('prints one JSON document on stdout with --json and NDJSON progress on stderr', async () => {
    const db = freshDb();
    const result = await runCli(['install', '--dry-run', '--sim-lb-delay', '0', '--json', '--db', db]);
    expect(result.code).toBe(0);
    const doc = JSON.parse(result.stdout) as { ok: boolean; run: { id: string; status: string }; steps: Array<{ status: string }> };
    expect(doc.ok).toBe(true);
    expect(doc.run.status).toBe('succeeded');
    expect(doc.steps.every((s) => s.status === 'succeeded')).toBe(true);
    const events = result.stderr
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; status?: string; runId: string });
    expect(events[0]).toMatchObject({ type: 'run', status: 'started', runId: doc.run.id });
    expect(events.at(-1)).toMatchObject({ type: 'run', status: 'succeeded' });
  });

  // The steps the Istio page's own mesh goes through (the other topologies' steps: test/topologies.test.ts).
  it.each([...new Set(stepSlots('install', primaryRemote()).map((s) => s.step))])(
    'fails at %s when told to, and resume finishes without redoing earlier steps',
    async (step) => {
      const db = freshDb();
      const failed = await runCli(['install', ...FAST, '--inject-failure', step, '--db', db]);
      expect(failed.code, failed.stderr).toBe(1);
      const id = runIdFrom(failed);
      expect(failed.stderr).toContain(`failed at ${step}`);
      expect(failed.stderr).toContain(`mesh-run resume ${id}`);

      const status = await runCli(['status', id, '--db', db, '--json']);
      const doc = JSON.parse(status.stdout) as { run: { status: string }; steps: Array<{ step: string; status: string; attempts: number }> };
      expect(doc.run.status).toBe('failed');
      expect(doc.steps.find((s) => s.step === step)?.status).toBe('failed');

      const resumed = await runCli(['resume', id, '--db', db, '-q']);
      expect(resumed.code, resumed.stderr).toBe(0);

      const journal = await readJournal(db, id);
      expect(journal.run.status).toBe('succeeded');
      for (const slot of stepSlots('install', primaryRemote())) {
        const outcomes = attemptsOf(journal, slot.step, slot.cluster).map((a) => a.outcome);
        expect(outcomes, `${slot.step}@${slot.cluster}`).toEqual(slot.step === step ? ['failed', 'succeeded'] : ['succeeded']);
      }
      expect(journal.events.map((e) => e.type)).toEqual(['started', 'failed', 'resumed', 'succeeded']);
    },
  );

  it('retries a transient failure within the run and keeps the failed attempt', async () => {
    const db = freshDb();
    const config = join(tmp.dir, 'fast-retry.yaml');
    writeFileSync(config, 'retry: {attempts: 3, initialDelay: 10ms, maxDelay: 20ms}\n');
    const result = await runCli(['install', ...FAST, '--config', config, '--inject-failure', 'create-remote-namespace@cluster2:2:transient', '--db', db]);
    expect(result.code, result.stderr).toBe(0);
    const journal = await readJournal(db, runIdFrom(result));
    const attempts = attemptsOf(journal, 'create-remote-namespace', 'cluster2');
    expect(attempts.map((a) => a.outcome)).toEqual(['failed', 'failed', 'succeeded']);
    expect(attempts[0]?.error?.message).toContain('i/o timeout');
  });

  it('refuses to resume a run that already succeeded', async () => {
    const db = freshDb();
    const id = runIdFrom(await runCli(['install', ...FAST, '--db', db]));
    const again = await runCli(['resume', id, '--db', db]);
    expect(again.code).toBe(4);
    expect(again.stderr).toContain('already succeeded');
    expect(again.stderr.split('\n').filter(Boolean)).toHaveLength(2);
  });

  it('refuses to resume after the config file changed, unless --force', async () => {
    const db = freshDb();
    const config = join(tmp.dir, 'changing.yaml');
    writeFileSync(config, 'meshID: mesh1\n');
    const failed = await runCli(['install', ...FAST, '--config', config, '--inject-failure', 'expose-istiod', '--db', db]);
    expect(failed.code).toBe(1);
    const id = runIdFrom(failed);
    writeFileSync(config, 'meshID: mesh1\ntimeouts: {command: 5m}\n');
    const refused = await runCli(['resume', id, '--db', db]);
    expect(refused.code).toBe(4);
    expect(refused.stderr).toContain('changed since run');
    const forced = await runCli(['resume', id, '--db', db, '--force', '-q']);
    expect(forced.code, forced.stderr).toBe(0);
    const journal = await readJournal(db, id);
    expect(journal.events.map((e) => e.type)).toEqual(['started', 'failed', 'forced', 'resumed', 'succeeded']);

    writeFileSync(config, 'meshID: mesh2\n');
    const failed2 = await runCli(['install', ...FAST, '--config', config, '--inject-failure', 'expose-istiod', '--db', db]);
    writeFileSync(config, 'meshID: mesh3\n');
    const identity = await runCli(['resume', runIdFrom(failed2), '--db', db, '--force']);
    expect(identity.code).toBe(2);
    expect(identity.stderr).toContain('start a new run');
  });

  it('resume --force with the config file deleted says, in a warning line, that it uses the recorded config', async () => {
    const db = freshDb();
    const config = join(tmp.dir, 'deleted.yaml');
    writeFileSync(config, 'meshID: mesh1\n');
    const failed = await runCli(['install', ...FAST, '--config', config, '--inject-failure', 'expose-istiod', '--db', db]);
    const id = runIdFrom(failed);
    rmSync(config);
    const refused = await runCli(['resume', id, '--db', db]);
    expect(refused.code).toBe(4);
    expect(refused.stderr).toContain(`config file ${config} is gone`);
    const forced = await runCli(['resume', id, '--db', db, '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stderr.split('\n')[0]).toBe(
      `warning: config file ${config} is gone; --force continues with the configuration run ${id} recorded when it started`,
    );
  });

  it('finds runs by a unique id prefix and says clearly when a run does not exist', async () => {
    const db = freshDb();
    const id = runIdFrom(await runCli(['install', ...FAST, '--db', db]));
    const byPrefix = await runCli(['status', id.slice(0, 6), '--db', db]);
    expect(byPrefix.code).toBe(0);
    expect(byPrefix.stdout).toContain(id);
    const missing = await runCli(['status', 'mr-nothere', '--db', db]);
    expect(missing.code).toBe(4);
    expect(missing.stderr).toContain('no run "mr-nothere"');
    const noDb = await runCli(['runs', '--db', join(tmp.dir, 'absent.db')]);
    expect(noDb.code).toBe(3);
    expect(existsSync(join(tmp.dir, 'absent.db'))).toBe(false);
  });

  it('lists runs newest first', async () => {
    const db = freshDb();
    const first = runIdFrom(await runCli(['install', ...FAST, '--db', db]));
    const second = runIdFrom(await runCli(['install', ...FAST, '--inject-failure', 'preflight', '--db', db]));
    const runs = JSON.parse((await runCli(['runs', '--db', db, '--json'])).stdout) as Array<{ id: string; status: string }>;
    expect(runs.map((r) => [r.id, r.status])).toEqual([
      [second, 'failed'],
      [first, 'succeeded'],
    ]);
    const table = await runCli(['runs', '--db', db]);
    expect(table.stdout.split('\n')[0]).toMatch(/^RUN\s+KIND\s+STATUS\s+MODE/);
  });
});
