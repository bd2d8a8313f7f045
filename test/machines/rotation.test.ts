// secrets rotate (rotateMachine over one rotationMachine child per cluster) on its own, with fake step actors.
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { rotateMachine, rotationActorId, rotationMachine } from '../../machines/rotation-machine.js';
import type { MeshCluster, RotateInput, RotationChildContext, RotationStepInput } from '../../machines/types.js';
import { primaryRemote } from '../support/shapes.js';
import { childOf, retry, Script, type ScriptOptions, settle } from './harness.js';

// Each cluster's new token is told apart by its fingerprint.
function script(options: ScriptOptions = {}): Script {
  return new Script({
    ...options,
    outputs: {
      'mint-token': (i: { cluster: string }) => ({
        secret: `token-${i.cluster}`,
        fingerprint: `fp-${i.cluster}`,
        previous: [{ secret: `old-${i.cluster}`, fingerprint: `old-fp-${i.cluster}` }],
        finishedAt: 1,
      }),
    },
  });
}

function rotateWith(s: Script) {
  const rotation = rotationMachine.provide({
    actors: s.actors('mintToken', 'swapSecret', 'awaitSynced', 'revokeToken') as never,
    actions: s.journalActions,
  });
  return rotateMachine.provide({ actors: { ...s.actors('preflight'), rotation } as never, actions: s.journalActions });
}

const ROTATION = ['mint-token', 'swap-secret', 'await-synced', 'revoke-token'];

// The page's mesh: cluster1 serves cluster2 and cluster3; only cluster1 holds secrets.
const pageMesh: RotateInput = { runId: 'mr-t', members: [...primaryRemote('cluster1', ['cluster2', 'cluster3']).members], syncTimeoutMs: 30_000 };

// Two primaries, each holding the other's secret, and a remote of east's.
const twoPlanes: RotateInput = {
  runId: 'mr-t',
  revision: 'canary',
  syncTimeoutMs: 30_000,
  members: [
    { name: 'east', context: 'ctx-east', role: 'primary', network: 'n1' },
    { name: 'west', context: 'ctx-west', role: 'primary', network: 'n1' },
    { name: 'edge', context: 'ctx-edge', role: 'remote', network: 'n1', controlPlane: 'east' },
  ] satisfies MeshCluster[],
};

describe('secrets rotate: the order', () => {
  it('per cluster some primary holds: mint, swap, gate, revoke; nothing for a cluster nobody holds', async () => {
    const s = script();
    const actor = createActor(rotateWith(s), { input: pageMesh }).start();
    await settle();
    expect(actor.getSnapshot().status).toBe('done');
    expect(actor.getSnapshot().value).toBe('rotated');
    expect(s.calls[0]).toBe('preflight@*');
    for (const c of ['cluster2', 'cluster3']) expect(s.ran(c), c).toEqual(ROTATION);
    expect(s.ran('cluster1')).toEqual([]);
    expect([...actor.getSnapshot().context.finished].sort()).toEqual(['cluster2', 'cluster3']);
    expect([...s.succeeded()].sort()).toEqual([...s.calls].sort());
    // The preflight reaches the rotated clusters and their holder.
    expect(s.inputOf('preflight@*')).toMatchObject({ clusters: [{ name: 'cluster2' }, { name: 'cluster3' }, { name: 'cluster1' }] });
  });

  it('every step after mint-token acts on the token mint-token made, on the holders of that cluster', async () => {
    const s = script();
    createActor(rotateWith(s), { input: twoPlanes }).start();
    await settle();
    for (const c of ['east', 'west', 'edge']) expect(s.ran(c), c).toEqual(ROTATION);
    expect(s.inputOf<RotationStepInput>('mint-token@edge').minted).toBeUndefined();
    for (const step of ROTATION.slice(1)) {
      const input = s.inputOf<RotationStepInput>(`${step}@edge`);
      expect(input.minted, step).toMatchObject({ fingerprint: 'fp-edge', previous: [{ fingerprint: 'old-fp-edge' }] });
      expect(input).toMatchObject({ context: 'ctx-edge', revision: 'canary', syncTimeoutMs: 30_000 });
      expect(input.holders.map((h) => h.name)).toEqual(['east', 'west']);
    }
    // A primary's secret is held by every other primary only.
    expect(s.inputOf<RotationStepInput>('swap-secret@east').holders).toEqual([{ name: 'west', context: 'ctx-west' }]);
  });

  it('with a subject, rotates that cluster only', async () => {
    const s = script();
    const actor = createActor(rotateWith(s), { input: { ...pageMesh, subject: 'cluster3' } }).start();
    await settle();
    expect(actor.getSnapshot().status).toBe('done');
    expect(s.calls).toEqual(['preflight@*', ...ROTATION.map((step) => `${step}@cluster3`)]);
    expect(s.inputOf('preflight@*')).toMatchObject({ clusters: [{ name: 'cluster3' }, { name: 'cluster1' }] });
  });
});

describe('secrets rotate: the gate and failures', () => {
  it('revokes the old token only once the holders report the cluster synced', async () => {
    const s = script({ hold: ['await-synced@cluster2'] });
    const actor = createActor(rotateWith(s), { input: pageMesh }).start();
    await settle();
    expect(s.ran('cluster2')).toEqual(['mint-token', 'swap-secret', 'await-synced']);
    // The other cluster does not wait for it.
    expect(s.ran('cluster3')).toEqual(ROTATION);
    expect(actor.getSnapshot().context.finished).toEqual(['cluster3']);
    expect(actor.getSnapshot().status).toBe('active');
    s.release('await-synced@cluster2');
    await settle();
    expect(s.ran('cluster2')).toEqual(ROTATION);
    expect(actor.getSnapshot().status).toBe('done');
  });

  it('a gate that does not pass keeps the old token; RETRY waits again on the same new token', async () => {
    const s = script({ failOnce: ['await-synced@cluster2'] });
    const actor = createActor(rotateWith(s), { input: pageMesh }).start();
    await settle();
    expect(actor.getSnapshot().status).toBe('active');
    const child = childOf<RotationChildContext>(actor, rotationActorId('cluster2'));
    expect(child.hasTag('failed')).toBe(true);
    expect(child.context.lastFailure).toMatchObject({ step: 'await-synced', cluster: 'cluster2', message: 'await-synced@cluster2 broke' });
    expect(s.journal).toContain('failed await-synced@cluster2: await-synced@cluster2 broke');
    expect(s.calls).not.toContain('revoke-token@cluster2');
    expect(actor.getSnapshot().context.finished).toEqual(['cluster3']);

    actor.send(retry);
    await settle();
    expect(actor.getSnapshot().status).toBe('done');
    expect(s.ran('cluster2')).toEqual(['mint-token', 'swap-secret', 'await-synced', 'await-synced', 'revoke-token']);
    expect(s.ran('cluster3')).toEqual(ROTATION);
    expect(s.inputOf<RotationStepInput>('await-synced@cluster2', 1).minted?.fingerprint).toBe('fp-cluster2');
  });

  it('a failed swap is retried before any gate; the finished mint is not run again', async () => {
    const s = script({ failOnce: ['swap-secret@cluster3'] });
    const actor = createActor(rotateWith(s), { input: pageMesh }).start();
    await settle();
    expect(s.ran('cluster3')).toEqual(['mint-token', 'swap-secret']);
    actor.send(retry);
    await settle();
    expect(actor.getSnapshot().status).toBe('done');
    expect(s.ran('cluster3')).toEqual(['mint-token', 'swap-secret', 'swap-secret', 'await-synced', 'revoke-token']);
  });

  it('a failed preflight starts no rotation until RETRY', async () => {
    const s = script({ failOnce: ['preflight@*'] });
    const actor = createActor(rotateWith(s), { input: pageMesh }).start();
    await settle();
    expect(actor.getSnapshot().hasTag('failed')).toBe(true);
    expect(actor.getSnapshot().context.lastFailure).toMatchObject({ step: 'preflight', cluster: '*' });
    expect(s.calls).toEqual(['preflight@*']);
    expect(Object.keys(actor.getSnapshot().children)).toEqual([]);
    actor.send(retry);
    await settle();
    expect(actor.getSnapshot().status).toBe('done');
    expect(s.count('mint-token@cluster2')).toBe(1);
  });
});
