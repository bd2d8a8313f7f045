// The common root of a hand-built mesh, as the pages' "Before you begin" asks for one: a cacerts Secret on
// each primary, made before istiod starts. From the config's trust.caDir when it names one; otherwise a root
// and one intermediate per primary generated in this process's memory and never written anywhere (a person
// would keep them in certs/; this helper has no use for them after the Secrets exist).
import { StepError } from '../../shared/errors.js';
import type { MeshCluster, MeshConfig } from '../../shared/model.js';
import type { CaBundle } from '../activities/trust/ca-files.js';
import { bundleFromFiles, TrustMaterialError } from '../activities/trust/material.js';
import { DEFAULTS } from '../config/config-defaults.js';

// Whether the primaries get cacerts: the config asks for a common root, or several control planes need one.
// A lone primary without trust: signs with istiod's own self-signed root, as the primary-remote page does.
export function wantsCacerts(config: MeshConfig, primaries: readonly MeshCluster[]): boolean {
  return config.trust !== undefined || primaries.length > 1;
}

// The CA bundles for the primaries in `missing` (those without cacerts yet); `all`: every primary.
export async function bundlesFor(config: MeshConfig, all: readonly MeshCluster[], missing: readonly MeshCluster[]): Promise<Map<string, CaBundle>> {
  const bundles = new Map<string, CaBundle>();
  if (missing.length === 0) return bundles;
  const trust = config.trust;
  if (trust?.source === 'files') {
    for (const primary of missing) {
      try {
        bundles.set(primary.name, bundleFromFiles(trust.caDir, primary.name));
      } catch (error) {
        if (error instanceof TrustMaterialError) throw new StepError(error.message, { hint: 'fix the files named, then build again' });
        throw error;
      }
    }
    return bundles;
  }
  // A generated root lives only as long as this call: the primaries that already have cacerts were signed
  // under a root that is gone, and a new one would split the mesh's trust.
  if (missing.length < all.length) {
    const have = all.filter((p) => !missing.includes(p)).map((p) => p.name);
    throw new StepError(
      `cacerts exists on ${have.join(', ')} but not on ${missing.map((p) => p.name).join(', ')}; its root was generated in memory and not kept, so no intermediate can join it`,
      { hint: `delete cacerts from istio-system on ${have.join(', ')} (and restart istiod there) to start over, or set trust.caDir to the CA in use` },
    );
  }
  const options = trust?.source === 'generate' ? trust : DEFAULTS.trust;
  const { generateRoot, generateIntermediate } = await import('../activities/trust/ca.js');
  const root = await generateRoot(options);
  for (const primary of missing) bundles.set(primary.name, await generateIntermediate(root, primary.name, options));
  return bundles;
}
