// What a simulated istioctl command returns, and the simulated clusters it reaches.
import type { CommandResult } from '../cluster-tools.js';
import type { SimCluster } from './sim-cluster.js';
import type { WorldSettings } from './world.js';

export interface IstioctlEnv {
  settings: WorldSettings;
  cluster(context: string): SimCluster | undefined;
}

export const ok = (stdout: string, stderr = ''): CommandResult => ({ exitCode: 0, stdout, stderr });
export const fail = (stderr: string, stdout = ''): CommandResult => ({ exitCode: 1, stdout, stderr: stderr.endsWith('\n') ? stderr : `${stderr}\n` });
