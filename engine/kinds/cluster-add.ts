// cluster add: one cluster joins an installed mesh (the run's config is the mesh it grows into).
import { describeMesh } from '../config/mesh-shape.js';
import type { KindModule } from './kind-module.js';

export const clusterAddKind: KindModule = {
  kind: 'cluster-add',
  mesh: 'joins',
  doing: (config) => `adding ${config.subject} to`,
  plan: { after: ['install'], needs: { field: 'name', flag: '--name <cluster>', what: 'the cluster joining' } },
  summary: (config, after) => `${config.subject} joined mesh ${config.meshID}: ${describeMesh(after)} (${after.clusters.map((c) => c.name).join(', ')})`,
};
