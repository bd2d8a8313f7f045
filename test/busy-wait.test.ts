// A busy journal write is tried again (it changed nothing) until it goes through, the patience is spent, or the
// run is stopping; other errors are never retried.
import { describe, expect, it } from 'vitest';
import { WriteQueue } from '../engine/runtime/write-queue.js';
import { outwaitBusy } from '../shared/busy-wait.js';
import { StoreError } from '../shared/errors.js';

const busy = () => new StoreError('the database j.db is busy (held by another process)', { busy: true });

// A write that meets the lock `times` times, then goes through.
function flaky(times: number): { write: () => Promise<string>; tries: () => number } {
  let tries = 0;
  return {
    write: async () => {
      tries++;
      if (tries <= times) throw busy();
      return 'written';
    },
    tries: () => tries,
  };
}

describe('waiting out a busy journal', () => {
  it('tries a busy write again until it goes through', async () => {
    const w = flaky(3);
    await expect(outwaitBusy(w.write, () => false, 5000)).resolves.toBe('written');
    expect(w.tries()).toBe(4);
  });

  it('gives up once the patience is spent, with the busy error', async () => {
    const w = flaky(1000);
    const started = Date.now();
    await expect(outwaitBusy(w.write, () => false, 300)).rejects.toMatchObject({ busy: true });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(w.tries()).toBeGreaterThan(1);
  });

  it('never retries another error, nor a busy one once the run is stopping', async () => {
    let tries = 0;
    const full = async () => {
      tries++;
      throw new StoreError('cannot write the journal: disk full');
    };
    await expect(outwaitBusy(full, () => false, 5000)).rejects.toThrow('disk full');
    expect(tries).toBe(1);
    const w = flaky(5);
    await expect(outwaitBusy(w.write, () => true, 5000)).rejects.toMatchObject({ busy: true });
    expect(w.tries()).toBe(1);
  });

  it('a queue in a hurry (a signal) stops waiting out the lock', async () => {
    const queue = new WriteQueue(10_000);
    const w = flaky(1000);
    const pending = queue.push(w.write);
    setTimeout(() => queue.hurry(), 200);
    const started = Date.now();
    await expect(pending).rejects.toMatchObject({ busy: true });
    expect(Date.now() - started).toBeLessThan(3000);
  });
});
