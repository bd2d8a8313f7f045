// verify --links-only: a verify-links run on the simulated clusters of a dry-run install; it checks the links
// and deploys nothing, and resumes like every run.
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runIdFrom, tempDir } from './support/cli.js';
import { runCli } from './support/cli-here.js';
import { type Journal, readJournal } from './support/journal.js';
import { simCommand } from './support/sim.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const succeeded = (journal: Journal) =>
  journal.attempts.filter((a) => a.outcome === 'succeeded').map((a) => (a.cluster === '*' ? a.step : `${a.step}@${a.cluster}`));

async function installed(name: string): Promise<string> {
  const db = join(tmp.dir, `${name}.db`);
  const install = await runCli(['install', '--dry-run', '-q', '--db', db]);
  expect(install.code, install.stderr).toBe(0);
  return db;
}

describe('verify --links-only', () => {
  it('checks each link (istiod on the primary, the injector on the remote) and deploys no sample', async () => {
    const db = await installed('links');
    const result = await runCli(['verify', '--links-only', '--dry-run', '-q', '--db', db]);
    expect(result.code, result.stderr).toBe(0);
    const journal = await readJournal(db, runIdFrom(result));
    expect(journal.run.kind).toBe('verify-links');
    expect(journal.run.status).toBe('succeeded');
    expect(succeeded(journal).sort()).toEqual(['check-injector-ca@cluster2', 'check-remote-clusters@cluster1', 'preflight']);
    expect(journal.attempts.every((a) => a.outcome === 'succeeded')).toBe(true);
    // Nothing deployed: no sample namespace on either simulated cluster.
    for (const context of ['cluster1', 'cluster2']) {
      const sample = await simCommand(db, journal.run.simWorld as string, context, ['get', 'namespace', 'sample']);
      expect(sample.exitCode, context).not.toBe(0);
      expect((journal.cluster[context] ?? []).filter((o) => o.includes('"namespace":"sample"') || o.includes('"name":"sample"'))).toEqual([]);
    }
  });

  it('a remote whose injector check fails stops the run; resume converges', async () => {
    const db = await installed('resume');
    const failed = await runCli(['verify', '--links-only', '--dry-run', '--inject-failure', 'check-injector-ca', '-q', '--db', db]);
    expect(failed.code, failed.stderr).toBe(1);
    const id = runIdFrom(failed);
    const resumed = await runCli(['resume', id, '-q', '--db', db]);
    expect(resumed.code, resumed.stderr).toBe(0);
    const journal = await readJournal(db, id);
    expect(journal.run.status).toBe('succeeded');
    expect(journal.attempts.filter((a) => a.step === 'check-injector-ca').map((a) => a.outcome)).toEqual(['failed', 'succeeded']);
    expect(succeeded(journal).sort()).toEqual(['check-injector-ca@cluster2', 'check-remote-clusters@cluster1', 'preflight']);
  });
});
