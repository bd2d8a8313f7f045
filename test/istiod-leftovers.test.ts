// What uninstall removes from an istio-system it keeps, judged by what an install's preflight recorded, at the
// level of the steps on simulated clusters: istiod's ConfigMaps are removed when mesh-run's istiod wrote them, also
// when the install that recorded them was a re-run that found them already there.
import { describe, expect, it } from 'vitest';
import { preflight } from '../engine/activities/install.js';
import { Inventory } from '../engine/activities/inventory.js';
import { MESH_RUN_OWNER, unpruned } from '../engine/activities/mesh-inventory.js';
import type { StepRuntime } from '../engine/activities/step-runtime.js';
import { uninstallPrimary } from '../engine/activities/uninstall.js';
import { loadConfig } from '../engine/config/mesh-config.js';
import type { StepId } from '../machines/steps.js';
import type { Observation } from '../store/contract.js';
import { type SimHarness, simHarness } from './support/sim.js';

const config = loadConfig(undefined, {}).config;

function runtime(sim: SimHarness, step: StepId, observations: Observation[]): StepRuntime {
  const signal = new AbortController().signal;
  return {
    signal,
    now: Date.now,
    note: () => {},
    observe: async (o) => {
      observations.push({ ...o, runId: 'mr-test', at: Date.now() });
    },
    report: async () => {},
    run: (command) => sim.tools.run(command, { signal, timeoutMs: 10_000, step, cluster: 'cluster1' }),
    pipe: () => Promise.reject(new Error('no pipes here')),
    presentToken: () => Promise.reject(new Error('no tokens here')),
  };
}

async function recordedInventory(sim: SimHarness): Promise<Observation[]> {
  const observations: Observation[] = [];
  const clusters = config.clusters.map((c) => ({ name: c.name, context: c.context }));
  await preflight(
    runtime(sim, 'preflight', observations),
    { runId: 'mr-test', step: 'preflight', cluster: '*', context: '', clusters, recordInventory: true },
    { config },
  );
  return observations;
}

async function configMaps(sim: SimHarness): Promise<string[]> {
  return (await sim.objects('cluster1'))
    .filter((o) => o.kind === 'ConfigMap' && o.namespace === 'istio-system')
    .map((o) => o.name)
    .sort();
}

const PRIMARY = 'apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nmetadata: {name: mesh-run-primary}\nspec: {profile: default}\n';
const USER_MAP = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'team-settings', namespace: 'istio-system' }, data: { a: 'b' } });

describe("istiod's ConfigMaps in a kept istio-system", () => {
  it('an install re-run that finds them where mesh-run runs Istio records them as mesh-run’s: uninstall removes them, keeps the rest', async () => {
    const sim = await simHarness();
    try {
      expect((await sim.run('kubectl', ['--context=cluster1', 'create', 'namespace', 'istio-system'])).exitCode).toBe(0);
      expect((await sim.run('kubectl', ['--context=cluster1', 'create', '-f', '-'], USER_MAP)).exitCode).toBe(0);
      const first = await recordedInventory(sim);
      expect((await sim.run('istioctl', ['install', '--context=cluster1', '-y', '-f', '-'], PRIMARY)).exitCode).toBe(0);
      expect(await configMaps(sim)).toEqual(['istio-ca-root-cert', 'istio-leader', 'istio-namespace-controller-election', 'team-settings']);
      // The same install run again: its preflight finds istiod's ConfigMaps, written by mesh-run's own istiod.
      const rerun = await recordedInventory(sim);
      const seen = rerun.find((o) => o.cluster === 'cluster1' && o.subject === 'configmaps/istio-system/istiod');
      expect(seen).toMatchObject({ present: true, owner: 'mesh-run' });
      expect(first.find((o) => o.cluster === 'cluster1' && o.subject === 'configmaps/istio-system/istiod')).toMatchObject({ present: false });

      const input = {
        runId: 'mr-uninstall',
        step: 'uninstall-primary' as const,
        cluster: 'cluster1',
        context: 'cluster1',
        role: 'primary' as const,
        watches: [],
        holders: [],
        sampleVersion: 'v1' as const,
        versions: ['v1' as const, 'v2' as const],
      };
      await uninstallPrimary(runtime(sim, 'uninstall-primary', []), input, { config, inventory: new Inventory(rerun) });
      expect(await configMaps(sim)).toEqual(['team-settings']);
      expect((await sim.objects('cluster1')).some((o) => o.kind === 'Namespace' && o.name === 'istio-system')).toBe(true);
    } finally {
      await sim.close();
    }
  });

  it('counts only the orphan EndpointSlice the chart rendered, not one the EndpointSlice controller keeps for a Service', async () => {
    const sim = await simHarness();
    try {
      const slice = (name: string, owned: boolean) =>
        JSON.stringify({
          apiVersion: 'discovery.k8s.io/v1',
          kind: 'EndpointSlice',
          metadata: {
            name,
            namespace: 'istio-system',
            labels: { 'install.operator.istio.io/owning-resource': 'mesh-run-remote', 'istio.io/rev': 'default' },
            ...(owned ? { ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name: 'istiod-revision-tag-default', uid: 'u1', controller: true }] } : {}),
          },
          addressType: 'IPv4',
          endpoints: [],
        });
      expect((await sim.run('kubectl', ['--context=cluster1', 'create', 'namespace', 'istio-system'])).exitCode).toBe(0);
      for (const [name, owned] of [
        ['istiod', false],
        ['istiod-revision-tag-default-x6mdl', true],
      ] as const)
        expect((await sim.run('kubectl', ['--context=cluster1', 'create', '-f', '-'], slice(name, owned))).exitCode).toBe(0);
      const found = await unpruned(runtime(sim, 'uninstall-remote', []), 'cluster1', 'observe', { owns: (o) => MESH_RUN_OWNER.test(o) });
      expect(found).toEqual(['endpointslice/istiod']);
    } finally {
      await sim.close();
    }
  });
});
