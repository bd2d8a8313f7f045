// verify: the verify page on an installed mesh (remotes synced, the helloworld sample, cross-cluster requests).
import type { KindModule } from './kind-module.js';

export const verifyKind: KindModule = {
  kind: 'verify',
  mesh: 'acts-on',
  observesWhatExisted: true,
  needsFinishedMesh: true,
  deploysSamples: true,
  plan: { after: ['install'] },
  doing: () => 'verifying',
  summary(config) {
    const names = config.clusters.map((c) => c.name).join(', ');
    const versions = (config.clusters.length > 1 ? ['v1', 'v2'] : ['v1']).join(' and ');
    return `mesh verified: requests from ${names} reached helloworld ${versions}`;
  },
};
