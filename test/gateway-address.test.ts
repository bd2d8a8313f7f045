import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runIdFrom, startCli, tempDir } from './support/cli.js';
import { runCli } from './support/cli-here.js';
import { attemptsOf, peek, readJournal } from './support/journal.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe('await-gateway-address', () => {
  const config = join(tmp.dir, 'short-wait.yaml');
  writeFileSync(config, 'timeouts: {gatewayAddress: 2s}\n');

  it('fails on a hostname-only address with the EKS explanation, and resumes once an IP is given', async () => {
    const db = join(tmp.dir, 'hostname.db');
    const failed = await runCli(['install', '--dry-run', '--config', config, '--sim-lb', 'hostname', '--sim-lb-delay', '0', '--db', db]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('failed at await-gateway-address@cluster1');
    expect(failed.stderr).toMatch(/got the hostname a[0-9a-f]+-1234567890\.us-east-1\.elb\.amazonaws\.com and no IP/);
    expect(failed.stderr).toContain('ExternalName');
    expect(failed.stderr).toContain('EKS');
    const id = runIdFrom(failed);
    // install-remote never started: its guard needs the gateway IP.
    expect(attemptsOf(await readJournal(db, id), 'install-remote', 'cluster2')).toHaveLength(0);

    const resumed = await runCli(['resume', id, '--sim-lb', 'ip', '--db', db, '-q']);
    expect(resumed.code, resumed.stderr).toBe(0);
    const journal = await readJournal(db, id);
    expect(attemptsOf(journal, 'await-gateway-address', 'cluster1').map((a) => a.outcome)).toEqual(['failed', 'succeeded']);
    expect(journal.cluster.cluster2?.join('\n')).toMatch(/"addresses":\["172\.18\.1\.\d+"\]/);
  });

  it('fails after the deadline when no load balancer answers, with a hint to install one', async () => {
    const db = join(tmp.dir, 'none.db');
    const started = Date.now();
    const failed = await runCli(['install', '--dry-run', '--config', config, '--sim-lb', 'none', '--db', db]);
    expect(failed.code).toBe(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
    expect(failed.stderr).toContain('got no load-balancer IP within 2s');
    expect(failed.stderr).toContain('MetalLB');
    const id = runIdFrom(failed);
    const journal = await readJournal(db, id);
    const probes = journal.commands.filter((c) => c.argv.includes('istio-eastwestgateway') && c.argv.includes('get'));
    expect(probes.length).toBeGreaterThanOrEqual(2);

    const resumed = await runCli(['resume', id, '--sim-lb', 'ip', '--sim-lb-delay', '500ms', '--db', db, '-q']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect((await readJournal(db, id)).run.status).toBe('succeeded');
  });
});

// Another process resumes the run with its own wall clock (another machine, a clock set back or forward):
// the simulated load balancer must not wait for that clock to reach the one that made the Service.
describe('the simulated load balancer under a clock that moved between processes', () => {
  const shifted = (ms: number) => ({
    NODE_OPTIONS: `--import ${new URL('./support/shifted-clock.mjs', import.meta.url).pathname}`,
    MESH_RUN_TEST_CLOCK_SHIFT_MS: String(ms),
  });
  const HOUR = 3_600_000;

  it.each([
    ['set back an hour', -HOUR],
    ['set forward an hour', HOUR],
  ])(
    'a run resumed with the clock %s gets its address after the delay (resume --sim-lb ip)',
    async (_, shift) => {
      const db = join(tmp.dir, `shift-${shift}.db`);
      const short = join(tmp.dir, `shift-${shift}-2s.yaml`);
      writeFileSync(short, 'timeouts: {gatewayAddress: 2s}\n');
      const failed = await runCli(['install', '--dry-run', '--config', short, '--sim-lb', 'none', '--db', db, '-q']);
      expect(failed.code).toBe(1);
      const id = runIdFrom(failed);
      // The resume may wait 20 s for the address; the provider answers after 1 s of it.
      writeFileSync(short, 'timeouts: {gatewayAddress: 20s}\n');
      const resumed = await runCli(['resume', id, '--force', '--sim-lb', 'ip', '--sim-lb-delay', '1s', '--db', db, '-q'], { env: shifted(shift) });
      expect(resumed.code, resumed.stderr).toBe(0);
      // Sorted: the journal orders attempts by their wall-clock start, and the resume's clock is off.
      expect(
        attemptsOf(await readJournal(db, id), 'await-gateway-address', 'cluster1')
          .map((a) => a.outcome)
          .sort(),
      ).toEqual(['failed', 'succeeded']);
    },
    60_000,
  );

  it('a run killed while it waits and resumed with the clock set back an hour gets its address after the delay', async () => {
    const db = join(tmp.dir, 'killed-shift.db');
    const patient = join(tmp.dir, 'patient.yaml');
    writeFileSync(patient, 'timeouts: {gatewayAddress: 5m}\n');
    const first = startCli(['install', '--dry-run', '--config', patient, '--sim-lb-delay', '3s', '--db', db, '-q']);
    const waiting = () => peek<{ n: number }>(db, "select count(*) as n from step_attempts where step = 'await-gateway-address'")?.[0]?.n ?? 0;
    const deadline = Date.now() + 30_000;
    while (waiting() === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    first.child.kill('SIGKILL');
    expect(waiting()).toBe(1);
    const id = runIdFrom(await first.done);
    // The gateway Service was made by the killed process, by its clock; the resume's reads an hour earlier.
    // Waiting for the shifted clock to catch up would take an hour: a resume still waiting after 25 s is stopped.
    const resume = startCli(['resume', id, '--db', db, '-q'], { env: shifted(-HOUR) });
    const stop = setTimeout(() => resume.child.kill('SIGKILL'), 25_000);
    const resumed = await resume.done.finally(() => clearTimeout(stop));
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(
      attemptsOf(await readJournal(db, id), 'await-gateway-address', 'cluster1')
        .map((a) => a.outcome)
        .sort(),
    ).toEqual(['interrupted', 'succeeded']);
  }, 40_000);
});
