// upgrade rollback: takes an upgrade back, from what the upgrade observed before each change.
import type { KindModule } from './kind-module.js';

export const upgradeRollbackKind: KindModule = {
  kind: 'upgrade-rollback',
  mesh: 'changes',
  reverses: 'upgrade',
  doing: (config) => `rolling back the upgrade to ${config.upgrade?.to} on`,
  blocking: {
    holds: 'revisions',
    noun: 'rollback',
    why: 'the mesh is between two revisions',
    way: (id) => `finish it first: mesh-run resume ${id}`,
  },
  // An upgrade that kept the old revision, which a rollback needs.
  plan: { after: ['install', 'verify', 'upgrade'], needs: { field: 'revision', flag: '--revision <rev>', what: 'the revision upgraded to' } },
  summary(config) {
    const names = config.clusters.map((c) => c.name).join(', ');
    if (!config.upgrade) return `upgrade rolled back`;
    return `upgrade ${config.upgrade.rollbackOf} rolled back: revision ${config.upgrade.from} serves ${names} again, revision ${config.upgrade.to} removed`;
  },
};
