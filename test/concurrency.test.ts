import { afterAll, describe, expect, it } from 'vitest';
import { runCli, runIdFrom, startCli, tempDir } from './support/cli.js';
import { readJournal } from './support/journal.js';
import { type Backend, havePostgres, newStore } from './support/stores.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const backends: Backend[] = havePostgres() ? ['sqlite', 'postgres'] : ['sqlite'];

describe.each(backends)('concurrency on %s', (backend) => {
  it('two resumes started together: exactly one drives the run, the other exits 3 naming the holder', async () => {
    const store = newStore(backend, tmp.dir, 'race');
    const failed = await runCli([
      'install',
      '--dry-run',
      '--sim-lb-delay',
      '0',
      '--sim-latency',
      '200ms',
      '--inject-failure',
      'install-primary',
      '-q',
      ...store.args,
    ]);
    expect(failed.code).toBe(1);
    const id = runIdFrom(failed);
    const a = startCli(['resume', id, ...store.args, '-q']);
    const b = startCli(['resume', id, ...store.args, '-q']);
    const results = await Promise.all([a.done, b.done]);
    const codes = results.map((r) => r.code).sort();
    expect(codes).toEqual([0, 3]);
    const loser = results.find((r) => r.code === 3);
    expect(loser?.stderr).toMatch(new RegExp(`run ${id} is being driven by pid \\d+ on \\S+ \\(user \\S+, last heartbeat \\d+s ago\\)`));
    const journal = await readJournal(store.where, id);
    expect(journal.run.status).toBe('succeeded');
    expect(journal.events.filter((e) => e.type === 'resumed')).toHaveLength(1);
  });

  it('eight runs in parallel processes on one store all succeed', async () => {
    const store = newStore(backend, tmp.dir, 'eight');
    const runs = await Promise.all(Array.from({ length: 8 }, () => runCli(['install', '--dry-run', '--sim-lb-delay', '0', '-q', ...store.args])));
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    const listed = JSON.parse((await runCli(['runs', ...store.args, '--json'])).stdout) as Array<{ status: string }>;
    expect(listed.map((r) => r.status)).toEqual(Array(8).fill('succeeded'));
  });
});
