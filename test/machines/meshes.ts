// Mesh shapes the machine tests share beyond the page's own (test/support/shapes.ts).
import type { MeshCluster } from '../../machines/types.js';

// Two primaries on two networks, and a remote of east's on west's network (it carries its own gateway).
export const mixed: MeshCluster[] = [
  { name: 'east', context: 'ctx-east', role: 'primary', network: 'n1' },
  { name: 'west', context: 'ctx-west', role: 'primary', network: 'n2' },
  { name: 'edge', context: 'ctx-edge', role: 'remote', network: 'n2', controlPlane: 'east' },
];
