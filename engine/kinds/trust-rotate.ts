// trust rotate --intermediate: a new intermediate CA from the same root on every primary, one primary at a
// time, each gated on its istiod serving the new chain before the next begins.
import type { KindModule } from './kind-module.js';

export const trustRotateKind: KindModule = {
  kind: 'trust-rotate',
  mesh: 'acts-on',
  // Reads what existed before mesh-run (a user's cacerts is not replaced without --force).
  keepsWhatExisted: true,
  journalsCacerts: true,
  needsFinishedMesh: true,
  doing: () => 'rotating the intermediate CAs of',
  blocking: {
    holds: 'certificates',
    noun: 'trust rotate',
    why: 'its primaries may be between two intermediates, and the new keys it minted wait in the trust directory for it',
    way: (id) => `finish it first: mesh-run resume ${id}`,
  },
  plan: { after: ['install'] },
  summary(config) {
    const primaries = config.clusters.filter((c) => c.role === 'primary').map((c) => c.name);
    return `intermediates rotated: ${primaries.join(', ')} sign with a new intermediate of the same root, each istiod seen serving it${config.trustRotate?.force ? ' (--force: a cacerts that was there before mesh-run replaced)' : ''}`;
  },
};
