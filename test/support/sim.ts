// Simulated clusters for tests: a fresh world in memory (adapter-level tests), or the world of a dry run
// in a database, driven as an operator with kubectl would.
import type { ClusterTools, Command, CommandResult, RunOptions } from '../../adapters/cluster-tools.js';
import { createSimulatedTools } from '../../adapters/simulator/simulated-tools.js';
import { type LoadBalancerMode, newWorldSettings, readWorld, withLoadBalancer, writeWorld } from '../../adapters/simulator/world.js';
import { openStore } from '../../engine/composition.js';
import type { StepId } from '../../machines/steps.js';
import type { SimObjectKey, Store } from '../../store/contract.js';
import { parseStoreLocation } from '../../store/location.js';
import { openSqliteStore } from '../../store/sqlite/index.js';

const CLUSTERS = [
  { name: 'cluster1', context: 'cluster1' },
  { name: 'cluster2', context: 'cluster2' },
];

export interface SimHarness {
  tools: ClusterTools;
  // Every object of a simulated cluster, as stored.
  objects(context: string): Promise<Array<SimObjectKey & { bodyJson: string }>>;
  run(tool: Command['tool'], args: string[], stdin?: string, step?: StepId): Promise<CommandResult>;
  close(): Promise<void>;
}

// Creates a world of cluster1 and cluster2 in `path` (an SQLite file, or ':memory:').
export async function createSimWorld(store: Store, world: string, lb: LoadBalancerMode = 'ip', delayMs = 0): Promise<void> {
  await writeWorld(store.worlds, world, newWorldSettings(CLUSTERS, { loadBalancer: { mode: lb, delayMs } }, Date.now()));
}

export async function simHarness(lb: LoadBalancerMode = 'ip', delayMs = 0): Promise<SimHarness> {
  const store = openSqliteStore(':memory:');
  await createSimWorld(store, 'w', lb, delayMs);
  const tools = createSimulatedTools({ store: store.worlds, world: 'w' });
  const options = (step: StepId): RunOptions => ({ signal: new AbortController().signal, timeoutMs: 10_000, step, cluster: 'cluster1' });
  return {
    tools,
    objects: (context) => store.worlds.transact('w', (o) => o.list(context)),
    run: (tool, args, stdin, step = 'preflight') => tools.run({ tool, args, context: 'cluster1', ...(stdin !== undefined ? { stdin } : {}) }, options(step)),
    close: () => store.close(),
  };
}

// Runs `fn` with the simulated tools of a dry run's world in the store at `where` (an SQLite path or a URL).
export async function withSimTools<T>(where: string, world: string, fn: (tools: ClusterTools) => Promise<T>): Promise<T> {
  const store = await openStore(parseStoreLocation(where, 'test'), 'existing');
  try {
    return await fn(createSimulatedTools({ store: store.worlds, world }));
  } finally {
    await store.close();
  }
}

// kubectl (or istioctl) on one simulated cluster of a dry run, as an operator would type it.
export function simCommand(db: string, world: string, context: string, args: string[], options: { tool?: 'kubectl' | 'istioctl'; stdin?: string } = {}) {
  const tool = options.tool ?? 'kubectl';
  const argv = tool === 'kubectl' ? [`--context=${context}`, ...args] : [args[0] as string, `--context=${context}`, ...args.slice(1)];
  return withSimTools(db, world, (tools) =>
    tools.run(
      { tool, args: argv, context, ...(options.stdin !== undefined ? { stdin: options.stdin } : {}) },
      { signal: new AbortController().signal, timeoutMs: 10_000, step: 'preflight', cluster: context },
    ),
  );
}

// Changes how long each command of a dry run's world takes, for the runs that come next (a test slows a run
// down only where it needs a window, such as a kill mid-step or a second driver, and speeds its resume up).
export async function setSimLatency(where: string, world: string, ms: number): Promise<void> {
  const store = await openStore(parseStoreLocation(where, 'test'), 'existing');
  try {
    const settings = await readWorld(store.worlds, world);
    if (!settings) throw new Error(`no simulated world ${world} in ${where}`);
    await writeWorld(store.worlds, world, { ...settings, commandLatencyMs: ms });
  } finally {
    await store.close();
  }
}

// Changes a dry run's load-balancer provider (ip, hostname, none) for the commands that come next: a provider
// that changes withdraws the addresses it gave and hands out its own, as a re-provisioned load balancer would.
export async function setSimLoadBalancer(where: string, world: string, mode: LoadBalancerMode): Promise<void> {
  const store = await openStore(parseStoreLocation(where, 'test'), 'existing');
  try {
    const settings = await readWorld(store.worlds, world);
    if (!settings) throw new Error(`no simulated world ${world} in ${where}`);
    await writeWorld(store.worlds, world, withLoadBalancer(settings, { mode }, Date.now()));
  } finally {
    await store.close();
  }
}
