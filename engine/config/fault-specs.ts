// Parses --inject-failure <step>[@cluster][:count][:transient|permanent] against a config.
import type { FaultSpec } from '../../adapters/simulator/setup.js';
import { clustersOfStep, isStepId, type RunKind, stepIdsOf, stepInfo, WORKFLOW_STEPS, waveLabel, waveNumber } from '../../machines/steps.js';
import { UsageError } from '../../shared/errors.js';
import type { MeshConfig } from '../../shared/model.js';
import { shapeOf } from './mesh-shape.js';

const SPEC = /^(?<step>[a-z-]+)(?:@(?<cluster>[^:]+))?(?::(?<count>\d+))?(?::(?<kind>transient|permanent))?$/;

export function parseFaultSpec(text: string, config: MeshConfig, runKind: RunKind = 'install'): FaultSpec {
  const groups = SPEC.exec(text)?.groups;
  if (!groups) throw new UsageError(`--inject-failure "${text}": expected <step>[@cluster][:count][:transient|permanent], e.g. install-remote@cluster2:2`);
  const { step = '', cluster, count, kind } = groups;
  const steps = stepIdsOf(runKind);
  if (!isStepId(step) || !steps.includes(step))
    throw new UsageError(`--inject-failure "${text}": ${runKind} has no step "${step}"; its steps are ${steps.join(', ')}`);
  const info = WORKFLOW_STEPS[runKind].find((s) => s.id === step) ?? stepInfo(step);
  const shape = shapeOf(config);
  const runsOn = clustersOfStep(info, shape);
  if (info.scope === 'wave') {
    if (cluster !== undefined && waveNumber(cluster) === undefined)
      throw new UsageError(`--inject-failure "${text}": ${step} runs once per wave; name one as ${step}@wave-<n>, e.g. ${step}@wave-2`);
  } else if (runsOn.length === 0) {
    const why = step === 'establish-trust' ? 'the config has a trust: section' : `the mesh needs it (${info.appearsIn ?? 'not this topology'})`;
    throw new UsageError(`--inject-failure "${text}": ${step} runs only when ${why}`);
  }
  if (cluster !== undefined && info.scope !== 'wave') {
    const names = info.scope === 'all' ? config.clusters.map((c) => c.name) : runsOn;
    if (!names.includes(cluster))
      throw new UsageError(`--inject-failure "${text}": step ${step} does not run on cluster "${cluster}"; it runs on ${names.join(', ')}`);
  }
  const n = count === undefined ? 1 : Number(count);
  if (!Number.isInteger(n) || n < 1 || n > 100) throw new UsageError(`--inject-failure "${text}": count must be a whole number from 1 to 100`);
  return { step, ...(cluster !== undefined ? { cluster } : {}), count: n, kind: (kind as FaultSpec['kind'] | undefined) ?? 'permanent' };
}

// Every form --inject-failure accepts for a run of this kind on this mesh (count and kind left off): each step
// that runs there, and step@cluster for each cluster it runs on; a wave step with its first wave, as the
// form to copy.
export function faultSpecForms(config: MeshConfig, runKind: RunKind): string[] {
  const shape = shapeOf(config);
  return WORKFLOW_STEPS[runKind].flatMap((info) => {
    if (info.scope === 'wave') return [info.id, `${info.id}@${waveLabel(1)}`];
    const on = clustersOfStep(info, shape);
    if (on.length === 0) return [];
    return info.scope === 'all' ? [info.id] : [info.id, ...on.map((cluster) => `${info.id}@${cluster}`)];
  });
}
