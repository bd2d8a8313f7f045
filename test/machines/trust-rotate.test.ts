// trust rotate's machine on its own, with fake step actors: the primaries one at a time, each through its four
// steps before the next begins; the minted intermediate reaches the later steps of its own primary only; a
// failure stops the walk with every later primary untouched, and a restored snapshot goes on where it stopped.
// Also the pure rules the steps read: which istiod reloads by itself, and its metric's value.
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { chainExpiryOf, loadingOf } from '../../engine/activities/istiod-chain.js';
import { trustRotateMachine } from '../../machines/trust-rotate-machine.js';
import type { TrustRotateInput, TrustRotateStepInput } from '../../machines/trust-rotate-types.js';
import type { MeshCluster } from '../../machines/types.js';
import { retry, Script, type ScriptOptions, settle } from './harness.js';

const STEPS = ['mint-intermediate', 'plug-intermediate', 'load-intermediate', 'await-istiod-chain'];

const mesh: TrustRotateInput = {
  runId: 'mr-t',
  gateTimeoutMs: 30_000,
  members: [
    { name: 'east', context: 'ctx-east', role: 'primary', network: 'n1' },
    { name: 'edge', context: 'ctx-edge', role: 'remote', network: 'n1', controlPlane: 'east' },
    { name: 'west', context: 'ctx-west', role: 'primary', network: 'n1' },
  ] satisfies MeshCluster[],
};

function script(options: ScriptOptions = {}): Script {
  return new Script({
    ...options,
    outputs: {
      'mint-intermediate': (i: { cluster: string }) => ({
        fingerprint: `fp-${i.cluster}`,
        notAfter: '2030-01-01T00:00:00.000Z',
        rootFingerprint: 'root',
        finishedAt: 1,
      }),
    },
  });
}

const machineWith = (s: Script) =>
  trustRotateMachine.provide({
    actors: s.actors('preflight', 'mintIntermediate', 'plugIntermediate', 'loadIntermediate', 'awaitIstiodChain') as never,
    actions: s.journalActions,
  });

describe('trust rotate: the walk', () => {
  it('preflight, then each primary through its four steps before the next; remotes are not visited', async () => {
    const s = script();
    const actor = createActor(machineWith(s), { input: mesh }).start();
    await settle();
    expect(actor.getSnapshot().status).toBe('done');
    expect(s.calls).toEqual(['preflight@*', ...STEPS.map((st) => `${st}@east`), ...STEPS.map((st) => `${st}@west`)]);
    expect(s.succeeded()).toEqual(s.calls);
    // The later steps of a primary get its own intermediate, never the previous primary's.
    for (const c of ['east', 'west'])
      for (const st of STEPS.slice(1)) expect(s.inputOf<TrustRotateStepInput>(`${st}@${c}`).minted?.fingerprint, `${st}@${c}`).toBe(`fp-${c}`);
    expect(s.inputOf<TrustRotateStepInput>('mint-intermediate@west').minted).toBeUndefined();
    expect(s.inputOf<TrustRotateStepInput>('await-istiod-chain@west').gateTimeoutMs).toBe(30_000);
  });

  it('a failed gate stops the walk before the next primary; RETRY reruns only the failed step, and a restored snapshot does too', async () => {
    const s = script({ failAlways: ['await-istiod-chain@east'] });
    const actor = createActor(machineWith(s), { input: mesh }).start();
    await settle();
    expect(actor.getSnapshot().hasTag('failed')).toBe(true);
    expect(s.ran('west')).toEqual([]);
    actor.send(retry);
    await settle();
    expect(s.count('await-istiod-chain@east')).toBe(2);
    expect(s.count('mint-intermediate@east')).toBe(1);
    // Restored from its snapshot (as a resume does) with a gate that now holds: it finishes east, then west.
    const snapshot = actor.getPersistedSnapshot();
    actor.stop();
    const later = script();
    const resumed = createActor(machineWith(later), { input: mesh, snapshot: snapshot as never }).start();
    resumed.send(retry);
    await settle();
    expect(resumed.getSnapshot().status).toBe('done');
    expect(later.calls).toEqual(['await-istiod-chain@east', ...STEPS.map((st) => `${st}@west`)]);
    expect(later.inputOf<TrustRotateStepInput>('await-istiod-chain@east').minted?.fingerprint).toBe('fp-east');
  });
});

describe('trust rotate: what istiod does', () => {
  const istiod = (image: string) => ({ spec: { template: { spec: { containers: [{ name: 'discovery', image }] } } } });

  it('reloads by itself and says so from 1.24; anything older or of no known version is restarted', () => {
    expect(loadingOf(istiod('docker.io/istio/pilot:1.25.2')).how).toBe('reload');
    expect(loadingOf(istiod('gcr.io/istio-release/pilot:1.24.0-distroless')).how).toBe('reload');
    expect(loadingOf(istiod('docker.io/istio/pilot:1.22.3'))).toMatchObject({ how: 'restart', why: expect.stringContaining('only from 1.24 on') });
    expect(loadingOf(istiod('docker.io/istio/pilot:1.17.1'))).toMatchObject({ how: 'restart', why: expect.stringContaining('AUTO_RELOAD_PLUGIN_CERTS') });
    expect(loadingOf(istiod('registry.istio.io/testing:latest')).how).toBe('restart');
    expect(loadingOf(undefined).how).toBe('restart');
  });

  it("reads citadel_server_cert_chain_expiry_timestamp from Prometheus' text format", () => {
    const metrics =
      '# TYPE citadel_server_root_cert_expiry_timestamp gauge\ncitadel_server_root_cert_expiry_timestamp 2.112047578e+09\ncitadel_server_cert_chain_expiry_timestamp 1.85975959e+09\n';
    expect(chainExpiryOf(metrics)).toBe(1_859_759_590);
    expect(chainExpiryOf('citadel_server_root_cert_expiry_timestamp 2e+09\n')).toBeUndefined();
  });
});
