// The uninstall machine's per-cluster paths and failures, beyond test/follow-up-machines.test.ts.
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import type { ClusterChildContext, ClusterStepInput, FollowUpInput } from '../../machines/types.js';
import { removalActorId, removalMachine, uninstallMachine } from '../../machines/uninstall-machine.js';
import { primaryRemote } from '../support/shapes.js';
import { childOf, retry, Script, type ScriptOptions, settle } from './harness.js';

function uninstallWith(s: Script) {
  const removal = removalMachine.provide({
    actors: s.actors('removeSample', 'detachRemote', 'uninstallRemote', 'uninstallPrimary') as never,
    actions: s.journalActions,
  });
  return uninstallMachine.provide({ actors: { ...s.actors('preflight'), removal } as never, actions: s.journalActions });
}

const script = (options: ScriptOptions = {}) => new Script(options);

const pageMesh: FollowUpInput = { runId: 'mr-t', revision: '1-25', members: [...primaryRemote('cluster1', ['cluster2', 'cluster3']).members] };

describe('uninstall: each cluster', () => {
  it("a lone primary's secret is held nowhere: it skips detach; every remote is detached first", async () => {
    const s = script();
    const actor = createActor(uninstallWith(s), { input: pageMesh }).start();
    await settle();
    expect(actor.getSnapshot().status).toBe('done');
    expect(actor.getSnapshot().value).toBe('removed');
    expect(s.calls[0]).toBe('preflight@*');
    expect(s.ran('cluster1')).toEqual(['remove-sample', 'uninstall-primary']);
    for (const r of ['cluster2', 'cluster3']) expect(s.ran(r), r).toEqual(['remove-sample', 'detach-remote', 'uninstall-remote']);
    const { detached, removedRemotes, finished } = actor.getSnapshot().context;
    expect([...detached].sort()).toEqual(['cluster2', 'cluster3']);
    expect([...removedRemotes].sort()).toEqual(['cluster2', 'cluster3']);
    expect([...finished].sort()).toEqual(['cluster1', 'cluster2', 'cluster3']);
    expect([...s.succeeded()].sort()).toEqual([...s.calls].sort());
    expect(s.inputOf<ClusterStepInput>('uninstall-remote@cluster3')).toMatchObject({ revision: '1-25', role: 'remote', primary: { name: 'cluster1' } });
  });
});

describe('uninstall: failures', () => {
  it("no cluster's Istio goes while one cluster's secret is still held; RETRY detaches it and the rest follows", async () => {
    const s = script({ failOnce: ['detach-remote@cluster2'] });
    const actor = createActor(uninstallWith(s), { input: pageMesh }).start();
    await settle();
    expect(actor.getSnapshot().status).toBe('active');
    // cluster3 is detached, yet it waits: cluster2's secret still routes an istiod into the mesh.
    expect(s.calls.filter((c) => c.startsWith('uninstall'))).toEqual([]);
    expect(actor.getSnapshot().context.detached).toEqual(['cluster3']);
    const child = childOf<ClusterChildContext>(actor, removalActorId('cluster2'));
    expect(child.hasTag('failed')).toBe(true);
    expect(child.context.lastFailure).toMatchObject({ step: 'detach-remote', cluster: 'cluster2', retryable: true });
    expect(s.journal).toContain('failed detach-remote@cluster2: detach-remote@cluster2 broke');

    actor.send(retry);
    await settle();
    expect(actor.getSnapshot().status).toBe('done');
    expect(s.ran('cluster2')).toEqual(['remove-sample', 'detach-remote', 'detach-remote', 'uninstall-remote']);
    expect(s.ran('cluster3')).toEqual(['remove-sample', 'detach-remote', 'uninstall-remote']);
    expect(s.calls.at(-1)).toBe('uninstall-primary@cluster1');
  });

  it('a primary whose uninstall keeps failing is the only step RETRY runs again', async () => {
    const s = script({ failAlways: ['uninstall-primary@cluster1'] });
    const actor = createActor(uninstallWith(s), { input: pageMesh }).start();
    await settle();
    const before = s.calls.length;
    actor.send(retry);
    await settle();
    expect(s.calls.slice(before)).toEqual(['uninstall-primary@cluster1']);
    expect(actor.getSnapshot().status).toBe('active');
    expect(actor.getSnapshot().context.finished.sort()).toEqual(['cluster2', 'cluster3']);
    expect(childOf<ClusterChildContext>(actor, removalActorId('cluster1')).context.lastFailure).toMatchObject({ step: 'uninstall-primary' });
  });

  it('a failed preflight removes nothing until RETRY', async () => {
    const s = script({ failOnce: ['preflight@*'] });
    const actor = createActor(uninstallWith(s), { input: pageMesh }).start();
    await settle();
    expect(actor.getSnapshot().hasTag('failed')).toBe(true);
    expect(actor.getSnapshot().context.lastFailure).toMatchObject({ step: 'preflight', cluster: '*' });
    expect(s.calls).toEqual(['preflight@*']);
    actor.send(retry);
    await settle();
    expect(actor.getSnapshot().status).toBe('done');
    expect(s.count('preflight@*')).toBe(2);
  });
});
