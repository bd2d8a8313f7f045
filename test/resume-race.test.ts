// Two resumes of one failed run, the second reading the run before the first took it and taking its lease
// only once the first had finished it: the second must act on the run as it is once held (finished), never
// on what it read before. Driven in-process, with the second store's lease request held back on purpose.
import { afterAll, describe, expect, it, vi } from 'vitest';
import { NotResumableError } from '../shared/errors.js';
import type { Store } from '../store/contract.js';
import { parseStoreLocation } from '../store/location.js';
import { runIdFrom, tempDir } from './support/cli.js';
import { runCli } from './support/cli-here.js';
import { readJournal } from './support/journal.js';
import { type Backend, havePostgres, newStore } from './support/stores.js';

// The stores run-service opens, in order; a lease request of the one marked `held` waits for `release`.
const gate = vi.hoisted(() => ({ opened: 0, held: -1, release: Promise.resolve() as Promise<void>, asked: () => {} }));
vi.mock('../engine/composition.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../engine/composition.js')>();
  return {
    ...original,
    openStore: async (...args: Parameters<typeof original.openStore>): Promise<Store> => {
      const store = await original.openStore(...args);
      if (gate.opened++ !== gate.held) return store;
      const runs = Object.create(store.runs) as Store['runs'];
      runs.acquireLease = async (...lease) => {
        gate.asked();
        await gate.release;
        return store.runs.acquireLease(...lease);
      };
      return { ...store, runs };
    },
  };
});

const { prepareResume } = await import('../engine/run-service.js');
const tmp = tempDir();
afterAll(() => tmp.cleanup());
const backends: Backend[] = havePostgres() ? ['sqlite', 'postgres'] : ['sqlite'];

describe.each(backends)('a resume that waited for the lease, on %s', (backend) => {
  it('finds the run finished by the resume that went first: refused (exit 4), and the journal has one resume', async () => {
    const store = newStore(backend, tmp.dir, 'race');
    const failed = await runCli(['install', '--dry-run', '--sim-lb-delay', '0', '--inject-failure', 'install-primary', '-q', ...store.args]);
    expect(failed.code).toBe(1);
    const id = runIdFrom(failed);
    const request = { id, store: parseStoreLocation(store.where, 'test'), force: false, simulation: {} };

    gate.opened = 0;
    gate.held = 1;
    let letGo!: () => void;
    gate.release = new Promise((resolve) => {
      letGo = resolve;
    });
    const asked = new Promise<void>((resolve) => {
      gate.asked = resolve;
    });
    const first = await prepareResume(request);
    // The second reads the run (failed, not begun) and asks for its lease, held back until the first is done.
    const second = prepareResume(request);
    second.catch(() => undefined);
    await asked;
    const finished = await first.begin();
    await first.close();
    expect(finished.outcome.status).toBe('succeeded');
    letGo();
    await expect(second).rejects.toBeInstanceOf(NotResumableError);
    await expect(second).rejects.toThrow(`run ${id} already succeeded; there is nothing to resume`);

    const journal = await readJournal(store.where, id);
    expect(journal.run.status).toBe('succeeded');
    expect(journal.run.lease).toBeNull();
    expect(journal.events.map((e) => e.type)).toEqual(['started', 'failed', 'resumed', 'succeeded']);
  });
});
