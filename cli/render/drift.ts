// A drift check as people read it: a line naming the mesh, then per drift its kind and what/where, why it
// matters, the repair and since when it is there; the clusters that could not be read; a closing line.
import type { DriftReport } from '../../engine/types.js';
import type { painter } from '../output.js';

export function driftText(report: DriftReport, paint: ReturnType<typeof painter>): string {
  const simulated = report.mode === 'dry-run' ? 'simulated ' : '';
  const lines = [`mesh ${report.mesh} (${report.topology}, ${simulated}clusters ${report.clusters.map((c) => c.name).join(', ')}) against the journal:`];
  for (const d of report.drift) {
    const mark = d.severity === 'warning' ? paint('yellow', '!') : paint('red', '✖');
    lines.push(`${mark} ${paint('bold', d.kind)} ${d.cluster}: ${d.what}`);
    lines.push(`    why: ${d.why}`);
    lines.push(`    repair: ${d.repair}`);
    if (d.firstSeen) lines.push(`    since: ${d.firstSeen.at.replace('T', ' ').slice(0, 19)} (first seen by run ${d.firstSeen.runId})`);
  }
  for (const u of report.unreadable) lines.push(`${paint('yellow', '?')} ${u.cluster} (context ${u.context}) could not be read: ${u.error}`);
  const found = report.drift.length;
  if (found > 0) lines.push(`${found} drift${found === 1 ? '' : 's'} found`);
  if (report.unreadable.length > 0) {
    const names = [...new Set(report.unreadable.map((u) => u.cluster))];
    lines.push(`the check is incomplete: ${names.join(', ')} could not be read${found > 0 ? '' : ' (no drift on what was read)'}`);
  } else if (found === 0) lines.push(`${paint('green', '✔')} no drift: the clusters are as the journal has them`);
  return `${lines.join('\n')}\n`;
}
