// The verify machine's per-cluster paths and failures, beyond test/follow-up-machines.test.ts.
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import type { ClusterChildContext, ClusterStepInput, FollowUpInput } from '../../machines/types.js';
import { sampleActorId, sampleClusterMachine, verifyMachine } from '../../machines/verify-machine.js';
import { primaryRemote } from '../support/shapes.js';
import { childOf, retry, Script, type ScriptOptions, settle } from './harness.js';

function verifyWith(s: Script) {
  const sampleCluster = sampleClusterMachine.provide({
    actors: s.actors('checkRemoteClusters', 'checkInjectorCa', 'deploySample', 'awaitSample', 'checkTraffic') as never,
    actions: s.journalActions,
  });
  return verifyMachine.provide({ actors: { ...s.actors('preflight'), sampleCluster } as never, actions: s.journalActions });
}

const script = (options: ScriptOptions = {}) =>
  new Script({ ...options, outputs: { 'check-traffic': () => ({ versions: { v1: 3, v2: 2 }, requests: 5, finishedAt: 1 }) } });

const pageMesh: FollowUpInput = { runId: 'mr-t', members: [...primaryRemote('cluster1', ['cluster2']).members] };
const SAMPLE = ['deploy-sample', 'await-sample', 'check-traffic'];

describe('verify: each cluster', () => {
  it("a primary checks its istiod sees the others, a remote its injector's CA, each before its sample", async () => {
    const s = script();
    const actor = createActor(verifyWith(s), { input: pageMesh }).start();
    await settle();
    expect(actor.getSnapshot().status).toBe('done');
    expect(s.calls[0]).toBe('preflight@*');
    expect(s.ran('cluster1')).toEqual(['check-remote-clusters', ...SAMPLE]);
    expect(s.ran('cluster2')).toEqual(['check-injector-ca', ...SAMPLE]);
    expect([...s.succeeded()].sort()).toEqual([...s.calls].sort());
    const { verified, samplesReady } = actor.getSnapshot().context;
    expect([...verified].sort()).toEqual(['cluster1', 'cluster2']);
    expect([...samplesReady].sort()).toEqual(['cluster1', 'cluster2']);
    // Each cluster runs its own version and must reach every one.
    expect(s.inputOf<ClusterStepInput>('check-traffic@cluster2')).toMatchObject({
      role: 'remote',
      sampleVersion: 'v2',
      versions: ['v1', 'v2'],
      primary: { name: 'cluster1' },
    });
    expect(s.inputOf<ClusterStepInput>('check-remote-clusters@cluster1')).toMatchObject({ watches: [{ name: 'cluster2', context: 'cluster2' }] });
  });

  it('a lone primary has nobody to see synced: it deploys its sample at once', async () => {
    const s = script();
    const actor = createActor(verifyWith(s), { input: { runId: 'mr-t', members: [...primaryRemote('solo', []).members] } }).start();
    await settle();
    expect(actor.getSnapshot().status).toBe('done');
    expect(s.calls).toEqual(['preflight@*', ...SAMPLE.map((step) => `${step}@solo`)]);
  });
});

describe('verify: failures', () => {
  it('a sample that never gets ready holds every request; RETRY waits for it again', async () => {
    const s = script({ failOnce: ['await-sample@cluster1'] });
    const actor = createActor(verifyWith(s), { input: pageMesh }).start();
    await settle();
    expect(s.calls.filter((c) => c.startsWith('check-traffic'))).toEqual([]);
    expect(actor.getSnapshot().context.samplesReady).toEqual(['cluster2']);
    const child = childOf<ClusterChildContext>(actor, sampleActorId('cluster1'));
    expect(child.hasTag('failed')).toBe(true);
    expect(child.context.lastFailure).toMatchObject({ step: 'await-sample', cluster: 'cluster1' });
    expect(s.journal).toContain('failed await-sample@cluster1: await-sample@cluster1 broke');

    actor.send(retry);
    await settle();
    expect(actor.getSnapshot().status).toBe('done');
    expect(s.ran('cluster1')).toEqual(['check-remote-clusters', 'deploy-sample', 'await-sample', 'await-sample', 'check-traffic']);
    expect(s.ran('cluster2')).toEqual(['check-injector-ca', ...SAMPLE]);
  });

  it('failed traffic leaves that cluster unverified; RETRY sends its requests again and nothing else', async () => {
    const s = script({ failOnce: ['check-traffic@cluster2'] });
    const actor = createActor(verifyWith(s), { input: pageMesh }).start();
    await settle();
    expect(actor.getSnapshot().status).toBe('active');
    expect(actor.getSnapshot().context.verified).toEqual(['cluster1']);
    expect(childOf<ClusterChildContext>(actor, sampleActorId('cluster2')).context.lastFailure).toMatchObject({ step: 'check-traffic', cluster: 'cluster2' });
    const before = s.calls.length;
    actor.send(retry);
    await settle();
    expect(s.calls.slice(before)).toEqual(['check-traffic@cluster2']);
    expect(actor.getSnapshot().status).toBe('done');
  });

  it('a failed preflight starts no cluster until RETRY', async () => {
    const s = script({ failOnce: ['preflight@*'] });
    const actor = createActor(verifyWith(s), { input: pageMesh }).start();
    await settle();
    expect(actor.getSnapshot().context.lastFailure).toMatchObject({ step: 'preflight', cluster: '*' });
    expect(s.calls).toEqual(['preflight@*']);
    actor.send(retry);
    await settle();
    expect(actor.getSnapshot().status).toBe('done');
    expect(s.count('deploy-sample@cluster2')).toBe(1);
  });
});
