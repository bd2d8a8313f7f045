// adopt: a mesh mesh-run did not install becomes a mesh of the journal. It founds the mesh, as an install does,
// but everything it found existed before mesh-run: uninstall refuses it without --force.
import { describeMesh } from '../config/mesh-shape.js';
import type { KindModule } from './kind-module.js';

export const adoptKind: KindModule = {
  kind: 'adopt',
  mesh: 'founds',
  adopts: true,
  plan: { after: [] },
  doing: () => 'adopting',
  summary: (config) => `mesh adopted: ${describeMesh(config)} (${config.clusters.map((c) => c.name).join(', ')}); nothing on the clusters changed`,
};
