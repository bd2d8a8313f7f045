// A journal that answers slowly (PostgreSQL over a network, a busy disk) must not lose the end of a run:
// the last steps may finish while an earlier write is still in flight, and their outcomes must reach the
// journal before the run is marked over.
import { describe, expect, it } from 'vitest';
import type { ClusterTools } from '../adapters/cluster-tools.js';
import { newWorldSeed, openStore, toolsFor } from '../engine/composition.js';
import { parseConfigText } from '../engine/config/mesh-config.js';
import { driveUnrecorded } from '../engine/runtime/rehearsal.js';
import type { RunStore, Store } from '../store/contract.js';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Commands that complete, for a write to wait on.
class Completions {
  private waiters: Array<() => void> = [];
  next(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      setTimeout(resolve, timeoutMs);
    });
  }
  fire(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

// A write that ends a step answers right after the next command anywhere completes, in the same turn of
// the event loop: as a remote server's reply can arrive together with the result that ends another step.
function closesAnswerWithCommands(store: Store, completions: Completions): Store {
  const commitTransition: RunStore['commitTransition'] = async (runId, fence, snapshot, closes, at) => {
    if (closes.length > 0) {
      await completions.next(100);
      // Let what that command's result sets off run first (it takes a few promise turns, no timer).
      for (let i = 0; i < 200; i++) await Promise.resolve();
    }
    return store.runs.commitTransition(runId, fence, snapshot, closes, at);
  };
  return { ...store, runs: Object.assign(Object.create(store.runs), { commitTransition }) };
}

// The tools, with each cluster's commands taking their own time (so the last steps end apart), telling
// `completions` when a command completes.
function reporting(tools: ClusterTools, completions: Completions, latencyMs: (context: string) => number): ClusterTools {
  return {
    mode: tools.mode,
    run: async (command, options) => {
      await pause(latencyMs(command.context));
      const result = await tools.run(command, options);
      completions.fire();
      return result;
    },
    pipe: async (source, sink, options) => {
      await pause(latencyMs(sink.context));
      const result = await tools.pipe(source, sink, options);
      completions.fire();
      return result;
    },
    presentToken: (probe, options) => tools.presentToken(probe, options),
  };
}

const CONFIG = `clusters:
  - { name: cluster1, context: cluster1, role: primary }
  - { name: cluster2, context: cluster2, role: remote, controlPlane: cluster1 }
  - { name: cluster3, context: cluster3, role: remote, controlPlane: cluster1 }
  - { name: cluster4, context: cluster4, role: remote, controlPlane: cluster1 }
`;

// Per-cluster command times (ms) for cluster1..cluster4: the remotes' last steps end at different moments,
// so in some of these one ends while the write closing another is in flight.
const SPREADS = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => [1, 2, 3, 4].map((n) => (n * (i + 1) * 3) % 20));

describe('a run over a slow journal', () => {
  it.each(SPREADS)('closes every attempt it opened before it ends (commands take %i/%i/%i/%i ms)', async (...spread) => {
    const store = await openStore({ kind: 'sqlite', path: ':memory:' }, 'create');
    try {
      const config = parseConfigText(CONFIG, {}, 'test');
      const world = `slow-${spread.join('-')}`;
      const seed = newWorldSeed(world, config, { loadBalancerDelayMs: 0 }, [], Date.now());
      const completions = new Completions();
      const tools = reporting(await toolsFor('dry-run', config, store, world), completions, (context) => spread[Number(context.slice(-1)) - 1] ?? 0);
      await driveUnrecorded(closesAnswerWithCommands(store, completions), world, 'install', config, tools, world, seed);
      const attempts = await store.runs.listAttempts(world);
      expect(attempts.length).toBeGreaterThan(10);
      expect(attempts.filter((a) => a.outcome !== 'succeeded').map((a) => `${a.step}@${a.cluster}: ${a.outcome}`)).toEqual([]);
      expect((await store.runs.getRun(world))?.status).toBe('succeeded');
    } finally {
      await store.close();
    }
  });
});
