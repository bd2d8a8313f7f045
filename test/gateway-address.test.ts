import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, runIdFrom, tempDir } from './support/cli.js';
import { attemptsOf, readJournal } from './support/journal.js';

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
