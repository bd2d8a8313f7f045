// repair: what a drift check found put back through install's own steps, only where it drifted, then the
// links checked as verify-links checks them. It acts on the mesh as it is: its membership does not change.
import type { KindModule } from './kind-module.js';

export const repairKind: KindModule = {
  kind: 'repair',
  mesh: 'acts-on',
  needsFinishedMesh: true,
  drift: 'repairs',
  plan: { after: ['install'] },
  doing: () => 'repairing',
  summary(config) {
    const items = config.repair ?? [];
    const what = items.map((r) => `${r.kind}@${r.cluster}${r.source ? ` (${r.source})` : ''}${r.follows ? ` (follows ${r.follows})` : ''}`);
    return `drift repaired: ${what.join(', ') || 'nothing'}; the links checked`;
  },
};
