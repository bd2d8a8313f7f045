// The verify and uninstall machines on their own, with fake step actors: ordering guards and RETRY.
import { describe, expect, it } from 'vitest';
import { type AnyStateMachine, createActor, fromPromise } from 'xstate';
import type { FollowUpInput } from '../machines/types.js';
import { removalMachine, uninstallMachine } from '../machines/uninstall-machine.js';
import { sampleClusterMachine, verifyMachine } from '../machines/verify-machine.js';
import { primaryRemote } from './support/shapes.js';

const input: FollowUpInput = { runId: 'mr-t', members: [...primaryRemote('cluster1', ['cluster2', 'cluster3']).members] };

// Two primaries, each with a remote.
const twoPlanes: FollowUpInput = {
  runId: 'mr-t',
  members: [
    { name: 'east', context: 'east', role: 'primary', network: 'n1' },
    { name: 'west', context: 'west', role: 'primary', network: 'n1' },
    { name: 'east-r', context: 'east-r', role: 'remote', network: 'n1', controlPlane: 'east' },
    { name: 'west-r', context: 'west-r', role: 'remote', network: 'n1', controlPlane: 'west' },
  ],
};

interface Script {
  calls: string[];
  // Steps held until released, by "step@cluster".
  held: Map<string, () => void>;
  failOnce?: string;
}

function fakeStep(name: string, script: Script, hold: readonly string[] = []) {
  const failed = new Set<string>();
  return fromPromise(async ({ input: i }: { input: { cluster: string } }) => {
    const key = `${name}@${i.cluster}`;
    script.calls.push(key);
    if (hold.includes(key)) await new Promise<void>((resolve) => script.held.set(key, resolve));
    if (script.failOnce === key && !failed.has(key)) {
      failed.add(key);
      throw { message: `${key} broke`, retryable: false };
    }
    return { finishedAt: 1, versions: { v1: 1, v2: 1 }, requests: 2 };
  });
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 5));

function verifyWith(script: Script, hold: string[] = []): AnyStateMachine {
  const child = sampleClusterMachine.provide({
    actors: {
      checkRemoteClusters: fakeStep('checkRemoteClusters', script, hold),
      checkInjectorCa: fakeStep('checkInjectorCa', script, hold),
      deploySample: fakeStep('deploySample', script, hold),
      awaitSample: fakeStep('awaitSample', script, hold),
      checkTraffic: fakeStep('checkTraffic', script, hold),
    } as never,
  });
  return verifyMachine.provide({
    actors: { preflight: fakeStep('preflight', script), sampleCluster: child } as never,
  }) as unknown as AnyStateMachine;
}

function uninstallWith(script: Script, hold: string[] = []): AnyStateMachine {
  const child = removalMachine.provide({
    actors: {
      removeSample: fakeStep('removeSample', script, hold),
      detachRemote: fakeStep('detachRemote', script, hold),
      uninstallRemote: fakeStep('uninstallRemote', script, hold),
      uninstallPrimary: fakeStep('uninstallPrimary', script, hold),
    } as never,
  });
  return uninstallMachine.provide({
    actors: { preflight: fakeStep('preflight', script), removal: child } as never,
  }) as unknown as AnyStateMachine;
}

describe('verify machine', () => {
  it('checks the injector only on remotes, and sends no request until every cluster runs its sample', async () => {
    const script: Script = { calls: [], held: new Map() };
    const actor = createActor(verifyWith(script, ['awaitSample@cluster3']), { input }).start();
    await settle();
    expect(script.calls).toContain('checkInjectorCa@cluster2');
    expect(script.calls).not.toContain('checkInjectorCa@cluster1');
    expect(script.calls.filter((c) => c.startsWith('checkTraffic'))).toEqual([]);
    script.held.get('awaitSample@cluster3')?.();
    await settle();
    expect(script.calls.filter((c) => c.startsWith('checkTraffic')).sort()).toEqual([
      'checkTraffic@cluster1',
      'checkTraffic@cluster2',
      'checkTraffic@cluster3',
    ]);
    expect(actor.getSnapshot().status).toBe('done');
  });

  it('a failed check waits in failed; RETRY runs only that check again', async () => {
    const script: Script = { calls: [], held: new Map(), failOnce: 'deploySample@cluster2' };
    const actor = createActor(verifyWith(script), { input }).start();
    await settle();
    expect(actor.getSnapshot().status).toBe('active');
    const before = script.calls.length;
    actor.send({ type: 'RETRY', at: 2, gatewayTimeoutMs: 1 });
    await settle();
    const after = script.calls.slice(before);
    expect(after[0]).toBe('deploySample@cluster2');
    expect(after).not.toContain('deploySample@cluster1');
    expect(actor.getSnapshot().status).toBe('done');
  });
});

describe('uninstall machine', () => {
  it('uninstalls the primary only after every remote is gone, each remote detached before it is uninstalled', async () => {
    const script: Script = { calls: [], held: new Map() };
    const actor = createActor(uninstallWith(script, ['uninstallRemote@cluster3']), { input }).start();
    await settle();
    expect(script.calls).toContain('uninstallRemote@cluster2');
    expect(script.calls).not.toContain('uninstallPrimary@cluster1');
    script.held.get('uninstallRemote@cluster3')?.();
    await settle();
    const order = script.calls;
    expect(order.at(-1)).toBe('uninstallPrimary@cluster1');
    for (const r of ['cluster2', 'cluster3']) expect(order.indexOf(`detachRemote@${r}`)).toBeLessThan(order.indexOf(`uninstallRemote@${r}`));
    expect(actor.getSnapshot().status).toBe('done');
  });

  it('a remote that failed keeps the primary installed until RETRY removes it', async () => {
    const script: Script = { calls: [], held: new Map(), failOnce: 'uninstallRemote@cluster2' };
    const actor = createActor(uninstallWith(script), { input }).start();
    await settle();
    expect(script.calls).not.toContain('uninstallPrimary@cluster1');
    expect(actor.getSnapshot().status).toBe('active');
    actor.send({ type: 'RETRY', at: 2, gatewayTimeoutMs: 1 });
    await settle();
    expect(script.calls.filter((c) => c === 'uninstallRemote@cluster2')).toHaveLength(2);
    expect(script.calls.filter((c) => c === 'uninstallRemote@cluster3')).toHaveLength(1);
    expect(script.calls.at(-1)).toBe('uninstallPrimary@cluster1');
    expect(actor.getSnapshot().status).toBe('done');
  });

  it('with two primaries, removes every secret first, and each primary only after its own remote', async () => {
    const script: Script = { calls: [], held: new Map() };
    const actor = createActor(uninstallWith(script, ['uninstallRemote@west-r']), { input: twoPlanes }).start();
    await settle();
    const order = script.calls;
    // Every cluster's secrets leave every primary before any Istio goes.
    const lastDetach = Math.max(...['east', 'west', 'east-r', 'west-r'].map((c) => order.indexOf(`detachRemote@${c}`)));
    for (const c of ['uninstallRemote@east-r', 'uninstallPrimary@east']) expect(order.indexOf(c), c).toBeGreaterThan(lastDetach);
    // west waits for west-r (held); east did not wait for it.
    expect(order).toContain('uninstallPrimary@east');
    expect(order).not.toContain('uninstallPrimary@west');
    script.held.get('uninstallRemote@west-r')?.();
    await settle();
    expect(order.at(-1)).toBe('uninstallPrimary@west');
    expect(actor.getSnapshot().status).toBe('done');
  });
});
