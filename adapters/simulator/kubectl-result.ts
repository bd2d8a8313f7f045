// What a simulated kubectl command returns, in kubectl's words.
import type { CommandResult } from '../cluster-tools.js';
import { pluralOf, type ResourceType } from './objects.js';
import type { SimCluster } from './sim-cluster.js';
import type { WorldSettings } from './world.js';

export interface KubectlEnv {
  settings: WorldSettings;
  cluster(context: string): SimCluster | undefined;
}

export const ok = (stdout: string): CommandResult => ({ exitCode: 0, stdout, stderr: '' });
export const fail = (stderr: string): CommandResult => ({ exitCode: 1, stdout: '', stderr: stderr.endsWith('\n') ? stderr : `${stderr}\n` });

export function notFound(type: ResourceType, name: string): string {
  return `Error from server (NotFound): ${pluralOf(type)} "${name}" not found`;
}
