import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runIdFrom, startCli, tempDir } from './support/cli.js';
import { writeFakeTools } from './support/fake-tools.js';
import { attemptsOf, peek, readJournal } from './support/journal.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

function processesNamed(marker: string): string[] {
  try {
    return execFileSync('pgrep', ['-af', marker], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.includes(marker) && !l.includes('pgrep'));
  } catch {
    return [];
  }
}

async function until(predicate: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 25));
  }
}

// The steps running now (clusters run side by side, so there may be several).
function openAttemptSteps(db: string): string[] {
  return (peek<{ step: string }>(db, `SELECT step FROM step_attempts WHERE outcome = 'running'`) ?? []).map((r) => r.step);
}

describe('signals', () => {
  it('SIGINT during a real istioctl child: the child is stopped, the run is interrupted, exit 130', async () => {
    const marker = `mesh-run-fake-istioctl-${randomUUID().slice(0, 8)}`;
    const tools = writeFakeTools(tmp.dir, marker);
    const config = join(tmp.dir, 'fake.yaml');
    writeFileSync(config, `tools: {kubectl: ${tools.kubectl}, istioctl: ${tools.istioctl}}\n`);
    const db = join(tmp.dir, 'sigint.db');
    const { child, done } = startCli(['install', '--config', config, '--db', db]);
    await until(() => processesNamed(marker).length > 0);
    child.kill('SIGINT');
    const result = await done;
    expect(result.code).toBe(130);
    expect(processesNamed(marker)).toEqual([]);
    const id = runIdFrom(result);
    const journal = await readJournal(db, id);
    expect(journal.run.status).toBe('interrupted');
    // The remote's namespace steps run beside the primary's install and may be in flight too.
    expect(journal.run.error?.message).toMatch(/^interrupted by SIGINT during (\S+, )*install-primary@cluster1(, \S+)*$/);
    expect(attemptsOf(journal, 'install-primary', 'cluster1').map((a) => a.outcome)).toEqual(['interrupted']);
    expect(journal.events.map((e) => e.type)).toEqual(['started', 'interrupted']);
    expect(result.stderr).toContain(`continue with: mesh-run resume ${id}`);
  });

  it('a second SIGINT leaves at once: a tool that ignores SIGTERM is killed, exit 130, the run resumable', async () => {
    const marker = `mesh-run-stuck-istioctl-${randomUUID().slice(0, 8)}`;
    const dir = join(tmp.dir, 'stuck');
    mkdirSync(dir);
    const tools = writeFakeTools(dir, marker, undefined, { ignoreTerm: true });
    const config = join(dir, 'fake.yaml');
    writeFileSync(config, `tools: {kubectl: ${tools.kubectl}, istioctl: ${tools.istioctl}}\n`);
    const db = join(dir, 'twice.db');
    const { child, done } = startCli(['install', '--config', config, '--db', db]);
    await until(() => processesNamed(marker).length > 0);
    child.kill('SIGINT');
    // The first signal saved the run; the stuck tool would hold the exit for 5 s until SIGKILL.
    await until(() => peek<{ status: string }>(db, 'SELECT status FROM runs')?.[0]?.status === 'interrupted');
    const second = Date.now();
    child.kill('SIGINT');
    const result = await done;
    expect(Date.now() - second).toBeLessThan(4000);
    expect(result.code).toBe(130);
    expect(processesNamed(marker)).toEqual([]);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect((await readJournal(db, runIdFrom(result))).run.status).toBe('interrupted');
  });

  it('SIGTERM during a dry run: exit 143, and resume finishes the run', async () => {
    const db = join(tmp.dir, 'sigterm.db');
    const { child, done } = startCli(['install', '--dry-run', '--sim-lb-delay', '0', '--sim-latency', '400ms', '-q', '--db', db]);
    await until(() => openAttemptSteps(db).includes('install-primary'));
    child.kill('SIGTERM');
    const result = await done;
    expect(result.code).toBe(143);
    const id = runIdFrom(result);
    expect((await readJournal(db, id)).run.status).toBe('interrupted');
    const { done: resumed } = startCli(['resume', id, '--db', db, '-q']);
    expect((await resumed).code).toBe(0);
    const journal = await readJournal(db, id);
    expect(attemptsOf(journal, 'install-primary', 'cluster1').map((a) => a.outcome)).toEqual(['interrupted', 'succeeded']);
  });
});
