// The verify-links machine: preflight, then each cluster's one link check side by side; nothing else runs.
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { type LinkCheckContext, linkActorId, linkCheckMachine, linksMachine } from '../../machines/links-machine.js';
import type { FollowUpInput } from '../../machines/types.js';
import { primaryRemote } from '../support/shapes.js';
import { childOf, retry, Script, type ScriptOptions, settle } from './harness.js';
import { mixed } from './meshes.js';

function linksWith(s: Script) {
  const linkCheck = linkCheckMachine.provide({ actors: s.actors('checkRemoteClusters', 'checkInjectorCa') as never, actions: s.journalActions });
  return linksMachine.provide({ actors: { ...s.actors('preflight'), linkCheck } as never, actions: s.journalActions });
}

const script = (options: ScriptOptions = {}) => new Script(options);
const pageMesh: FollowUpInput = { runId: 'mr-t', members: [...primaryRemote('cluster1', ['cluster2']).members] };

describe('verify-links: each cluster', () => {
  it("preflight first, then a primary's istiod check and a remote's injector check, and nothing else", async () => {
    const s = script();
    const actor = createActor(linksWith(s), { input: pageMesh }).start();
    await settle();
    expect(actor.getSnapshot().status).toBe('done');
    expect(s.calls[0]).toBe('preflight@*');
    expect([...s.calls].sort()).toEqual(['check-injector-ca@cluster2', 'check-remote-clusters@cluster1', 'preflight@*']);
    expect([...s.succeeded()].sort()).toEqual([...s.calls].sort());
    expect([...actor.getSnapshot().context.checked].sort()).toEqual(['cluster1', 'cluster2']);
  });

  it('every primary of a mixed fleet sees the others; its remote checks its injector', async () => {
    const s = script();
    const actor = createActor(linksWith(s), { input: { runId: 'mr-t', members: mixed } }).start();
    await settle();
    expect(actor.getSnapshot().status).toBe('done');
    expect(s.ran('east')).toEqual(['check-remote-clusters']);
    expect(s.ran('west')).toEqual(['check-remote-clusters']);
    expect(s.ran('edge')).toEqual(['check-injector-ca']);
  });

  it('a lone primary has nothing to check: the run ends after preflight', async () => {
    const s = script();
    const actor = createActor(linksWith(s), { input: { runId: 'mr-t', members: [...primaryRemote('solo', []).members] } }).start();
    await settle();
    expect(actor.getSnapshot().status).toBe('done');
    expect(s.calls).toEqual(['preflight@*']);
  });
});

describe('verify-links: failures', () => {
  it('a remote without a CA holds the run; RETRY checks it again and nothing else', async () => {
    const s = script({ failOnce: ['check-injector-ca@cluster2'] });
    const actor = createActor(linksWith(s), { input: pageMesh }).start();
    await settle();
    expect(actor.getSnapshot().status).toBe('active');
    expect(actor.getSnapshot().context.checked).toEqual(['cluster1']);
    const child = childOf<LinkCheckContext>(actor, linkActorId('cluster2'));
    expect(child.hasTag('failed')).toBe(true);
    expect(child.context.lastFailure).toMatchObject({ step: 'check-injector-ca', cluster: 'cluster2' });
    expect(s.journal).toContain('failed check-injector-ca@cluster2: check-injector-ca@cluster2 broke');

    const before = s.calls.length;
    actor.send(retry);
    await settle();
    expect(s.calls.slice(before)).toEqual(['check-injector-ca@cluster2']);
    expect(actor.getSnapshot().status).toBe('done');
  });

  it('a failed preflight starts no cluster until RETRY', async () => {
    const s = script({ failOnce: ['preflight@*'] });
    const actor = createActor(linksWith(s), { input: pageMesh }).start();
    await settle();
    expect(actor.getSnapshot().context.lastFailure).toMatchObject({ step: 'preflight', cluster: '*' });
    expect(s.calls).toEqual(['preflight@*']);
    actor.send(retry);
    await settle();
    expect(actor.getSnapshot().status).toBe('done');
    expect(s.count('check-remote-clusters@cluster1')).toBe(1);
  });
});
