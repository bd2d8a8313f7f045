// install: the multicluster install page, for any topology the config describes. It founds a mesh.
import { describeMesh } from '../config/mesh-shape.js';
import type { KindModule } from './kind-module.js';

export const installKind: KindModule = {
  kind: 'install',
  mesh: 'founds',
  plan: { after: [] },
  doing: () => 'installing on',
  summary(config) {
    const names = config.clusters.map((c) => c.name).join(', ');
    const remotes = config.clusters.filter((c) => c.role === 'remote');
    const primaries = config.clusters.filter((c) => c.role === 'primary');
    // The page's own words for its topology; a fleet is summed up.
    if (primaries.length === 1 && remotes.length > 0 && remotes.every((r) => r.network === primaries[0]?.network))
      return `mesh installed: ${remotes.map((r) => r.name).join(', ')} attached to ${primaries[0]?.name}`;
    return `mesh installed: ${describeMesh(config)} (${names})`;
  },
};
