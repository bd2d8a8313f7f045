// What a real uninstall is about to delete, per cluster, for the operator to confirm before anything runs.

import { clustersOfStep, WORKFLOW_STEPS } from '../../machines/steps.js';
import type { MeshConfig } from '../../shared/model.js';
import { shapeOf } from '../config/mesh-shape.js';
import { KINDS } from '../kinds/registry.js';

// A cluster remove (the config names the cluster leaving) lists that cluster's steps only.
export function removalSummary(config: MeshConfig, force: boolean, kind: 'uninstall' | 'cluster-remove' = 'uninstall'): string[] {
  const shape = shapeOf(config);
  const whole = KINDS[kind].removesMesh === true;
  const clusters = whole ? config.clusters : config.clusters.filter((c) => c.name === config.subject);
  const lines = [
    whole
      ? `uninstall removes mesh ${config.meshID} from ${config.clusters.length} real clusters:`
      : `cluster remove takes ${config.subject} out of mesh ${config.meshID}:`,
  ];
  for (const cluster of clusters) {
    const steps = WORKFLOW_STEPS[kind].filter((info) => clustersOfStep(info, shape).includes(cluster.name));
    lines.push(`  ${cluster.name} (context ${cluster.context}, ${cluster.role}):`);
    for (const info of steps) lines.push(`    - ${info.title}`);
  }
  lines.push(
    force
      ? '--force: what existed before mesh-run installed (istio-system, cacerts, a sample namespace, labels) is deleted too.'
      : 'What existed before mesh-run installed (istio-system, cacerts, a sample namespace, labels) is kept.',
  );
  return lines;
}
