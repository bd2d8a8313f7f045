// Mesh shapes for tests: the Istio page's own (one primary, its remotes, one network) and others.
import type { MeshCluster, MeshShape } from '../../machines/topology.js';

// Contexts are named after their clusters, as the simulated worlds of the examples do.
export function primaryRemote(primary = 'cluster1', remotes: readonly string[] = ['cluster2'], network = 'network1'): MeshShape {
  return {
    members: [
      { name: primary, context: primary, role: 'primary', network },
      ...remotes.map((name): MeshCluster => ({ name, context: name, role: 'remote', network, controlPlane: primary })),
    ],
  };
}
