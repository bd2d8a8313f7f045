// mesh-run cancel: a second process asks the live driver of a run to stop it, through the store.
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, startCli, tempDir } from './support/cli.js';
import { readJournal } from './support/journal.js';
import { newStore } from './support/stores.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

// Waits until the run the child drives has its first step in flight; its id.
async function runningRun(args: string[], stdout: () => string): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const id = /^run (mr-[a-z0-9]+)/m.exec(stdout())?.[1];
    if (id) {
      const status = await runCli(['status', id, '--json', ...args]);
      if (status.code === 0 && (JSON.parse(status.stdout) as { run: { status: string } }).run.status === 'running') return id;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the run never started');
}

describe.each(['sqlite', 'postgres'] as const)('mesh-run cancel (%s store)', (backend) => {
  it('stops a live dry run driven by another process: interrupted, journaled with who asked, resumable', async (ctx) => {
    let store: { where: string; args: string[] };
    try {
      store = newStore(backend, tmp.dir, 'cancel');
    } catch {
      ctx.skip();
      return;
    }
    // A slow load balancer keeps the run waiting for the gateway address long enough to cancel it.
    const driver = startCli(['install', '--dry-run', '--sim-lb-delay', '10m', ...store.args]);
    let out = '';
    driver.child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    const id = await runningRun(store.args, () => out);

    const asked = Date.now();
    const cancel = await runCli(['cancel', id, '--wait', '20s', ...store.args]);
    const answered = Date.now() - asked;
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(cancel.stdout).toContain(`run ${id} cancelled: its driver (pid ${driver.child.pid} on`);
    const driven = await driver.done;
    console.log(`cancel answered in ${answered} ms (${backend})`);
    expect(driven.code).toBe(130);
    expect(driven.stderr).toMatch(/run mr-\S+ interrupted at \S+: cancelled by \S+@\S+ during /);

    const journal = await readJournal(store.where, id);
    expect(journal.run.status).toBe('interrupted');
    const types = journal.events.map((e) => e.type);
    expect(types.slice(-2)).toEqual(['cancel-requested', 'interrupted']);
    expect(journal.events.at(-1)?.detail).toMatch(/^cancelled by \S+@\S+ during /);
    expect(journal.attempts.filter((a) => a.outcome === 'running')).toEqual([]);

    // Cancelled is not lost: resume finishes the run.
    const resumed = await runCli(['resume', id, '--sim-lb-delay', '0', '-q', ...store.args]);
    expect(resumed.code, resumed.stderr).toBe(0);
  }, 60_000);
});

describe('mesh-run cancel refuses', () => {
  it('a run that is not running, and one whose driver is gone, with exit 3 and nothing journaled', async () => {
    const db = join(tmp.dir, 'done.db');
    const installed = await runCli(['install', '--dry-run', '--sim-lb-delay', '0', '-q', '--db', db]);
    const id = /^run (mr-[a-z0-9]+)/m.exec(installed.stdout)?.[1] as string;
    const before = (await readJournal(db, id)).events.length;
    const result = await runCli(['cancel', id, '--db', db]);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(`run ${id} is succeeded, not running: there is nothing to cancel`);
    expect((await readJournal(db, id)).events.length).toBe(before);

    // A driver killed with SIGKILL leaves the run "running" with a dead holder.
    const killed = startCli(['install', '--dry-run', '--sim-lb-delay', '10m', '--db', join(tmp.dir, 'killed.db')]);
    let out = '';
    killed.child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    const killedId = await runningRun(['--db', join(tmp.dir, 'killed.db')], () => out);
    killed.child.kill('SIGKILL');
    await killed.done;
    const gone = await runCli(['cancel', killedId, '--db', join(tmp.dir, 'killed.db')]);
    expect(gone.code).toBe(3);
    expect(gone.stderr).toMatch(/has no live driver .* is gone\): nothing is running to cancel/);
    expect(gone.stderr).toContain(`"mesh-run resume ${killedId}" continues it`);

    const unknown = await runCli(['cancel', 'mr-zzzzzzzz', '--db', db]);
    expect(unknown.code).toBe(4);
  }, 60_000);
});
