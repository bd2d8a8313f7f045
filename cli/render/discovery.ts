// A discovered mesh as people read it: one row per cluster, then every finding with its hint ("mesh discover"
// and "mesh adopt" show it alike).
import type { DiscoveryReport } from '../../engine/types.js';
import type { painter } from '../output.js';
import { table } from './table.js';

// `described`: the last line when nothing blocks (absent: none).
type Source = NonNullable<DiscoveryReport['clusters'][number]['source']>;

// mesh-run, istioctl:<IstioOperator>, helm:<namespace>/<release>, manifests.
function sourceLabel(source: Source | undefined): string {
  if (!source) return '';
  if (source.kind === 'istioctl') return `istioctl:${source.name ?? ''}`;
  if (source.kind === 'helm') return `helm:${source.namespace ? `${source.namespace}/` : ''}${source.name ?? ''}`;
  return source.kind;
}

export function discoveryText(report: DiscoveryReport & { target: string }, paint: ReturnType<typeof painter>, described?: string): string {
  const rows = report.clusters.map((c) => [
    c.name,
    c.context,
    c.role,
    c.controlPlane ?? '',
    c.network ?? '',
    c.meshID ?? '',
    c.revision ?? '',
    sourceLabel(c.source),
    c.eastWestGateway ? (c.eastWestGateway.address ?? 'pending') : '',
    c.remoteSecrets.flatMap((s) => s.clusters).join(',') || '',
    c.cacerts ? 'yes' : 'no',
  ]);
  const lines = [
    `${report.target}: ${report.topology ?? 'no mesh found'}`,
    table(['CLUSTER', 'CONTEXT', 'ROLE', 'CONTROL PLANE', 'NETWORK', 'MESH ID', 'REVISION', 'SOURCE', 'EAST-WEST', 'SECRETS FOR', 'CACERTS'], rows),
  ];
  for (const f of report.findings) lines.push(`${f.level === 'blocking' ? paint('red', '✖') : paint('yellow', '!')} ${f.message}\n    hint: ${f.hint}`);
  const blocking = report.findings.filter((f) => f.level === 'blocking').length;
  if (blocking > 0) lines.push(`${blocking} blocking finding${blocking === 1 ? '' : 's'}: the mesh cannot be described as it is`);
  else if (described) lines.push(`${paint('green', '✔')} ${described}`);
  return `${lines.join('\n')}\n`;
}
