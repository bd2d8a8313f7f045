// A simulated world: the kube contexts it has, how its load balancers behave, what versions it reports.
import type { WorldStore } from '../../store/contract.js';
import type { LatencyModel } from './latency-model.js';

export type LoadBalancerMode = 'ip' | 'hostname' | 'none';

export interface SimContext {
  name: string;
  cluster: string;
  server: string;
  // The network its pods are on, as the wires are (absent in worlds made before networks: all on one).
  network?: string;
  // How its kubeconfig user authenticates (absent: a client certificate).
  user?: { exec?: string; authProvider?: string };
  // Its API server does not answer (a stopped cluster, a closed firewall).
  unreachable?: boolean;
}

export interface WorldSettings {
  contexts: SimContext[];
  loadBalancer: { mode: LoadBalancerMode; delayMs: number; changedAt: number };
  // How long every simulated command takes (0: as fast as possible), unless a latency model is set.
  commandLatencyMs: number;
  latencyModel?: LatencyModel;
  istioVersion: string;
  kubernetesVersion: string;
}

export const SIM_ISTIO_VERSION = '1.25.2';
export const SIM_KUBERNETES_VERSION = 'v1.33.1';

export interface WorldOptions {
  loadBalancer: { mode: LoadBalancerMode; delayMs: number };
  commandLatencyMs?: number;
  latencyModel?: LatencyModel;
}

// The API server of the i-th cluster of a world: 10.10.0.1, 10.11.0.1 ... 10.255.0.1, then 10.10.1.1 on (a
// fleet of up to 1025 clusters keeps every octet valid, and the first 246 keep the addresses they always had).
function serverAddress(i: number): string {
  return `https://10.${10 + (i % 246)}.${Math.floor(i / 246)}.1:6443`;
}

// The settings of a new world with these clusters (each its own context and API server address).
export function newWorldSettings(
  clusters: ReadonlyArray<{ name: string; context: string; network?: string }>,
  options: WorldOptions,
  now: number,
): WorldSettings {
  return {
    contexts: clusters.map((c, i) => ({
      name: c.context,
      cluster: c.name,
      server: serverAddress(i),
      ...(c.network ? { network: c.network } : {}),
    })),
    loadBalancer: { ...options.loadBalancer, changedAt: now },
    commandLatencyMs: options.commandLatencyMs ?? 0,
    ...(options.latencyModel ? { latencyModel: options.latencyModel } : {}),
    istioVersion: SIM_ISTIO_VERSION,
    kubernetesVersion: SIM_KUBERNETES_VERSION,
  };
}

// The same world with a context (and API server) for each of these clusters it lacks: a cluster joins a
// simulated mesh as a new cluster of its world.
export function withClusters(settings: WorldSettings, clusters: ReadonlyArray<{ name: string; context: string; network?: string }>): WorldSettings {
  const missing = clusters.filter((c) => !settings.contexts.some((x) => x.name === c.context));
  if (missing.length === 0) return settings;
  const used = new Set(settings.contexts.map((c) => c.server));
  let next = settings.contexts.length;
  const server = () => {
    while (used.has(serverAddress(next))) next++;
    const address = serverAddress(next);
    used.add(address);
    return address;
  };
  const added = missing.map((c) => ({ name: c.context, cluster: c.name, server: server(), ...(c.network ? { network: c.network } : {}) }));
  return { ...settings, contexts: [...settings.contexts, ...added] };
}

// Every simulated command reads its world's settings; with a thousand clusters parsing them each time costs
// more than the command. The last text parsed is kept, frozen, so a caller can only derive new settings.
let parsed: { json: string; settings: WorldSettings } | undefined;

export function parseWorldSettings(json: string | undefined): WorldSettings | undefined {
  if (!json) return undefined;
  if (parsed?.json !== json) parsed = { json, settings: deepFreeze(JSON.parse(json) as WorldSettings) };
  return parsed.settings;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

// Creates (or replaces) a world's settings.
export async function writeWorld(store: WorldStore, world: string, settings: WorldSettings): Promise<void> {
  await store.putWorld(world, JSON.stringify(settings));
}

export async function readWorld(store: WorldStore, world: string): Promise<WorldSettings | undefined> {
  return parseWorldSettings(await store.getWorld(world));
}

// The same world, its load balancers answering another way from `now` (the operator "installed MetalLB").
export function withLoadBalancer(settings: WorldSettings, loadBalancer: { mode: LoadBalancerMode; delayMs?: number }, now: number): WorldSettings {
  return { ...settings, loadBalancer: { mode: loadBalancer.mode, delayMs: loadBalancer.delayMs ?? settings.loadBalancer.delayMs, changedAt: now } };
}
