// How a dry run's simulated clusters are set up: their load balancer, their command latency, the failures
// injected into them. The options come from the CLI; the settings are stored with the run. This module and
// simulated-tools.ts are the simulator's face: nothing outside adapters/ reaches further in.
import type { SimFault } from '../../store/contract.js';
import type { FaultSpec } from './faults.js';
import { MEAN_MS } from './latency-model.js';

export type { FaultKind, FaultSpec } from './faults.js';
// The latency model's figures, for the bench's critical path.
export { MEAN_MS, modelledDuration } from './latency-model.js';

import { type LoadBalancerMode, newWorldSettings, type WorldSettings, withLoadBalancer } from './world.js';

export { withClusters } from './world.js';

export interface SimulationOptions {
  loadBalancer?: LoadBalancerMode;
  loadBalancerDelayMs?: number;
  commandLatencyMs?: number;
  // Durations after real installs (docs/benchmarks.md), multiplied by timeScale.
  realisticLatency?: { timeScale: number };
}

// A load balancer that answers after 1.5 s unless told otherwise.
const DEFAULT_LB_DELAY_MS = 1500;

// The settings of a new simulated world for these clusters, as the options ask.
export function simulatedWorld(
  clusters: ReadonlyArray<{ name: string; context: string; network?: string }>,
  options: SimulationOptions,
  seed: string,
  now: number,
): WorldSettings {
  const realistic = options.realisticLatency;
  return newWorldSettings(
    clusters,
    {
      loadBalancer: {
        mode: options.loadBalancer ?? 'ip',
        delayMs: options.loadBalancerDelayMs ?? (realistic ? Math.round(MEAN_MS.loadBalancerAddress * realistic.timeScale) : DEFAULT_LB_DELAY_MS),
      },
      ...(options.commandLatencyMs !== undefined ? { commandLatencyMs: options.commandLatencyMs } : {}),
      ...(realistic ? { latencyModel: { timeScale: realistic.timeScale, jitter: 0.15, seed } } : {}),
    },
    now,
  );
}

// An existing world with the load-balancer options of a resume applied (the operator "installed MetalLB").
export function resimulated(settings: WorldSettings, options: SimulationOptions, now: number): WorldSettings {
  if (options.loadBalancer === undefined && options.loadBalancerDelayMs === undefined) return settings;
  return withLoadBalancer(
    settings,
    {
      mode: options.loadBalancer ?? settings.loadBalancer.mode,
      ...(options.loadBalancerDelayMs !== undefined ? { delayMs: options.loadBalancerDelayMs } : {}),
    },
    now,
  );
}

// Whether a resume asks to change the simulated load balancer.
export function changesLoadBalancer(options: SimulationOptions): boolean {
  return options.loadBalancer !== undefined || options.loadBalancerDelayMs !== undefined;
}

// Injected failures as stored with the world.
export function faultRows(faults: readonly FaultSpec[]): Array<Omit<SimFault, 'id'>> {
  return faults.map((f) => ({ step: f.step, cluster: f.cluster ?? null, remaining: f.count, kind: f.kind }));
}
