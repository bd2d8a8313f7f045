// A simulated world in an in-memory database, for adapter-level tests.
import type { ClusterTools, Command, CommandResult, RunOptions } from '../../adapters/cluster-tools.js';
import { createSimulatedTools } from '../../adapters/simulator/simulated-tools.js';
import { createWorld, type LoadBalancerMode } from '../../adapters/simulator/world.js';
import type { StepId } from '../../machines/steps.js';
import { openDb } from '../../store/open-db.js';
import { createSimStore, type SimStore } from '../../store/sim-store.js';

export interface SimHarness {
  tools: ClusterTools;
  sim: SimStore;
  run(tool: Command['tool'], args: string[], stdin?: string, step?: StepId): Promise<CommandResult>;
  close(): void;
}

export function simHarness(lb: LoadBalancerMode = 'ip', delayMs = 0): SimHarness {
  const db = openDb(':memory:');
  const sim = createSimStore(db);
  createWorld(
    sim,
    'w',
    [
      { name: 'cluster1', context: 'cluster1' },
      { name: 'cluster2', context: 'cluster2' },
    ],
    { loadBalancer: { mode: lb, delayMs } },
    Date.now(),
  );
  const tools = createSimulatedTools({ store: sim, world: 'w' });
  const options = (step: StepId): RunOptions => ({ signal: new AbortController().signal, timeoutMs: 10_000, step, cluster: 'cluster1' });
  return {
    tools,
    sim,
    run: (tool, args, stdin, step = 'preflight') => tools.run({ tool, args, context: 'cluster1', ...(stdin !== undefined ? { stdin } : {}) }, options(step)),
    close: () => db.close(),
  };
}
