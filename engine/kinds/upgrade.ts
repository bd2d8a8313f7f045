// upgrade: a canary upgrade to a new revision, control planes first, then the data plane in waves.
import type { KindModule } from './kind-module.js';

export const upgradeKind: KindModule = {
  kind: 'upgrade',
  mesh: 'changes',
  doing: (config) => `upgrading mesh ${config.meshID} to revision ${config.upgrade?.to} on`,
  skippableGate: {
    flag: '--skip-proxy-gate',
    detail: '--skip-proxy-gate: the remaining waves go on without checking that their proxies connect to the new revision',
    skip: (config) => (config.upgrade ? { ...config, upgrade: { ...config.upgrade, skipProxyGate: true } } : config),
  },
  blocking: {
    holds: 'revisions',
    noun: 'upgrade',
    why: 'the mesh is between two revisions',
    way: (id) => `finish it ("mesh-run resume ${id}") or undo it ("mesh-run upgrade rollback ${id}")`,
  },
  // A verified mesh: its sample is a workload to move.
  plan: { after: ['install', 'verify'], needs: { field: 'revision', flag: '--revision <rev>', what: 'the revision upgraded to' } },
  summary(config) {
    const names = config.clusters.map((c) => c.name).join(', ');
    if (!config.upgrade) return `mesh ${config.meshID} upgraded`;
    const { from, to, keepOld, skipProxyGate } = config.upgrade;
    return `mesh ${config.meshID} upgraded: revision ${to} serves ${names}, the default tag points at it, revision ${from} ${keepOld ? 'kept (--keep-old)' : 'removed'}${skipProxyGate ? ' (proxies not checked: --skip-proxy-gate)' : ''}`;
  },
};
