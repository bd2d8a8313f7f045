// A simulated world: the kube contexts it has, how its load balancers behave, what versions it reports.
import type { SimStore } from '../../store/sim-store.js';
import type { LatencyModel } from './latency-model.js';

export type LoadBalancerMode = 'ip' | 'hostname' | 'none';

export interface SimContext {
  name: string;
  cluster: string;
  server: string;
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

// Creates (or replaces) the world's settings for these clusters.
export function createWorld(
  store: SimStore,
  world: string,
  clusters: Array<{ name: string; context: string }>,
  options: { loadBalancer: { mode: LoadBalancerMode; delayMs: number }; commandLatencyMs?: number; latencyModel?: LatencyModel },
  now: number,
): WorldSettings {
  const settings: WorldSettings = {
    contexts: clusters.map((c, i) => ({ name: c.context, cluster: c.name, server: `https://10.${10 + i}.0.1:6443` })),
    loadBalancer: { ...options.loadBalancer, changedAt: now },
    commandLatencyMs: options.commandLatencyMs ?? 0,
    ...(options.latencyModel ? { latencyModel: options.latencyModel } : {}),
    istioVersion: SIM_ISTIO_VERSION,
    kubernetesVersion: SIM_KUBERNETES_VERSION,
  };
  store.putWorld(world, JSON.stringify(settings));
  return settings;
}

export function readWorld(store: SimStore, world: string): WorldSettings | undefined {
  const json = store.getWorld(world);
  return json ? (JSON.parse(json) as WorldSettings) : undefined;
}

// Changes how the world's load balancers answer (the operator "installed MetalLB").
export function setLoadBalancer(store: SimStore, world: string, loadBalancer: { mode: LoadBalancerMode; delayMs?: number }, now: number): void {
  const settings = readWorld(store, world);
  if (!settings) throw new Error(`simulated world ${world} does not exist`);
  settings.loadBalancer = { mode: loadBalancer.mode, delayMs: loadBalancer.delayMs ?? settings.loadBalancer.delayMs, changedAt: now };
  store.putWorld(world, JSON.stringify(settings));
}
