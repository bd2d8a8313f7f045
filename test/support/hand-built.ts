// A mesh built by hand on simulated clusters, in a database of a test's own: Istio's pages' commands issued
// straight on a new world (engine/hand-built-mesh.ts), with no mesh-run run anywhere. What adoption meets.
import { randomBytes } from 'node:crypto';
import { createSimulatedTools } from '../../adapters/simulator/simulated-tools.js';
import { newWorldSeed, openStore } from '../../engine/composition.js';
import { loadConfig } from '../../engine/config/mesh-config.js';
import { buildMeshByHand } from '../../engine/hand-built-mesh.js';
import { parseStoreLocation } from '../../store/location.js';

// The world's id: the simulated clusters of `configFile`'s mesh, built by hand in `db`.
export async function handBuiltWorld(db: string, configFile: string, options: { bare?: boolean } = {}): Promise<string> {
  const { config } = loadConfig(configFile, {});
  const world = `hand-${randomBytes(4).toString('hex')}`;
  const store = await openStore(parseStoreLocation(db, 'test'), 'create');
  try {
    const seed = newWorldSeed(world, config, { loadBalancerDelayMs: 0 }, [], Date.now());
    if (!seed.world) throw new Error('a new world without settings');
    await store.worlds.putWorld(world, seed.world.settingsJson);
    if (!options.bare) await buildMeshByHand(config, createSimulatedTools({ store: store.worlds, world }));
    return world;
  } finally {
    await store.close();
  }
}
