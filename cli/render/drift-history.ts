// A mesh's drift as mesh show tells it: the latest check, then one row per drift still there (since when,
// by which check) and per drift recently ended (repaired by which run, or gone at which check).
import type { DriftEpisode, DriftHistory } from '../../engine/types.js';
import { table } from './table.js';

const when = (ms: number) => new Date(ms).toISOString().replace('T', ' ').slice(0, 19);

function which(e: DriftEpisode): string {
  const secret = e.source ? ` (${e.source}'s secret)` : e.secret ? ` (${e.secret})` : '';
  return `${e.kind}@${e.cluster}${secret}`;
}

function row(e: DriftEpisode): string[] {
  // A drift only a repair's own check saw was never seen by a journaled check: the repair is its first sight.
  const since = `${when(e.firstSeen.at)} (${e.firstSeen.runId})`;
  if (!e.ended) return [which(e), 'open', since, `still seen by ${e.lastSeen.runId} (${e.checks} check${e.checks === 1 ? '' : 's'})`];
  const end = e.ended.how === 'repaired' ? `repaired by ${e.ended.runId}` : `gone: ${e.ended.runId} no longer saw it`;
  return [which(e), e.ended.how, since, `${end} at ${when(e.ended.at)}`];
}

// `mesh`: how to name it in the hint.
export function driftHistoryText(history: DriftHistory, mesh: string): string {
  const last = history.lastCheck;
  if (!last && history.ended.length === 0) return `drift     never checked ("mesh-run drift --mesh ${mesh}" checks it and journals what it finds)`;
  const checked = last
    ? `last checked by ${last.runId} at ${when(last.at)}${last.complete ? '' : ' (incomplete: a cluster could not be read)'}`
    : 'no drift check journaled';
  const head = `drift     ${checked}; ${history.open.length === 0 ? 'nothing drifted' : `${history.open.length} still drifted`}`;
  const rows = [...history.open, ...history.ended].map(row);
  return rows.length === 0 ? head : `${head}\n\n${table(['DRIFT', 'STATE', 'FIRST SEEN', 'SINCE THEN'], rows)}`;
}
