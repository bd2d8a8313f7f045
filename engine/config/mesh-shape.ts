// A config's mesh as the machines and the step table see it: members with roles and networks.
import { describeShape, type MeshCluster, type MeshShape, topologyName } from '../../machines/topology.js';
import type { MeshConfig } from '../../shared/model.js';

export function membersOf(config: Pick<MeshConfig, 'clusters'>): MeshCluster[] {
  return config.clusters.map((c) => ({
    name: c.name,
    context: c.context,
    role: c.role,
    network: c.network,
    ...(c.controlPlane ? { controlPlane: c.controlPlane } : {}),
  }));
}

export function shapeOf(config: Pick<MeshConfig, 'clusters' | 'trust' | 'subject' | 'upgrade' | 'repair'>): MeshShape {
  return {
    members: membersOf(config),
    trust: Boolean(config.trust),
    ...(config.subject ? { subject: config.subject } : {}),
    ...(config.upgrade?.keepOld ? { keepOld: true } : {}),
    ...(config.repair ? { repairs: config.repair.map((r) => ({ action: r.action, cluster: r.cluster })) } : {}),
  };
}

// "multi-primary multi-network: 2 primaries, 0 remotes, 2 networks".
export function describeMesh(config: Pick<MeshConfig, 'clusters' | 'trust'>): string {
  const shape = shapeOf(config);
  return `${topologyName(shape)}: ${describeShape(shape)}`;
}

// The name a run records for its mesh: primary-remote, multi-primary multi-network, mixed...
export function meshTopology(config: Pick<MeshConfig, 'clusters' | 'trust'>): string {
  return topologyName(shapeOf(config));
}
