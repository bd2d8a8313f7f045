// What a repair leaves for the operator: drift this version does not repair (why, and its repair text), and drift
// --only left out; then, when there was nothing to repair, a closing line.
import type { RepairDecision } from '../../engine/types.js';
import type { painter } from '../output.js';

export function repairLeftText(decision: RepairDecision, paint: ReturnType<typeof painter>): string {
  const lines: string[] = [];
  for (const d of decision.unrepairable)
    lines.push(`${paint('yellow', '!')} ${paint('bold', d.kind)} ${d.cluster}: not repaired by this version: ${d.reason}\n    by hand: ${d.repair}`);
  for (const d of decision.skipped) lines.push(`${paint('yellow', '-')} ${paint('bold', d.kind)} ${d.cluster}: left out by --only (${d.what})`);
  return lines.length > 0 ? `${lines.join('\n')}\n` : '';
}

// The decision as one JSON-able document, when no run is started.
export function repairDocument(decision: RepairDecision) {
  const left = (d: RepairDecision['skipped'][number]) => ({ kind: d.kind, cluster: d.cluster, what: d.what, repair: d.repair });
  return {
    ok: decision.unrepairable.length + decision.skipped.length === 0,
    mesh: decision.mesh,
    repaired: [],
    notRepaired: decision.unrepairable.map((d) => ({ ...left(d), reason: d.reason })),
    leftOut: decision.skipped.map(left),
  };
}
