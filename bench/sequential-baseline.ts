// The baseline mesh-run is measured against: the Istio page's steps run strictly in its order, on the same simulator.
import { setMaxListeners } from 'node:events';
import type { ClusterTools } from '../adapters/cluster-tools.js';
import * as activities from '../engine/activities/install.js';
import type { StepRuntime } from '../engine/activities/step-runtime.js';
import { newWorldSeed, openStore, toolsFor } from '../engine/composition.js';
import type { StepId } from '../machines/steps.js';
import { primariesOf, remotesOf } from '../machines/topology.js';
import type { MeshCluster, MeshConfig } from '../shared/model.js';
import { sleep } from '../shared/sleep.js';
import { sqlite, TIME_SCALE } from './harness.js';

// The Istio page run strictly in its order, one step after another, on the same simulator.
export async function sequentialBaseline(config: MeshConfig, seed: string): Promise<number> {
  const store = await openStore(sqlite(':memory:'), 'create');
  // The world is created the way a run creates it (with a bench run that holds nothing).
  // Its latency model is seeded by the world's id, as the critical path's is.
  const settings = newWorldSeed(seed, config, { realisticLatency: { timeScale: TIME_SCALE } }, [], Date.now());
  const operator = { user: 'bench', host: 'bench', pid: process.pid };
  const lease = { token: 'bench', pid: process.pid, host: 'bench', user: 'bench', heartbeat: Date.now() };
  await store.runs.createRun(
    {
      id: 'baseline',
      kind: 'install',
      topology: 'primary-remote',
      mode: 'dry-run',
      config,
      configHash: 'bench',
      configPath: null,
      createdAt: Date.now(),
      machineVersion: 0,
      simWorld: seed,
    },
    operator,
    { lease, keys: [], staleAfterMs: 1, isAlive: () => true },
    settings,
  );
  const tools: ClusterTools = await toolsFor('dry-run', config, store, seed);
  const signal = new AbortController().signal;
  setMaxListeners(0, signal);
  const rt = (step: StepId, cluster: string): StepRuntime => ({
    signal,
    now: Date.now,
    note: () => {},
    observe: async () => {},
    report: async () => {},
    run: (c) => tools.run(c, { signal, timeoutMs: 600_000, step, cluster }),
    presentToken: (probe) => tools.presentToken(probe, { signal, timeoutMs: 600_000 }),
    pipe: (a, b) => tools.pipe(a, b, { signal, timeoutMs: 600_000, step, cluster }),
  });
  const deps = { config };
  const p = primariesOf({ members: config.clusters })[0] as MeshCluster;
  const base = { runId: 'baseline', meshID: config.meshID, network: p.network, cluster: p.name, context: p.context };
  const started = performance.now();
  const pf = await activities.preflight(rt('preflight', '*'), { ...base, step: 'preflight', cluster: '*', clusters: config.clusters }, deps);
  const primaryInput = { ...base, istioVersion: pf.istioVersion, external: true };
  await activities.installPrimary(rt('install-primary', p.name), { ...primaryInput, step: 'install-primary' }, deps);
  await activities.installEastwestGateway(rt('install-eastwest-gateway', p.name), { ...primaryInput, step: 'install-eastwest-gateway' }, deps);
  let ip: string | undefined;
  while (!ip) {
    ip = (await activities.probeGatewayAddress(rt('await-gateway-address', p.name), { ...primaryInput, step: 'await-gateway-address' }, deps)).ip;
    if (!ip) await sleep(Math.max(5, 1000 * TIME_SCALE), signal);
  }
  await activities.exposeIstiodStep(rt('expose-istiod', p.name), { ...primaryInput, step: 'expose-istiod' });
  for (const r of remotesOf({ members: config.clusters })) {
    const input = {
      runId: 'baseline',
      meshID: config.meshID,
      cluster: r.name,
      context: r.context,
      primary: { name: p.name, context: p.context },
      network: r.network,
      istioVersion: pf.istioVersion,
      discoveryAddress: ip,
    };
    await activities.createRemoteNamespace(rt('create-remote-namespace', r.name), { ...input, step: 'create-remote-namespace' });
    await activities.annotateRemoteNamespace(rt('annotate-remote-namespace', r.name), { ...input, step: 'annotate-remote-namespace' });
    await activities.installRemote(rt('install-remote', r.name), { ...input, step: 'install-remote' });
    await activities.attachRemote(rt('attach-remote', r.name), { ...input, step: 'attach-remote' }, deps);
  }
  const elapsed = performance.now() - started;
  await store.close();
  return elapsed;
}
