// drift: a drift check journaled as a run. It reads the mesh's clusters and records, as observations, each
// drift it found and where it looked, so the mesh's drift history (views/drift-history.ts) can say since when
// a drift is there and what ended it. It changes nothing and claims no cluster.
import type { KindModule } from './kind-module.js';

export const driftKind: KindModule = {
  kind: 'drift',
  mesh: 'acts-on',
  // The cacerts the runs that made the mesh saw are part of what it should look like.
  keepsWhatExisted: true,
  readsOnly: true,
  drift: 'checks',
  needsFinishedMesh: true,
  plan: { after: ['install'] },
  doing: () => 'checking',
  summary: (config) => `drift checked on ${config.clusters.map((c) => c.name).join(', ')} ("mesh-run mesh show ${config.meshID}" says what was found)`,
};
