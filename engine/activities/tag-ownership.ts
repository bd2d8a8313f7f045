// Whose the default revision tag is. istioctl tag set writes MutatingWebhookConfiguration
// istio-revision-tag-default itself (its labels are istioctl's; a hand-run `tag set --overwrite` writes them
// again), so the webhook carries no mark of mesh-run's: the journal decides. Pure.
import type { Observation, RunRecord } from '../../store/contract.js';
import { UPGRADE_SUBJECTS } from './inventory.js';

export const TAG_WEBHOOK = 'istio-revision-tag-default';

type LineageRun = Pick<RunRecord, 'id' | 'kind' | 'targetRun'>;

// The clusters whose default tag a mesh-run upgrade created (its flip-tag saw none there before) and no rollback
// took away. `lineage`: the mesh's membership runs (upgrades and rollbacks among them); `observations`: theirs.
// An upgrade that found a tag moved it but did not make it: the tag is then whoever's it was before, mesh-run's
// only if an earlier standing upgrade made it.
export function tagsMeshRunMade(lineage: readonly LineageRun[], observations: readonly Observation[]): Set<string> {
  const rolledBack = new Set(lineage.filter((r) => r.kind === 'upgrade-rollback' && r.targetRun).map((r) => r.targetRun));
  const standing = new Set(lineage.filter((r) => r.kind === 'upgrade' && !rolledBack.has(r.id)).map((r) => r.id));
  // A run's first observation on a cluster is the one made before it acted.
  const first = new Map<string, Observation>();
  for (const o of observations) {
    const key = `${o.runId}\0${o.cluster}`;
    if (standing.has(o.runId) && o.subject === UPGRADE_SUBJECTS.defaultTag && !first.has(key)) first.set(key, o);
  }
  return new Set([...first.values()].filter((o) => !o.present).map((o) => o.cluster));
}
