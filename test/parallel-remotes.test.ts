import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runIdFrom, tempDir } from './support/cli.js';
import { runCli } from './support/cli-here.js';
import { attemptsOf, readJournal } from './support/journal.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

function overlaps(a: { startedAt: number; endedAt: number | null }, b: { startedAt: number; endedAt: number | null }): boolean {
  return a.startedAt < (b.endedAt ?? Infinity) && b.startedAt < (a.endedAt ?? Infinity);
}

describe('several remotes', () => {
  const config = join(tmp.dir, 'three.yaml');
  writeFileSync(config, 'remotes:\n  - {name: cluster2, context: cluster2}\n  - {name: cluster3, context: cluster3}\n');

  it('attaches both remotes, their remote steps overlapping in time', async () => {
    const db = join(tmp.dir, 'parallel.db');
    const result = await runCli(['install', '--dry-run', '--config', config, '--sim-lb-delay', '0', '--sim-latency', '60ms', '-q', '--db', db]);
    expect(result.code, result.stderr).toBe(0);
    const journal = await readJournal(db, runIdFrom(result));
    for (const step of ['create-remote-namespace', 'annotate-remote-namespace', 'install-remote', 'attach-remote']) {
      const [a2] = attemptsOf(journal, step, 'cluster2');
      const [a3] = attemptsOf(journal, step, 'cluster3');
      expect(a2?.outcome).toBe('succeeded');
      expect(a3?.outcome).toBe('succeeded');
      expect(overlaps(a2 as never, a3 as never), `${step} on cluster2 and cluster3 overlap`).toBe(true);
    }
    // The remotes prepared their namespaces while the primary was still installing.
    const [primary] = attemptsOf(journal, 'install-primary', 'cluster1');
    const [ns2] = attemptsOf(journal, 'create-remote-namespace', 'cluster2');
    expect(overlaps(primary as never, ns2 as never)).toBe(true);
    // install-remote waited for the gateway address.
    const [address] = attemptsOf(journal, 'await-gateway-address', 'cluster1');
    for (const cluster of ['cluster2', 'cluster3']) {
      expect(attemptsOf(journal, 'install-remote', cluster)[0]?.startedAt).toBeGreaterThanOrEqual(address?.endedAt ?? Infinity);
    }
    expect(journal.cluster.cluster1?.join('\n')).toContain('"name":"istio-remote-secret-cluster2"');
    expect(journal.cluster.cluster1?.join('\n')).toContain('"name":"istio-remote-secret-cluster3"');
    expect(journal.cluster.cluster3?.join('\n')).toContain('"path":"/inject/cluster/cluster3/net/network1"');
  });

  it('resumes only the remote that failed; the other stays attached', async () => {
    const db = join(tmp.dir, 'one-fails.db');
    const failed = await runCli([
      'install',
      '--dry-run',
      '--config',
      config,
      '--sim-lb-delay',
      '0',
      '--inject-failure',
      'install-remote@cluster3',
      '-q',
      '--db',
      db,
    ]);
    expect(failed.code).toBe(1);
    const id = runIdFrom(failed);
    const mid = await readJournal(db, id);
    expect(attemptsOf(mid, 'attach-remote', 'cluster2').map((a) => a.outcome)).toEqual(['succeeded']);
    expect(attemptsOf(mid, 'install-remote', 'cluster3').map((a) => a.outcome)).toEqual(['failed']);
    const resumed = await runCli(['resume', id, '--db', db, '-q']);
    expect(resumed.code, resumed.stderr).toBe(0);
    const after = await readJournal(db, id);
    expect(attemptsOf(after, 'attach-remote', 'cluster2').map((a) => a.outcome)).toEqual(['succeeded']);
    expect(attemptsOf(after, 'install-remote', 'cluster2').map((a) => a.outcome)).toEqual(['succeeded']);
    expect(attemptsOf(after, 'install-remote', 'cluster3').map((a) => a.outcome)).toEqual(['failed', 'succeeded']);
    expect(attemptsOf(after, 'attach-remote', 'cluster3').map((a) => a.outcome)).toEqual(['succeeded']);
  });
});
