// Renders what a config's mesh is: the derived topology, then one row per cluster and its install steps.
import type { MeshView } from '../../engine/types.js';
import { csv } from './csv.js';
import { table } from './table.js';

export function meshText(view: MeshView): string {
  const rows = view.clusters.map((c) => [
    c.name,
    c.context,
    c.role === 'remote' ? `remote of ${c.controlPlane}` : c.exposesIstiod ? 'primary (serves remotes)' : 'primary',
    c.network,
    c.eastWestGateway ? 'yes' : '-',
    c.secretOn.length > 0 ? c.secretOn.join(',') : '-',
  ]);
  const steps = view.clusters.map((c) => `  ${c.name}: ${c.steps.install.join(', ')}`);
  return [
    `${view.topology}: ${view.summary.split(': ').slice(1).join(': ')}; mesh ${view.meshID}; root of trust: ${view.trust === 'none' ? "istiod's own" : view.trust}`,
    '',
    table(['CLUSTER', 'CONTEXT', 'ROLE', 'NETWORK', 'GATEWAY', 'SECRET ON'], rows),
    '',
    'install steps (after preflight), per cluster:',
    ...steps,
    '',
  ].join('\n');
}

// The clusters table as CSV, with each cluster's install steps in one cell.
export function meshCsv(view: MeshView): string {
  return csv(
    ['cluster', 'context', 'role', 'control_plane', 'network', 'eastwest_gateway', 'exposes_istiod', 'secret_on', 'install_steps'],
    view.clusters.map((c) => [
      c.name,
      c.context,
      c.role,
      c.controlPlane,
      c.network,
      c.eastWestGateway ? 'yes' : 'no',
      c.exposesIstiod ? 'yes' : 'no',
      c.secretOn.join(' '),
      c.steps.install.join(' '),
    ]),
  );
}
