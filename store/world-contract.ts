// The simulated clusters of dry runs: what a world store keeps and how a simulated API call reaches it.
// Part of the store contract (store/contract.ts re-exports every name here).

import type { Fence } from './fence.js';

export interface SimObjectKey {
  context: string;
  kind: string;
  namespace: string;
  name: string;
}

export interface SimFault {
  id: number;
  step: string;
  cluster: string | null;
  remaining: number;
  kind: 'permanent' | 'transient';
}

// One simulated API call's view of a world: synchronous, and atomic as a whole (WorldStore.transact).
export interface WorldObjects {
  settings(): string | undefined;
  get(key: SimObjectKey): string | undefined;
  put(key: SimObjectKey, bodyJson: string): void;
  remove(key: SimObjectKey): void;
  list(context: string, kind?: string): Array<SimObjectKey & { bodyJson: string }>;
  // Uses one injected failure for (step, cluster) if any is left; returns it.
  takeFault(step: string, cluster: string): SimFault | undefined;
}

export interface WorldStore {
  getWorld(world: string): Promise<string | undefined>;
  putWorld(world: string, settingsJson: string): Promise<void>;
  faults(world: string): Promise<SimFault[]>;
  // Runs `fn` over the world's objects as one atomic unit, as an API server applies one request. With a
  // lease (a driver's command), it runs only while that lease holds the run, in the same transaction:
  // FencedError otherwise, and the world is untouched.
  transact<T>(world: string, fn: (objects: WorldObjects) => T, lease?: WorldLease): Promise<T>;
  // A world whole (settings, objects, faults), for mesh-run store copy; undefined if absent.
  exportWorld(world: string): Promise<WorldExport | undefined>;
  // Replaces the world with this one, in one transaction.
  importWorld(data: WorldExport): Promise<void>;
}

// The run a simulated call is made for, and the lease its driver holds.
export interface WorldLease {
  runId: string;
  fence: Fence;
}

export interface WorldExport {
  id: string;
  settingsJson: string;
  // Ordered by context, kind, namespace, name.
  objects: Array<SimObjectKey & { bodyJson: string }>;
  faults: Array<Omit<SimFault, 'id'>>;
}

// A dry run's simulated clusters and injected failures, created with the run or not at all.
export interface WorldSeed {
  world: { id: string; settingsJson: string } | null;
  faults: ReadonlyArray<Omit<SimFault, 'id'>>;
  faultWorld: string;
}
