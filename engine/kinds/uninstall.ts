// uninstall: the cleanup section, remotes first; keeps what existed before mesh-run installed.
import type { KindModule } from './kind-module.js';

export const uninstallKind: KindModule = {
  kind: 'uninstall',
  mesh: 'acts-on',
  removesMesh: true,
  keepsWhatExisted: true,
  plan: { after: ['install', 'verify'] },
  doing: () => 'removing the mesh on',
  summary: (config) => `mesh removed: no Istio left on ${config.clusters.map((c) => c.name).join(', ')}`,
};
