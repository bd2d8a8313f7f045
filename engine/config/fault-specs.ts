// Parses --inject-failure <step>[@cluster][:count][:transient|permanent] against a config.
import type { FaultSpec } from '../../adapters/simulator/setup.js';
import { clustersOf, isStepId, type RunKind, stepIdsOf, stepInfo } from '../../machines/steps.js';
import { UsageError } from '../../shared/errors.js';
import type { MeshConfig } from '../../shared/model.js';

const SPEC = /^(?<step>[a-z-]+)(?:@(?<cluster>[^:]+))?(?::(?<count>\d+))?(?::(?<kind>transient|permanent))?$/;

export function parseFaultSpec(text: string, config: MeshConfig, runKind: RunKind = 'install'): FaultSpec {
  const groups = SPEC.exec(text)?.groups;
  if (!groups) throw new UsageError(`--inject-failure "${text}": expected <step>[@cluster][:count][:transient|permanent], e.g. install-remote@cluster2:2`);
  const { step = '', cluster, count, kind } = groups;
  const steps = stepIdsOf(runKind);
  if (!isStepId(step) || !steps.includes(step))
    throw new UsageError(`--inject-failure "${text}": ${runKind} has no step "${step}"; its steps are ${steps.join(', ')}`);
  const info = stepInfo(step);
  if (info.optional === 'trust' && !config.trust) throw new UsageError(`--inject-failure "${text}": ${step} runs only when the config has a trust: section`);
  const scope = info.scope;
  if (cluster !== undefined) {
    const clusters = { primary: config.primary.name, remotes: config.remotes.map((r) => r.name) };
    const names = scope === 'all' ? [clusters.primary, ...clusters.remotes] : clustersOf(scope, clusters);
    if (!names.includes(cluster))
      throw new UsageError(`--inject-failure "${text}": step ${step} does not run on cluster "${cluster}"; it runs on ${names.join(', ')}`);
  }
  const n = count === undefined ? 1 : Number(count);
  if (!Number.isInteger(n) || n < 1 || n > 100) throw new UsageError(`--inject-failure "${text}": count must be a whole number from 1 to 100`);
  return { step, ...(cluster !== undefined ? { cluster } : {}), count: n, kind: (kind as FaultSpec['kind'] | undefined) ?? 'permanent' };
}
