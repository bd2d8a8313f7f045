// How a drift check is journaled, and read back: one observation per drift item (subject drift:<kind>, with
// the member whose secret it is, or the secret's name, when the kind is about a secret), then one per member
// (subject drift-check) saying whether that cluster was read whole and which kinds were clean there. The
// items are written before the cluster records, so a cluster record means its items are all there. The texts
// are the report's own (names, addresses, kinds): never a Secret's data.
import type { MeshConfig } from '../../shared/model.js';
import type { Observation } from '../../store/contract.js';
import { DRIFT_KINDS, type DriftItem, type DriftKind, type DriftResult, type UnreadCluster } from './drift-model.js';
import type { ObservationInput } from './inventory.js';

export const DRIFT_CHECK_SUBJECT = 'drift-check';
const ITEM_PREFIX = 'drift:';

// One cluster as a drift check saw it: read whole ('clean' or 'drift'), or only in part ('incomplete').
export type ClusterCheckOutcome = 'clean' | 'drift' | 'incomplete';

// Which drift of a cluster an item is: its kind, and for a secret's drift whose secret (or which one).
export function driftSubject(item: Pick<DriftItem, 'kind' | 'source' | 'secret'>): string {
  const which = item.source ?? item.secret;
  return `${ITEM_PREFIX}${item.kind}${which ? `:${which}` : ''}`;
}

const ERROR_CHARS = 500;

// What one check found, as the observations it journals: the items first, then a record per member.
export function driftObservations(config: MeshConfig, result: DriftResult): ObservationInput[] {
  const items: ObservationInput[] = result.items.map((item) => ({
    cluster: item.cluster,
    subject: driftSubject(item),
    present: true,
    owner: null,
    detail: {
      kind: item.kind,
      what: item.what,
      why: item.why,
      repair: item.repair,
      ...(item.source ? { source: item.source } : {}),
      ...(item.secret ? { secret: item.secret } : {}),
      ...(item.severity ? { severity: item.severity } : {}),
    },
  }));
  const clusters: ObservationInput[] = config.clusters.map((c) => {
    const unread = result.unreadable.filter((u) => u.cluster === c.name);
    const found = [...new Set(result.items.filter((i) => i.cluster === c.name).map((i) => i.kind))];
    const outcome: ClusterCheckOutcome = unread.length > 0 ? 'incomplete' : found.length > 0 ? 'drift' : 'clean';
    return {
      cluster: c.name,
      subject: DRIFT_CHECK_SUBJECT,
      present: unread.length === 0,
      owner: null,
      detail: {
        outcome,
        context: c.context,
        found: found.join(','),
        // What was looked at and found as the journal has it (a later reader tells "gone" from "not looked at").
        ...(unread.length === 0 ? { clean: DRIFT_KINDS.filter((k) => !found.includes(k)).join(',') } : {}),
        // What could not be read, one key each (unread-1, unread-2 ...), as the report says it.
        ...Object.fromEntries(unread.map((u, i) => [`unread-${i + 1}`, u.error.slice(0, ERROR_CHARS)])),
      },
    };
  });
  return [...items, ...clusters];
}

// One drift check read back from its observations: its items, its clusters, and those it could not read.
export interface RecordedCheck {
  items: DriftItem[];
  clusters: Array<{ cluster: string; outcome: ClusterCheckOutcome; at: number }>;
  unreadable: UnreadCluster[];
}

const isKind = (value: string | undefined): value is DriftKind => (DRIFT_KINDS as readonly string[]).includes(value ?? '');

// The check of one run, from its observations (those of other runs and subjects are ignored).
export function recordedCheck(runId: string, observations: readonly Observation[]): RecordedCheck {
  const check: RecordedCheck = { items: [], clusters: [], unreadable: [] };
  for (const o of observations) {
    if (o.runId !== runId) continue;
    const d = o.detail ?? {};
    if (o.subject === DRIFT_CHECK_SUBJECT) {
      const outcome = (d.outcome ?? (o.present ? 'clean' : 'incomplete')) as ClusterCheckOutcome;
      check.clusters.push({ cluster: o.cluster, outcome, at: o.at });
      for (let i = 1; d[`unread-${i}`] !== undefined; i++)
        check.unreadable.push({ cluster: o.cluster, context: d.context ?? o.cluster, error: d[`unread-${i}`] as string });
    } else if (o.subject.startsWith(ITEM_PREFIX) && isKind(d.kind)) {
      check.items.push({
        kind: d.kind,
        cluster: o.cluster,
        ...(d.source ? { source: d.source } : {}),
        ...(d.secret ? { secret: d.secret } : {}),
        what: d.what ?? '',
        why: d.why ?? '',
        repair: d.repair ?? '',
        ...(d.severity === 'warning' ? { severity: 'warning' as const } : {}),
      });
    }
  }
  return check;
}

// The one line a drift check reports in its run's events (history --actions, status).
export function driftSummary(result: DriftResult): string {
  const where = (i: DriftItem) => `${i.kind}@${i.cluster}${i.source ? ` (${i.source}'s secret)` : i.secret ? ` (${i.secret})` : ''}`;
  const found =
    result.items.length === 0 ? 'no drift' : `${result.items.length} drift${result.items.length === 1 ? '' : 's'}: ${result.items.map(where).join(', ')}`;
  const unread = [...new Set(result.unreadable.map((u) => u.cluster))];
  return unread.length === 0 ? found : `${found}; incomplete: ${unread.join(', ')} could not be read (whole or in part)`;
}
