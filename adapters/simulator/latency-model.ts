// How long simulated commands take, after real installs: istioctl install of a control plane is on the order
// of a minute, the remote profile and the gateway tens of seconds, kubectl calls a fraction of a second,
// a cloud load balancer's address tens of seconds (see docs/benchmarks.md for the figures and sources).
// Durations carry a deterministic jitter and are multiplied by a time scale, so a realistic install
// can be benchmarked in seconds.
import { createHash } from 'node:crypto';
import type { Command } from '../cluster-tools.js';

export interface LatencyModel {
  timeScale: number;
  // Relative jitter, e.g. 0.15 for ±15 %.
  jitter: number;
  seed: string;
}

// Mean durations (ms, before scaling) per kind of command.
export const MEAN_MS = {
  istioctlInstallDefault: 60_000,
  istioctlInstallGateway: 25_000,
  istioctlInstallRemote: 20_000,
  createRemoteSecret: 2_000,
  istioctlVersion: 150,
  kubectlRolloutStatus: 500,
  kubectlApply: 600,
  kubectlWrite: 300,
  kubectlRead: 200,
  kubectlConfig: 50,
  loadBalancerAddress: 20_000,
} as const;

export function meanDuration(command: Command): number {
  const verb = command.args.find((a) => !a.startsWith('-')) ?? '';
  if (command.tool === 'istioctl') {
    if (verb === 'install') {
      const stdin = command.stdin ?? '';
      if (/^\s*profile: remote$/m.test(stdin)) return MEAN_MS.istioctlInstallRemote;
      if (/^\s*profile: empty$/m.test(stdin)) return MEAN_MS.istioctlInstallGateway;
      return MEAN_MS.istioctlInstallDefault;
    }
    if (verb === 'create-remote-secret') return MEAN_MS.createRemoteSecret;
    return MEAN_MS.istioctlVersion;
  }
  switch (verb) {
    case 'rollout':
      return MEAN_MS.kubectlRolloutStatus;
    case 'apply':
      return MEAN_MS.kubectlApply;
    case 'create':
    case 'annotate':
      return MEAN_MS.kubectlWrite;
    case 'config':
      return MEAN_MS.kubectlConfig;
    default:
      return MEAN_MS.kubectlRead;
  }
}

// The modelled duration of one command, scaled; the same command in the same world always takes as long.
export function modelledDuration(command: Command, model: LatencyModel): number {
  const digest = createHash('sha256')
    .update(`${model.seed}\0${command.context}\0${command.args.join('\0')}\0${command.stdin?.length ?? 0}`)
    .digest();
  const unit = digest.readUInt32BE(0) / 0xffffffff;
  const factor = 1 + model.jitter * (unit * 2 - 1);
  return meanDuration(command) * factor * model.timeScale;
}
