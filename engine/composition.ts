// The composition root: the one module that chooses a store backend and real or simulated tools. Every verb,
// the planner and the bench get what they need from here; nothing else builds a store or a ClusterTools.
import { existsSync } from 'node:fs';
import type { ClusterTools } from '../adapters/cluster-tools.js';
import { type FaultSpec, faultRows, resimulated, type SimulationOptions, simulatedWorld, withClusters } from '../adapters/simulator/setup.js';
import { readWorld, type WorldSettings, writeWorld } from '../adapters/simulator/world.js';
import type { MeshConfig, RunMode } from '../shared/model.js';
import type { Store, WorldSeed } from '../store/contract.js';
import { resolveStoreLocation, type StoreLocation } from '../store/location.js';
import { openSqliteStore } from '../store/sqlite/index.js';

export type { FaultSpec, SimulationOptions } from '../adapters/simulator/setup.js';
export { changesLoadBalancer } from '../adapters/simulator/setup.js';
export type { StoreLocation } from '../store/location.js';

// How a command uses the store: to write (creating it if missing), to write one that must exist, to read.
export type StoreAccess = 'create' | 'existing' | 'read-only';

// The store the flags and the environment name: --store or --db, else $MESH_RUN_STORE, else $MESH_RUN_DB,
// else the SQLite file in the XDG state directory.
export function storeLocation(
  options: { db?: string | undefined; store?: string | undefined },
  env: Record<string, string | undefined> = process.env,
): StoreLocation {
  return resolveStoreLocation(options, env);
}

// Whether the store is there already (verbs that find nothing to act on leave no empty database behind).
export async function storeExists(location: StoreLocation): Promise<boolean> {
  if (location.kind === 'sqlite') return location.path === ':memory:' || existsSync(location.path);
  const { postgresStoreExists } = await import('../store/postgres/index.js');
  return postgresStoreExists(location);
}

// Opens the store as the command needs it; read-only access never creates, migrates or changes it. The
// PostgreSQL client loads only when a PostgreSQL store is named.
export async function openStore(location: StoreLocation, access: StoreAccess): Promise<Store> {
  if (location.kind === 'sqlite') return openSqliteStore(location.path, { mustExist: access === 'existing', readOnly: access === 'read-only' });
  const { openPostgresStore } = await import('../store/postgres/index.js');
  return openPostgresStore(location, { access });
}

// The store as a look at a mesh's clusters needs it: a simulated world's controllers write as its clusters are
// read (as a real cluster's would), so a dry-run mesh's store is opened to write; a real mesh's is only read.
export function openStoreToRead(location: StoreLocation, mode: RunMode): Promise<Store> {
  return openStore(location, mode === 'dry-run' ? 'existing' : 'read-only');
}

// The real kubectl and istioctl (checks before a run exists use them too). Tools load on first use, so
// the verbs that only read the journal start without them.
export async function realTools(config: MeshConfig): Promise<ClusterTools> {
  const { createExecaTools } = await import('../adapters/execa-tools.js');
  return createExecaTools(config.tools);
}

// The tools a run of this mode uses: the real ones, or the simulated clusters of its world.
export async function toolsFor(mode: RunMode, config: MeshConfig, store: Store, world: string): Promise<ClusterTools> {
  if (mode === 'real') return realTools(config);
  const { createSimulatedTools } = await import('../adapters/simulator/simulated-tools.js');
  return createSimulatedTools({ store: store.worlds, world });
}

// A new simulated world (and its injected failures), to be created with the run that uses it.
export function newWorldSeed(id: string, config: MeshConfig, options: SimulationOptions, faults: readonly FaultSpec[], now: number): WorldSeed {
  return {
    world: { id, settingsJson: JSON.stringify(simulatedWorld(config.clusters, options, id, now)) },
    faults: faultRows(faults),
    faultWorld: id,
  };
}

// Failures to inject into a world that already exists (a verify or uninstall of a dry-run install).
export function faultSeed(world: string, faults: readonly FaultSpec[]): WorldSeed {
  return { world: null, faults: faultRows(faults), faultWorld: world };
}

// A dry run's simulated world as stored (undefined when it is missing).
export function worldSettings(store: Store, world: string): Promise<WorldSettings | undefined> {
  return readWorld(store.worlds, world);
}

// Applies what a resume asks of a world's load balancer (the operator "installed MetalLB").
export async function resimulate(store: Store, world: string, settings: WorldSettings, options: SimulationOptions, now: number): Promise<void> {
  const changed = resimulated(settings, options, now);
  if (changed !== settings) await writeWorld(store.worlds, world, changed);
}

// A cluster joining a simulated mesh: its world gains a context for it (kept if it has one already).
export async function growWorld(store: Store, world: string, settings: WorldSettings, clusters: MeshConfig['clusters']): Promise<void> {
  const grown = withClusters(settings, clusters);
  if (grown !== settings) await writeWorld(store.worlds, world, grown);
}
export { maskPassword, parseStoreLocation } from '../store/location.js';
