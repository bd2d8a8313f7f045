// A cluster joining an installed mesh (mesh-run cluster add): checked as a config's clusters are, each problem
// worded with the flag to change.
import { ConfigError } from '../../shared/errors.js';
import type { MeshCluster, MeshConfig } from '../../shared/model.js';
import { readMeshClusters } from './cluster-topology.js';
import { Problems } from './field-problems.js';

// A cluster joining an installed mesh, as the cluster add flags give it.
export interface JoiningCluster {
  name: string;
  context: string;
  role: 'primary' | 'remote';
  network?: string;
  controlPlane?: string;
  apiServer?: string;
}

const JOIN_FLAGS: Record<string, string> = {
  name: '--name',
  context: '--context',
  role: '--role',
  network: '--network',
  controlPlane: '--control-plane',
  apiServer: '--api-server',
};

// The mesh with `joining` added, checked as a config file's clusters are (unique names and contexts, a
// remote's control plane a primary, labels); each problem names the flag to change. Exit 2 on any.
export function withClusterAdded(config: MeshConfig, joining: JoiningCluster): MeshConfig {
  if (joining.role === 'primary' && !config.trust) {
    throw new ConfigError([
      `--role primary: mesh ${config.meshID} has no trust: section in the journal, and several primaries need one root of trust; a mesh gets one by installing it with trust:, or (adopted) by adopting it with -c naming trust: {caDir: <the CA files behind its cacerts>}; or join ${joining.name} as a remote`,
    ]);
  }
  const primaries = config.clusters.filter((c) => c.role === 'primary');
  const plane = config.clusters.find((c) => c.name === (joining.controlPlane ?? (primaries.length === 1 ? primaries[0]?.name : undefined)));
  const network = plane?.network ?? (primaries[0] as MeshCluster).network;
  const index = config.clusters.length;
  const problems = new Problems('');
  const entry: Record<string, unknown> = { name: joining.name, context: joining.context, role: joining.role };
  if (joining.network !== undefined) entry.network = joining.network;
  if (joining.controlPlane !== undefined) entry.controlPlane = joining.controlPlane;
  if (joining.apiServer !== undefined) entry.apiServer = joining.apiServer;
  const clusters = readMeshClusters({ clusters: [...config.clusters.map((c) => ({ ...c })), entry] }, network, problems);
  if (problems.list.length > 0) {
    const prefix = `clusters[${index}].`;
    throw new ConfigError(
      problems.list.map((p) => {
        const field = Object.keys(JOIN_FLAGS).find((f) => p.startsWith(`${prefix}${f}:`));
        const text = field ? `${JOIN_FLAGS[field]}:${p.slice(prefix.length + field.length + 1)}` : p;
        // "already used by clusters[1].name": the mesh's own cluster, by name.
        return text.replace(/clusters\[(\d+)\]\.(name|context)/g, (_, i: string) => `cluster ${config.clusters[Number(i)]?.name ?? i}`);
      }),
    );
  }
  return { ...config, clusters };
}
