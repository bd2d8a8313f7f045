import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, type Snapshot } from 'xstate';
import { wordFailure } from '../engine/runtime/verdicts.js';
import { installMachine, remoteMachine } from '../machines/install-machine.js';
import type { GatewayObservation, InstallInput } from '../machines/types.js';

const input: InstallInput = {
  runId: 'mr-t',
  meshID: 'mesh1',
  network: 'network1',
  primary: { name: 'cluster1', context: 'c1' },
  remotes: [
    { name: 'cluster2', context: 'c2' },
    { name: 'cluster3', context: 'c3' },
  ],
  gatewayTimeoutMs: 60_000,
  gatewayPollMs: 1000,
};

interface Fakes {
  calls: string[];
  gateway: () => GatewayObservation;
  gate?: Promise<void>;
  failOnce?: string;
}

// The machine with fake step actors: no I/O, only a log of which step ran where.
function machineWith(f: Fakes) {
  const failed = new Set<string>();
  const step = (name: string) =>
    fromPromise(async ({ input: i }: { input: { cluster: string } }) => {
      const key = `${name}@${i.cluster}`;
      f.calls.push(key);
      if (f.gate && name === 'installPrimary') await f.gate;
      if (f.failOnce === key && !failed.has(key)) {
        failed.add(key);
        throw { message: `${key} broke`, retryable: false };
      }
      return { finishedAt: 1_000 };
    });
  const remote = remoteMachine.provide({
    actors: {
      createRemoteNamespace: step('createRemoteNamespace'),
      annotateRemoteNamespace: fromPromise(async ({ input: i }: { input: { cluster: string; primary: { name: string } } }) => {
        f.calls.push(`annotateRemoteNamespace@${i.cluster}`);
        return { controlPlaneClusters: i.primary.name, finishedAt: 1 };
      }),
      installRemote: step('installRemote'),
      attachRemote: step('attachRemote'),
    } as never,
  });
  return installMachine.provide({
    actors: {
      preflight: fromPromise(async () => ({ istioVersion: '1.25.2', finishedAt: 1 })),
      installPrimary: step('installPrimary'),
      installEastwestGateway: step('installEastwestGateway'),
      probeGatewayAddress: fromPromise(async () => f.gateway()),
      pause: fromPromise(async () => undefined),
      exposeIstiod: step('exposeIstiod'),
      remote,
    } as never,
  });
}

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

describe('the install machine (fake actors)', () => {
  it('runs every step and ends installed, remotes in parallel after the gateway address', async () => {
    const f: Fakes = { calls: [], gateway: () => ({ ip: '10.0.0.1', observedAt: 1 }) };
    const actor = createActor(machineWith(f), { input }).start();
    await settle();
    expect(actor.getSnapshot().status).toBe('done');
    expect(actor.getSnapshot().context.attachedRemotes.sort()).toEqual(['cluster2', 'cluster3']);
    for (const c of ['cluster2', 'cluster3']) {
      expect(f.calls.indexOf(`installRemote@${c}`)).toBeGreaterThan(f.calls.indexOf('installEastwestGateway@cluster1'));
      expect(f.calls.filter((x) => x === `attachRemote@${c}`)).toHaveLength(1);
    }
  });

  it('holds install-remote until the gateway IP is known, while namespaces proceed', async () => {
    let release!: () => void;
    const f: Fakes = { calls: [], gateway: () => ({ ip: '10.0.0.1', observedAt: 1 }), gate: new Promise((r) => (release = r)) };
    const actor = createActor(machineWith(f), { input }).start();
    await settle();
    expect(f.calls).toContain('createRemoteNamespace@cluster2');
    expect(f.calls).toContain('annotateRemoteNamespace@cluster3');
    expect(f.calls.some((c) => c.startsWith('installRemote'))).toBe(false);
    release();
    await settle();
    expect(actor.getSnapshot().status).toBe('done');
  });

  it('fails the wait on a hostname with the EKS explanation, and on the deadline with a load-balancer hint', async () => {
    const hostname = createActor(machineWith({ calls: [], gateway: () => ({ hostname: 'x.elb.amazonaws.com', observedAt: 1 }) }), { input }).start();
    await settle();
    expect(hostname.getSnapshot().hasTag('failed')).toBe(true);
    // The machine keeps the facts; the engine words them.
    const hostnameOnly = hostname.getSnapshot().context.lastFailure;
    expect(hostnameOnly).toMatchObject({ step: 'await-gateway-address', verdict: { kind: 'gateway-hostname-only', hostname: 'x.elb.amazonaws.com' } });
    expect(hostnameOnly && wordFailure(hostnameOnly, 'mr-1').message).toContain('EKS');

    // The deadline (finishedAt 1000 + 60 s) lives in context; an observation after it fails the step.
    const late = createActor(machineWith({ calls: [], gateway: () => ({ observedAt: 61_000 }) }), { input }).start();
    await settle();
    expect(late.getSnapshot().context.gatewayDeadline).toBe(61_000);
    const noAddress = late.getSnapshot().context.lastFailure;
    expect(noAddress).toMatchObject({ verdict: { kind: 'gateway-no-address', waitedMs: 60_000 } });
    expect(noAddress && wordFailure(noAddress, 'mr-1').hint).toContain('MetalLB');
  });

  it('restores a persisted snapshot: finished steps stay finished, the in-flight one runs again', async () => {
    let release!: () => void;
    const f: Fakes = { calls: [], gateway: () => ({ ip: '10.0.0.1', observedAt: 1 }), gate: new Promise((r) => (release = r)) };
    const first = createActor(machineWith(f), { input }).start();
    await settle();
    const persisted = JSON.parse(JSON.stringify(first.getPersistedSnapshot())) as Snapshot<unknown>;
    first.stop();
    const before = [...f.calls];
    expect(before).toContain('installPrimary@cluster1');

    const g: Fakes = { calls: [], gateway: () => ({ ip: '10.0.0.1', observedAt: 1 }) };
    const restored = createActor(machineWith(g), { input, snapshot: persisted as never }).start();
    await settle();
    release();
    expect(restored.getSnapshot().status).toBe('done');
    // install-primary was in flight: it runs again. The remotes' namespace steps had finished: they do not.
    expect(g.calls[0]).toBe('installPrimary@cluster1');
    expect(g.calls.filter((c) => c.startsWith('createRemoteNamespace'))).toEqual([]);
    expect(g.calls.filter((c) => c.startsWith('attachRemote')).sort()).toEqual(['attachRemote@cluster2', 'attachRemote@cluster3']);
  });

  it('retries only the failed remote on RETRY', async () => {
    const f: Fakes = { calls: [], gateway: () => ({ ip: '10.0.0.1', observedAt: 1 }), failOnce: 'installRemote@cluster3' };
    const actor = createActor(machineWith(f), { input }).start();
    await settle();
    expect(actor.getSnapshot().context.attachedRemotes).toEqual(['cluster2']);
    actor.send({ type: 'RETRY', at: 5, gatewayTimeoutMs: 1000 });
    await settle();
    expect(actor.getSnapshot().status).toBe('done');
    expect(f.calls.filter((c) => c === 'installRemote@cluster3')).toHaveLength(2);
    expect(f.calls.filter((c) => c === 'installRemote@cluster2')).toHaveLength(1);
  });
});
