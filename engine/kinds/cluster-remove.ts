// cluster remove: one cluster leaves an installed mesh (the run's config is the mesh as it stood, naming it).
import { describeMesh } from '../config/mesh-shape.js';
import type { KindModule } from './kind-module.js';

export const clusterRemoveKind: KindModule = {
  kind: 'cluster-remove',
  mesh: 'leaves',
  keepsWhatExisted: true,
  doing: (config) => `removing ${config.subject} from`,
  plan: { after: ['install'], needs: { field: 'name', flag: '--name <cluster>', what: 'the cluster leaving' } },
  summary: (config, after) => `${config.subject} left mesh ${config.meshID}: ${describeMesh(after)} (${after.clusters.map((c) => c.name).join(', ')})`,
};
