import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stepSlots } from '../machines/steps.js';
import { runIdFrom, startCli, tempDir } from './support/cli.js';
import { runCli } from './support/cli-here.js';
import { attemptsOf, peek, readJournal } from './support/journal.js';
import { primaryRemote } from './support/shapes.js';
import { setSimLatency } from './support/sim.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

// Polls the journal until `predicate` holds (the child writes it; we only read).
async function waitForJournal(
  db: string,
  predicate: (rows: Array<{ step: string; outcome: string; commands: number }>) => boolean,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const rows = peek<{ step: string; outcome: string; commands: number }>(
      db,
      `SELECT a.step, a.outcome, (SELECT COUNT(*) FROM commands c WHERE c.attempt_id = a.id) AS commands FROM step_attempts a ORDER BY a.id`,
    );
    if (rows && predicate(rows)) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('journal never reached the expected state');
}

describe('a dry run killed with SIGKILL in the middle of a step', () => {
  it.each(['install-primary', 'annotate-remote-namespace', 'attach-remote'])(
    'resumes to the state an uninterrupted run produces (killed in %s)',
    async (victim) => {
      const reference = join(tmp.dir, `reference-${victim}.db`);
      const ok = await runCli(['install', '--dry-run', '--sim-lb-delay', '0', '-q', '--db', reference]);
      expect(ok.code).toBe(0);
      const expected = (await readJournal(reference, runIdFrom(ok))).cluster;

      const db = join(tmp.dir, `killed-${victim}.db`);
      const { child, done } = startCli(['install', '--dry-run', '--sim-lb-delay', '0', '--sim-latency', '500ms', '-q', '--db', db]);
      // Kill once the victim step has started its first command.
      await waitForJournal(db, (rows) => rows.some((r) => r.step === victim && r.outcome === 'running' && r.commands > 0));
      child.kill('SIGKILL');
      const killed = await done;
      expect(killed.signal).toBe('SIGKILL');
      const id = runIdFrom(killed);

      const before = await readJournal(db, id);
      expect(before.run.status).toBe('running');
      const finishedBefore = before.attempts.filter((a) => a.outcome === 'succeeded').map((a) => `${a.step}@${a.cluster}`);

      const status = await runCli(['status', id, '--db', db]);
      expect(status.stdout).toContain('running (stale)');
      // The kill needed slow commands; the resume does not.
      await setSimLatency(db, before.run.simWorld, 0);

      const resumed = await runCli(['resume', id, '--db', db, '-q']);
      expect(resumed.code, resumed.stderr).toBe(0);

      const after = await readJournal(db, id);
      expect(after.run.status).toBe('succeeded');
      expect(after.cluster).toEqual(expected);
      // Nothing that had finished ran again; the killed attempt is closed as interrupted, then retried.
      for (const slot of stepSlots('install', primaryRemote())) {
        const outcomes = attemptsOf(after, slot.step, slot.cluster).map((a) => a.outcome);
        if (finishedBefore.includes(`${slot.step}@${slot.cluster}`)) expect(outcomes, slot.step).toEqual(['succeeded']);
        else expect(outcomes.at(-1), slot.step).toBe('succeeded');
      }
      expect(attemptsOf(after, victim, victim === 'install-primary' ? 'cluster1' : 'cluster2').map((a) => a.outcome)).toEqual(['interrupted', 'succeeded']);
      // No attempt is left open, and no command lacks an end.
      expect(after.attempts.every((a) => a.endedAt !== null)).toBe(true);
      expect(after.commands.every((c) => c.endedAt !== null)).toBe(true);
      // The dead process's lease was taken over, and the audit trail says so.
      expect(after.events.map((e) => e.type)).toEqual(['started', 'lease-taken-over', 'resumed', 'succeeded']);
    },
  );
});
