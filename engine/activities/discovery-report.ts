// What discovery reports: each cluster's role and facts, the findings, and the config that describes the mesh.
import type { MeshCluster } from '../../shared/model.js';
import type { InstallSource } from './mesh-discovery.js';

export interface DiscoveryFinding {
  level: 'blocking' | 'warning';
  cluster?: string;
  message: string;
  hint: string;
}

export interface DiscoveredCluster {
  name: string;
  context: string;
  role: 'primary' | 'remote' | 'none' | 'unreadable';
  network?: string;
  controlPlane?: string;
  meshID?: string;
  revision?: string;
  eastWestGateway?: { address?: string };
  remoteSecrets: Array<{ name: string; clusters: string[]; server: string }>;
  cacerts: boolean;
  revisionTags: string[];
  // How its Istio was installed (istioctl, helm, mesh-run, manifests).
  source?: InstallSource;
  // A primary: the SHA-256 fingerprint of the root it signs with.
  root?: string;
  // A remote: where it reaches its control plane (global.remotePilotAddress as installed).
  controlPlaneAddresses?: string[];
  // The API server the primaries' remote secrets dial it at, where that is not its kube context's.
  apiServer?: string;
}

// The config file a discovered mesh is described by: the shape "mesh-run config check" reads.
export interface DiscoveredConfig {
  meshID?: string;
  revision?: string;
  // Every primary has cacerts, or all share one root: the CA files behind it are the operator's (mesh-run
  // never reads the keys).
  trust?: { caDir: string };
  clusters: Array<Pick<MeshCluster, 'name' | 'context' | 'role' | 'network' | 'controlPlane' | 'apiServer'>>;
}

export interface DiscoveryReport {
  topology?: string;
  clusters: DiscoveredCluster[];
  findings: DiscoveryFinding[];
  config: DiscoveredConfig;
}
