// verify-links: verify's first checks alone, on an installed mesh (each watching istiod sees the others synced,
// each remote's injector has a CA). It deploys no sample, so it is safe on production clusters.
import { clustersOfStep, stepInfo } from '../../machines/steps.js';
import { membersOf } from '../config/mesh-shape.js';
import type { KindModule } from './kind-module.js';

export const verifyLinksKind: KindModule = {
  kind: 'verify-links',
  mesh: 'acts-on',
  needsFinishedMesh: true,
  plan: { after: ['install'] },
  doing: () => 'verifying the links of',
  summary(config) {
    const shape = { members: membersOf(config) };
    // The clusters the run checked, as its step table places the checks.
    const on = (step: 'check-remote-clusters' | 'check-injector-ca') => clustersOfStep(stepInfo(step), shape).join(', ');
    const seers = on('check-remote-clusters');
    const injectors = on('check-injector-ca');
    const found = [...(seers ? [`istiod on ${seers} sees every other cluster synced`] : []), ...(injectors ? [`the injectors of ${injectors} have a CA`] : [])];
    return `mesh links verified: ${found.length > 0 ? found.join('; ') : 'a lone cluster, with nothing to link'}`;
  },
};
