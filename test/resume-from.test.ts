// resume --from <step>[@cluster]: the chosen step and every step the journal recorded after it run again,
// in a succeeded run as in a failed one; the steps before it replay their recorded results.

import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { AttemptRecord } from '../store/contract.js';
import { runIdFrom, tempDir } from './support/cli.js';
import { runCli } from './support/cli-here.js';
import { copyExamples } from './support/examples.js';
import { readJournal } from './support/journal.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const slot = (a: { step: string; cluster: string }) => `${a.step}@${a.cluster}`;

// The objects of each simulated cluster by kind and name (a re-run lets the simulated istiod finish work it
// does on its own, such as the remote injector's caBundle, so bodies may move on; the set of objects not).
function objectsOf(cluster: Record<string, string[]>): Record<string, string[]> {
  return Object.fromEntries(
    Object.entries(cluster).map(([context, objects]) => [
      context,
      objects.map((o) => {
        const { kind, metadata } = JSON.parse(o) as { kind: string; metadata: { name: string; namespace?: string } };
        return `${kind} ${metadata.namespace ?? ''}/${metadata.name}`;
      }),
    ]),
  );
}

// The slots a --from should run again, read from the journal independently of mesh-run's own rule: the
// chosen ones and those whose (only) attempt started at or after the earliest chosen one.
function suffixOf(attempts: readonly AttemptRecord[], chosen: (a: AttemptRecord) => boolean): string[] {
  const from = Math.min(...attempts.filter(chosen).map((a) => a.startedAt));
  return attempts
    .filter((a) => chosen(a) || a.startedAt >= from)
    .map(slot)
    .sort();
}

async function installed(name: string, extra: string[] = []): Promise<{ db: string; id: string }> {
  const db = join(tmp.dir, `${name}.db`);
  const result = await runCli(['install', '--dry-run', '--sim-lb-delay', '0', '-q', '--db', db, ...extra]);
  expect(result.code, result.stderr).toBe(0);
  return { db, id: runIdFrom(result) };
}

describe('resume --from', () => {
  it('on a succeeded run re-runs exactly the chosen step and what followed it, with attempts counted and the reason journaled', async () => {
    const { db, id } = await installed('one');
    const before = await readJournal(db, id);
    const expected = suffixOf(before.attempts, (a) => slot(a) === 'install-remote@cluster2');
    expect(expected).toContain('attach-remote@cluster2');
    expect(expected).not.toContain('install-primary@cluster1');

    const rerun = await runCli(['resume', id, '--from', 'install-remote@cluster2', '--reason', 'webhook edited by hand', '--db', db]);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stderr).toContain('install-remote@cluster2 started (attempt 2)');
    expect(rerun.stderr).not.toContain('install-primary@cluster1 started');

    const after = await readJournal(db, id);
    expect(after.run.status).toBe('succeeded');
    expect(
      after.attempts
        .filter((a) => a.attempt === 2)
        .map(slot)
        .sort(),
    ).toEqual(expected);
    expect(after.attempts.every((a) => a.attempt <= 2 && a.outcome === 'succeeded')).toBe(true);
    // Nothing ran for the replayed steps: their commands are the ones of the first run.
    const firstRunAttempts = new Set(before.attempts.map((a) => a.id));
    const replayedIds = after.attempts.filter((a) => a.attempt === 1 && !expected.includes(slot(a))).map((a) => a.id);
    for (const attemptId of replayedIds) {
      expect(firstRunAttempts.has(attemptId)).toBe(true);
      expect(after.commands.filter((c) => c.attemptId === attemptId).length).toBe(before.commands.filter((c) => c.attemptId === attemptId).length);
    }
    expect(objectsOf(after.cluster)).toEqual(objectsOf(before.cluster));
    const event = after.events.find((e) => e.type === 'rerun-from');
    expect(event?.detail).toContain('--from install-remote@cluster2 (webhook edited by hand)');
    const actions = await runCli(['history', '--actions', '--run', id, '--db', db]);
    expect(actions.stdout).toMatch(/rerun-from\s+\S+\s+\S+\s+\d+.*webhook edited by hand/);
  });

  it('a step without @cluster runs again on every cluster it runs on (mixed fleet)', async () => {
    const dir = join(tmp.dir, 'fleet');
    copyExamples(dir);
    const { db, id } = await installed('fleet', ['-c', join(dir, 'mixed-fleet.yaml')]);
    const before = await readJournal(db, id);
    const expected = suffixOf(before.attempts, (a) => a.step === 'install-remote');
    expect(expected.filter((s) => s.startsWith('install-remote@')).length).toBe(3);

    const rerun = await runCli(['resume', id, '--from', 'install-remote', '-q', '--db', db]);
    expect(rerun.code, rerun.stderr).toBe(0);
    const after = await readJournal(db, id);
    expect(
      after.attempts
        .filter((a) => a.attempt === 2)
        .map(slot)
        .sort(),
    ).toEqual(expected);
    expect(objectsOf(after.cluster)).toEqual(objectsOf(before.cluster));
  });

  it('on a failed run runs the chosen step again as well as the one that failed', async () => {
    const db = join(tmp.dir, 'failed.db');
    const failed = await runCli(['install', '--dry-run', '--sim-lb-delay', '0', '-q', '--db', db, '--inject-failure', 'attach-remote@cluster2']);
    expect(failed.code).toBe(1);
    const id = runIdFrom(failed);
    const resumed = await runCli(['resume', id, '--from', 'install-remote@cluster2', '-q', '--db', db]);
    expect(resumed.code, resumed.stderr).toBe(0);
    const after = await readJournal(db, id);
    const attempts = (s: string) => after.attempts.filter((a) => slot(a) === s).map((a) => a.outcome);
    expect(attempts('install-remote@cluster2')).toEqual(['succeeded', 'succeeded']);
    expect(attempts('attach-remote@cluster2')).toEqual(['failed', 'succeeded']);
    expect(attempts('install-primary@cluster1')).toEqual(['succeeded']);
  });

  it.each([
    [['--from', 'nope'], /no step "nope"; its steps: preflight, /],
    [['--from', 'install-remote@cluster9'], /install-remote runs on cluster2; name one of them or drop @cluster9/],
    [['--from', 'install-remote@a@b'], /expected <step> or <step>@<cluster>/],
    [['--reason', 'why'], /--reason goes with --from/],
  ])('refuses %j with exit 2, one line, and changes nothing', async (args, message) => {
    const { db, id } = await installed(`bad-${Math.random().toString(36).slice(2, 8)}`);
    const before = await readJournal(db, id);
    const result = await runCli(['resume', id, ...args, '--db', db]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(
      result.stderr
        .trim()
        .split('\n')
        .filter((l) => l.includes('error:')),
    ).toHaveLength(1);
    const after = await readJournal(db, id);
    expect(after.events).toEqual(before.events);
    expect(after.attempts).toEqual(before.attempts);
  });
});
