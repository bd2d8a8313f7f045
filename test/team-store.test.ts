// A store several machines share: runs started on one and resumed on another, runs driven side by side,
// operators' controls (unlock, watch, follow), history moved between stores. Each machine is a mesh-run
// process with a host name of its own (a UTS namespace); the team store is the tests' PostgreSQL.
import { copyFileSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../engine/composition.js';
import { parseStoreLocation } from '../store/location.js';
import { type CliResult, runIdFrom, startCli, tempDir } from './support/cli.js';
import { runCli } from './support/cli-here.js';
import { readJournal } from './support/journal.js';
import { type Backend, havePostgres, newStore } from './support/stores.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const SLOW = ['--dry-run', '--sim-lb-delay', '0', '--sim-latency', '250ms', '-q'];
const FAST = ['--dry-run', '--sim-lb-delay', '0', '-q'];
const backends: Backend[] = havePostgres() ? ['sqlite', 'postgres'] : ['sqlite'];
// Every test has stores of its own (the outage test a server of its own) and mostly waits on simulated
// latency: the file's tests run side by side.

async function until(predicate: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 50));
  }
}

// The run id a live CLI printed first.
async function idOf(output: () => string): Promise<string> {
  await until(() => /^run mr-/m.test(output()));
  return (/^run (mr-[a-z0-9]+)/m.exec(output()) as RegExpExecArray)[1] as string;
}

function started(args: string[], host?: string) {
  let out = '';
  const run = startCli(args, host ? { host } : {});
  run.child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  return { ...run, output: () => out };
}

async function ok(args: string[], host?: string): Promise<CliResult> {
  const result = await runCli(args, host ? { host } : {});
  expect(result.code, `${args.join(' ')}\n${result.stderr}`).toBe(0);
  return result;
}

describe.skipIf(!havePostgres()).concurrent('a team store on PostgreSQL', () => {
  it('a run started on one machine, killed, is resumed from another at once, and history shows both operators', async () => {
    const store = newStore('postgres', tmp.dir, 'handover');
    const ci = started(['install', ...SLOW, ...store.args], 'ci-runner-7');
    const id = await idOf(ci.output);
    await until(async () => (await readJournal(store.where, id)).attempts.some((a) => a.step === 'install-primary'));
    ci.child.kill('SIGKILL');
    expect((await ci.done).signal).toBe('SIGKILL');
    // The killed driver's session ended with it: its lock is free, so the laptop takes over at once,
    // although its heartbeat is fresh and its pid cannot be checked from another machine.
    const resumed = await ok(['resume', id, ...store.args, '-q'], 'laptop-ana');
    expect(resumed.stdout).toContain('mesh installed');
    const actions = JSON.parse((await ok(['history', '--actions', '--run', id, '--json', ...store.args])).stdout) as Array<{ action: string; host: string }>;
    const byHost = actions.map((a) => `${a.action}@${a.host}`).reverse();
    expect(byHost).toEqual(['started@ci-runner-7', 'lease-taken-over@laptop-ana', 'resumed@laptop-ana', 'succeeded@laptop-ana']);
    const journal = await readJournal(store.where, id);
    expect(journal.attempts.every((a) => a.endedAt !== null)).toBe(true);
  });

  it('two machines drive two runs of one store side by side', async () => {
    const store = newStore('postgres', tmp.dir, 'sidebyside');
    const [a, b] = await Promise.all([
      runCli(['install', ...SLOW, ...store.args], { host: 'ci-a' }),
      runCli(['install', ...SLOW, ...store.args], { host: 'ci-b' }),
    ]);
    expect([a.code, b.code]).toEqual([0, 0]);
    const runs = JSON.parse((await ok(['runs', '--json', ...store.args])).stdout) as Array<{ id: string; status: string }>;
    expect(runs.map((r) => r.status)).toEqual(['succeeded', 'succeeded']);
    const hosts = JSON.parse((await ok(['history', '--actions', '--json', ...store.args])).stdout) as Array<{ action: string; host: string }>;
    expect(new Set(hosts.filter((h) => h.action === 'started').map((h) => h.host))).toEqual(new Set(['ci-a', 'ci-b']));
  });

  it('a live driver on another machine keeps its run: resume and unlock are refused, naming it', async () => {
    const store = newStore('postgres', tmp.dir, 'live');
    const ci = started(['install', ...SLOW, '--sim-latency', '400ms', ...store.args], 'ci-runner-9');
    const id = await idOf(ci.output);
    await until(async () => (await readJournal(store.where, id)).attempts.length > 0);
    const resume = await runCli(['resume', id, ...store.args], { host: 'laptop' });
    expect(resume.code).toBe(3);
    expect(resume.stderr).toMatch(new RegExp(`run ${id} is being driven by pid \\d+ on ci-runner-9 \\(user \\w+, last heartbeat \\d+s ago\\)`));
    const unlock = await runCli(['unlock', id, '--yes', ...store.args], { host: 'laptop' });
    expect(unlock.code).toBe(3);
    expect(unlock.stderr).toContain('whose database session is still open: it is not gone');
    expect((await ci.done).code).toBe(0);
  });

  it('the server stops mid-run: the run stops (exit 3) and loses nothing; resume finishes it once the server is back', async () => {
    // A server of this test's own: the shared one serves the other files.
    const { startPostgres } = await import('./support/postgres.js');
    const server = startPostgres();
    try {
      const url = server.url('outage');
      const install = started(['install', ...SLOW, '--store', url]);
      const id = await idOf(install.output);
      await until(async () => (await readJournal(url, id)).attempts.some((a) => a.step === 'install-primary' && a.outcome === 'succeeded'));
      server.stop('immediate');
      const stopped = await install.done;
      expect(stopped.code).toBe(3);
      expect(stopped.stderr).toMatch(/mesh-run: error: run mr-\w+ stopped: .*(unreachable|lost the connection)/);
      expect(stopped.stderr).not.toMatch(/\n\s+at /);
      // While the server is down, nothing pretends otherwise.
      const down = await runCli(['status', id, '--store', url]);
      expect(down.code).toBe(3);
      expect(down.stderr).toContain('is unreachable');
      server.start();
      const before = await readJournal(url, id);
      expect(before.attempts.filter((a) => a.outcome === 'succeeded').length).toBeGreaterThan(0);
      await ok(['resume', id, '--store', url, '-q']);
      const after = await readJournal(url, id);
      expect(after.run.status).toBe('succeeded');
      // What finished before the outage did not run again.
      for (const done of before.attempts.filter((a) => a.outcome === 'succeeded')) {
        expect(after.attempts.filter((a) => a.step === done.step && a.cluster === done.cluster && a.outcome === 'succeeded').map((a) => a.id)).toEqual([
          done.id,
        ]);
      }
      expect(after.attempts.every((a) => a.endedAt !== null) && after.commands.every((c) => c.endedAt !== null)).toBe(true);
    } finally {
      server.destroy();
    }
  });
});

describe.concurrent.each(backends)('operator controls on %s', (backend) => {
  it('unlock releases the lease of a driver that is gone, after confirmation, and journals who did it', async () => {
    const store = newStore(backend, tmp.dir, 'unlock');
    // A driver on another machine dies; on SQLite its lease looks alive for 30 s (pid unknown from here).
    const ci = started(['install', ...SLOW, ...store.args], 'ci-gone');
    const id = await idOf(ci.output);
    await until(async () => (await readJournal(store.where, id)).attempts.length > 0);
    ci.child.kill('SIGKILL');
    await ci.done;
    const refused = await runCli(['unlock', id, ...store.args]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('confirm on a terminal, or pass --yes');
    const released = await ok(['unlock', id, '--yes', ...store.args]);
    expect(released.stdout).toMatch(new RegExp(`released the lease of run ${id} \\(pid \\d+ on ci-gone\\)`));
    expect((await ok(['unlock', id, '--yes', ...store.args])).stdout).toContain('holds no lease: nothing to unlock');
    await ok(['resume', id, ...store.args, '-q']);
    const actions = JSON.parse((await ok(['history', '--actions', '--run', id, '--json', ...store.args])).stdout) as Array<{
      action: string;
      detail: string | null;
    }>;
    expect(actions.find((a) => a.action === 'unlocked')?.detail).toMatch(/released the lease of pid \d+ on ci-gone/);
  });

  it('status --watch and logs --follow show a run driven by another process as it goes, and end with it', async () => {
    const store = newStore(backend, tmp.dir, 'watch');
    const driver = started(['install', ...SLOW, ...store.args], 'ci-watched');
    const id = await idOf(driver.output);
    const [watch, follow] = await Promise.all([
      runCli(['status', id, '--watch', '--json', ...store.args]),
      runCli(['logs', id, '--follow', '--step', 'install-primary', ...store.args]),
    ]);
    expect((await driver.done).code).toBe(0);
    expect(watch.code).toBe(0);
    const states = watch.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { run: { status: string }; steps: Array<{ status: string }> });
    expect(states.length).toBeGreaterThan(3);
    expect(states.at(-1)?.run.status).toBe('succeeded');
    // It saw the run in between: some steps done, some not yet.
    expect(states.some((s) => s.steps.some((x) => x.status === 'succeeded') && s.steps.some((x) => x.status !== 'succeeded'))).toBe(true);
    expect(follow.code).toBe(0);
    expect(follow.stdout).toMatch(/==> install-primary@cluster1 #1 .*: \$ istioctl install/);
    expect(follow.stdout).not.toContain('attach-remote');
    expect(follow.stderr).toContain(`run ${id} succeeded`);
  });
});

describe.concurrent('status --watch where nothing can be redrawn', () => {
  it('prints the status once, then one line per change, never the whole table again', async () => {
    const store = newStore('sqlite', tmp.dir, 'watch-lines');
    const driver = started(['install', ...SLOW, ...store.args]);
    const id = await idOf(driver.output);
    const watch = await runCli(['status', id, '--watch', ...store.args]);
    expect((await driver.done).code).toBe(0);
    expect(watch.code, watch.stderr).toBe(0);
    const lines = watch.stdout.trimEnd().split('\n');
    // The table's header once; 9 slots each start and succeed at most once, and the run ends: a line each.
    expect(lines.filter((l) => l.startsWith('STEP '))).toHaveLength(1);
    expect(lines.filter((l) => l.startsWith('run       '))).toHaveLength(1);
    const changes = lines.filter((l) => /^\d\d:\d\d:\d\d /.test(l));
    expect(changes.length).toBeGreaterThan(3);
    expect(changes.filter((l) => / running/.test(l)).length).toBeLessThanOrEqual(9);
    expect(changes.filter((l) => / succeeded$/.test(l)).length).toBeLessThanOrEqual(10);
    expect(changes.at(-1)).toMatch(new RegExp(`^\\d\\d:\\d\\d:\\d\\d run ${id} succeeded$`));
    expect(changes).toContain(changes.find((l) => / attach-remote@cluster2 succeeded$/.test(l)));
    expect(lines.length).toBeLessThan(40);
    expect(watch.stderr).toBe(`run ${id} succeeded\n`);
  });
});

describe.skipIf(!havePostgres()).concurrent('moving history between stores', () => {
  it('a failed mixed-fleet run, copied mid-way with its snapshot parts, resumes on the other store and redoes no finished step', async () => {
    const laptop = newStore('sqlite', tmp.dir, 'fleet-laptop');
    const team = newStore('postgres', tmp.dir, 'fleet-team');
    const dir = mkdtempSync(join(tmp.dir, 'fleet-'));
    const config = join(dir, 'mesh.yaml');
    copyFileSync('examples/mixed-fleet.yaml', config);
    const failed = await runCli(['install', ...FAST, '-c', config, '--inject-failure', 'exchange-secret@west-2', ...laptop.args]);
    expect(failed.code, failed.stderr).toBe(1);
    const id = runIdFrom(failed);
    const exported = async (where: string) => {
      const store = await openStore(parseStoreLocation(where, 'test'), 'read-only');
      try {
        return await store.runs.exportRun(id);
      } finally {
        await store.close();
      }
    };
    const source = await exported(laptop.where);
    expect(source?.parts.length).toBeGreaterThan(1);
    await ok(['store', 'copy', '--from', laptop.where, '--to', team.where]);
    const copied = await exported(team.where);
    expect(copied?.parts).toEqual(source?.parts);
    expect(copied?.run.snapshotJson).toBe(source?.run.snapshotJson);

    await ok(['resume', id, ...team.args, '-q']);
    const done = (await readJournal(team.where, id)).attempts;
    const finished = (source?.attempts ?? []).filter((a) => a.outcome === 'succeeded');
    expect(finished.length).toBeGreaterThan(10);
    for (const a of finished) {
      const after = done.filter((b) => b.step === a.step && b.cluster === a.cluster);
      expect(
        after.map((b) => [b.attempt, b.outcome]),
        `${a.step}@${a.cluster}`,
      ).toEqual([[a.attempt, 'succeeded']]);
    }
    expect(done.filter((a) => a.step === 'exchange-secret' && a.cluster === 'west-2').map((a) => a.outcome)).toEqual(['failed', 'succeeded']);
  });

  it("copies a laptop's SQLite into PostgreSQL and back, idempotently; a differing run stops the copy", async () => {
    const laptop = newStore('sqlite', tmp.dir, 'laptop');
    const team = newStore('postgres', tmp.dir, 'team');
    const install = runIdFrom(await ok(['install', ...FAST, ...laptop.args]));
    await ok(['verify', '--run', install, ...laptop.args, '-q']);
    const failed = await runCli(['install', ...FAST, '--inject-failure', 'attach-remote', ...laptop.args]);
    expect(failed.code).toBe(1);
    const copied = JSON.parse((await ok(['store', 'copy', '--from', laptop.where, '--to', team.where, '--json'])).stdout) as { copied: string[] };
    expect(copied.copied).toHaveLength(3);
    expect((await ok(['store', 'copy', '--from', laptop.where, '--to', team.where])).stdout).toBe('copied 0 runs; 3 runs already there\n');
    // The same history, read from either store.
    for (const verb of [['runs'], ['history', '--limit', '1000'], ['show', install], ['logs', install]]) {
      const a = await ok([...verb, ...laptop.args]);
      const b = await ok([...verb, ...team.args]);
      expect(b.stdout, verb.join(' ')).toBe(a.stdout);
    }
    // The failed run goes on at the laptop: it now differs from the team's copy, and nothing is copied.
    const failedId = runIdFrom(failed);
    await ok(['resume', failedId, ...laptop.args, '-q']);
    await ok(['install', ...FAST, ...laptop.args]);
    const conflict = await runCli(['store', 'copy', '--from', laptop.where, '--to', team.where]);
    expect(conflict.code).toBe(3);
    expect(conflict.stderr).toContain(`the target already has run ${failedId} with different content; nothing was copied`);
    expect(JSON.parse((await ok(['runs', '--json', ...team.args])).stdout)).toHaveLength(3);
    // The team's history resumes elsewhere: a run copied from PostgreSQL into a new SQLite file resumes there.
    const elsewhere = newStore('sqlite', tmp.dir, 'elsewhere');
    await ok(['store', 'copy', '--from', team.where, '--to', elsewhere.where]);
    await ok(['resume', failedId, ...elsewhere.args, '-q']);
  });
});

describe.concurrent('store copy between two SQLite files', () => {
  it('says "1 run", and a run that differs in the target stops the copy with exit 3 (a store problem, not a missing run)', async () => {
    const laptop = newStore('sqlite', tmp.dir, 'copy-a');
    const other = newStore('sqlite', tmp.dir, 'copy-b');
    const failed = runIdFrom(await runCli(['install', ...FAST, '--inject-failure', 'attach-remote', ...laptop.args]));
    expect((await ok(['store', 'copy', '--from', laptop.where, '--to', other.where])).stdout).toBe(
      'copied 1 run and 1 simulated world; 0 runs already there\n',
    );
    expect((await ok(['store', 'copy', '--from', laptop.where, '--to', other.where])).stdout).toBe('copied 0 runs; 1 run already there\n');
    await ok(['resume', failed, ...laptop.args, '-q']);
    const conflict = await runCli(['store', 'copy', '--from', laptop.where, '--to', other.where]);
    expect(conflict.code).toBe(3);
    expect(conflict.stderr).toContain(`the target already has run ${failed} with different content; nothing was copied`);
  });
});
