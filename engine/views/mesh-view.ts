// What a config's mesh is and what each cluster will do in it, before anything runs: the topology mesh-run
// derived, each cluster's role, network and install steps, and where each cluster's remote secret goes.
import { type RunKind, stepSlots } from '../../machines/steps.js';
import { exposesIstiod, needsGateway, secretHoldersOf, topologyName } from '../../machines/topology.js';
import type { MeshConfig } from '../../shared/model.js';
import { describeMesh, shapeOf } from '../config/mesh-shape.js';

export interface ClusterView {
  name: string;
  context: string;
  role: 'primary' | 'remote';
  network: string;
  controlPlane: string | null;
  eastWestGateway: boolean;
  exposesIstiod: boolean;
  // The primaries that will hold this cluster's remote secret (their istiod reads this cluster).
  secretOn: string[];
  steps: Record<'install' | 'verify' | 'uninstall', string[]>;
}

export interface MeshView {
  topology: string;
  summary: string;
  meshID: string;
  trust: 'none' | 'files' | 'generated';
  clusters: ClusterView[];
}

export function meshView(config: MeshConfig): MeshView {
  const shape = shapeOf(config);
  // Each kind's slots once, by cluster (asking them per cluster made a 1024-remote check take 46 s).
  const byCluster = (kind: RunKind) => {
    const steps = new Map<string, string[]>();
    for (const s of stepSlots(kind, shape)) {
      const list = steps.get(s.cluster);
      if (list) list.push(s.step);
      else steps.set(s.cluster, [s.step]);
    }
    return (cluster: string) => steps.get(cluster) ?? [];
  };
  const install = byCluster('install');
  const verify = byCluster('verify');
  const uninstall = byCluster('uninstall');
  return {
    topology: topologyName(shape),
    summary: describeMesh(config),
    meshID: config.meshID,
    trust: !config.trust ? 'none' : config.trust.source === 'files' ? 'files' : 'generated',
    clusters: config.clusters.map((c) => ({
      name: c.name,
      context: c.context,
      role: c.role,
      network: c.network,
      controlPlane: c.role === 'remote' ? (c.controlPlane ?? null) : null,
      eastWestGateway: needsGateway(shape, c.name),
      exposesIstiod: exposesIstiod(shape, c.name),
      secretOn: secretHoldersOf(shape, c.name).map((p) => p.name),
      steps: { install: [...install(c.name)], verify: [...verify(c.name)], uninstall: [...uninstall(c.name)] },
    })),
  };
}
