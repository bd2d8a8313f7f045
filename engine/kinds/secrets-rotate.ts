// secrets rotate: new reader tokens in every remote secret, istiod seen synced with them, the old ones revoked.
import type { KindModule } from './kind-module.js';

export const secretsRotateKind: KindModule = {
  kind: 'secrets-rotate',
  mesh: 'acts-on',
  keepsWhatExisted: true,
  doing: () => 'rotating secrets on',
  skippableGate: {
    flag: '--skip-sync-gate',
    detail: '--skip-sync-gate: old tokens are revoked without istiod reporting the clusters synced with the new ones',
    skip: (config) => ({ ...config, skipSyncGate: true }),
  },
  blocking: {
    holds: 'tokens',
    noun: 'secrets rotate',
    why: 'its old tokens may still be valid, and only it knows which',
    way: (id, step) => `finish it first: mesh-run resume ${id}${step === 'await-synced' ? ' (add --skip-sync-gate where no istiod can be asked)' : ''}`,
  },
  plan: { after: ['install'] },
  summary(config) {
    const rotated = config.subject
      ? [config.subject]
      : config.clusters.filter((c) => config.clusters.some((p) => p.role === 'primary' && p.name !== c.name)).map((c) => c.name);
    return `secrets rotated: new tokens for ${rotated.join(', ')} in use on every primary holding them, the old ones revoked${config.skipSyncGate ? ' (istiod sync not checked: --skip-sync-gate)' : ''}`;
  },
};
