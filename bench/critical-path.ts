// The makespan's lower bound: the longest chain of truly dependent steps of an install's plan.
import type { Command } from '../adapters/cluster-tools.js';
import { MEAN_MS, modelledDuration } from '../adapters/simulator/setup.js';
import type { PlannedCommand } from '../engine/plan.js';
import type { StepId } from '../machines/steps.js';
import { primariesOf, remotesOf } from '../machines/topology.js';
import type { MeshCluster, MeshConfig } from '../shared/model.js';
import { TIME_SCALE } from './harness.js';

// The longest chain of truly dependent steps, from the same latency model the simulator uses.
export function criticalPath(plan: PlannedCommand[], config: MeshConfig, seed: string): number {
  const model = { timeScale: TIME_SCALE, jitter: 0.15, seed };
  const cost = (c: Command) => modelledDuration(c, model);
  const slot = (step: StepId, cluster: string) => plan.filter((p) => p.step === step && p.cluster === cluster);
  const d = (step: StepId, cluster: string) => {
    const commands = slot(step, cluster);
    // preflight asks every context for its version at once; everything else runs one command after another.
    const together = commands.filter(
      (p) => step === 'preflight' && p.command.args.includes('version') && p.command.args.some((a) => a.startsWith('--context=')),
    );
    const inSequence = commands.filter((p) => !together.includes(p));
    return inSequence.reduce((t, p) => t + cost(p.command), 0) + Math.max(0, ...together.map((p) => cost(p.command)));
  };
  const primary = (primariesOf({ members: config.clusters })[0] as MeshCluster).name;
  const pre = d('preflight', '*');
  const p1 = pre + d('install-primary', primary);
  const ewInstall = slot('install-eastwest-gateway', primary)[0] as PlannedCommand;
  const p2 = p1 + d('install-eastwest-gateway', primary);
  const lbReady = p1 + cost(ewInstall.command) + MEAN_MS.loadBalancerAddress * TIME_SCALE;
  const p3 = Math.max(p2, lbReady) + d('await-gateway-address', primary);
  let end = p3 + d('expose-istiod', primary);
  for (const r of remotesOf({ members: config.clusters })) {
    const annotated = pre + d('create-remote-namespace', r.name) + d('annotate-remote-namespace', r.name);
    end = Math.max(end, Math.max(p3, annotated) + d('install-remote', r.name) + d('attach-remote', r.name));
  }
  return end;
}
