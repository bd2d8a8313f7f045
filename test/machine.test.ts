import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, type Snapshot } from 'xstate';
import { wordFailure } from '../engine/runtime/verdicts.js';
import { installMachine, memberActorId, primaryMachine, remoteMachine } from '../machines/install-machine.js';
import type { GatewayObservation, InstallInput, MemberContext, MeshCluster } from '../machines/types.js';
import { primaryRemote } from './support/shapes.js';

const input: InstallInput = {
  runId: 'mr-t',
  meshID: 'mesh1',
  members: [...primaryRemote('cluster1', ['cluster2', 'cluster3']).members],
  gatewayTimeoutMs: 60_000,
  gatewayPollMs: 1000,
};

// Two primaries on two networks, and a remote of the first on the second network.
const mixed: InstallInput = {
  ...input,
  members: [
    { name: 'east', context: 'east', role: 'primary', network: 'n1' },
    { name: 'west', context: 'west', role: 'primary', network: 'n2' },
    { name: 'edge', context: 'edge', role: 'remote', network: 'n2', controlPlane: 'east' },
  ] satisfies MeshCluster[],
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
  const shared = {
    installEastwestGateway: step('installEastwestGateway'),
    probeGatewayAddress: fromPromise(async ({ input: i }: { input: { cluster: string } }) => {
      f.calls.push(`probeGatewayAddress@${i.cluster}`);
      return f.gateway();
    }),
    pause: fromPromise(async () => undefined),
    labelNetwork: step('labelNetwork'),
    exchangeSecret: step('exchangeSecret'),
  };
  const remote = remoteMachine.provide({
    actors: {
      ...shared,
      createRemoteNamespace: step('createRemoteNamespace'),
      annotateRemoteNamespace: fromPromise(async ({ input: i }: { input: { cluster: string; primary: { name: string } } }) => {
        f.calls.push(`annotateRemoteNamespace@${i.cluster}`);
        return { controlPlaneClusters: i.primary.name, finishedAt: 1 };
      }),
      installRemote: step('installRemote'),
      attachRemote: step('attachRemote'),
    } as never,
  });
  const primary = primaryMachine.provide({
    actors: {
      ...shared,
      establishTrust: step('establishTrust'),
      installPrimary: step('installPrimary'),
      exposeIstiod: step('exposeIstiod'),
      exposeServices: step('exposeServices'),
    } as never,
  });
  return installMachine.provide({
    actors: { preflight: fromPromise(async () => ({ istioVersion: '1.25.2', finishedAt: 1 })), primary, remote } as never,
  });
}

// A child's context, by cluster name.
function member(actor: { getSnapshot(): { children: Record<string, unknown> } }, name: string): MemberContext {
  const child = actor.getSnapshot().children[memberActorId(name)] as { getSnapshot(): { context: MemberContext } } | undefined;
  if (!child) throw new Error(`no child for ${name}`);
  return child.getSnapshot().context;
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
    expect(actor.getSnapshot().context.finished.sort()).toEqual(['cluster1', 'cluster2', 'cluster3']);
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
    const child = hostname.getSnapshot().children[memberActorId('cluster1')] as { getSnapshot(): { hasTag(t: string): boolean } };
    expect(child.getSnapshot().hasTag('failed')).toBe(true);
    // The machine keeps the facts; the engine words them.
    const hostnameOnly = member(hostname, 'cluster1').lastFailure;
    expect(hostnameOnly).toMatchObject({ step: 'await-gateway-address', verdict: { kind: 'gateway-hostname-only', hostname: 'x.elb.amazonaws.com' } });
    expect(hostnameOnly && wordFailure(hostnameOnly, 'mr-1').message).toContain('EKS');

    // The deadline (finishedAt 1000 + 60 s) lives in context; an observation after it fails the step.
    const late = createActor(machineWith({ calls: [], gateway: () => ({ observedAt: 61_000 }) }), { input }).start();
    await settle();
    expect(member(late, 'cluster1').gatewayDeadline).toBe(61_000);
    const noAddress = member(late, 'cluster1').lastFailure;
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
    expect(actor.getSnapshot().context.finished.sort()).toEqual(['cluster1', 'cluster2']);
    actor.send({ type: 'RETRY', at: 5, gatewayTimeoutMs: 1000 });
    await settle();
    expect(actor.getSnapshot().status).toBe('done');
    expect(f.calls.filter((c) => c === 'installRemote@cluster3')).toHaveLength(2);
    expect(f.calls.filter((c) => c === 'installRemote@cluster2')).toHaveLength(1);
  });

  it('follows the shape: a mixed mesh labels networks, exposes services, and exchanges secrets after both control planes', async () => {
    const f: Fakes = { calls: [], gateway: () => ({ ip: '10.0.0.1', observedAt: 1 }) };
    const actor = createActor(machineWith(f), { input: mixed }).start();
    await settle();
    expect(actor.getSnapshot().status).toBe('done');
    const ran = (c: string) => f.calls.filter((x) => x.endsWith(`@${c}`)).map((x) => x.split('@')[0]);
    // east serves a remote: it exposes istiod; both primaries expose services on two networks.
    expect(ran('east')).toEqual([
      'labelNetwork',
      'installPrimary',
      'installEastwestGateway',
      'probeGatewayAddress',
      'exposeIstiod',
      'exposeServices',
      'exchangeSecret',
    ]);
    expect(ran('west')).toEqual(['labelNetwork', 'installPrimary', 'installEastwestGateway', 'probeGatewayAddress', 'exposeServices', 'exchangeSecret']);
    // edge is on its primary's other network: it carries its own gateway; its secret goes to west too.
    expect(ran('edge')).toEqual([
      'createRemoteNamespace',
      'annotateRemoteNamespace',
      'labelNetwork',
      'installRemote',
      'attachRemote',
      'installEastwestGateway',
      'probeGatewayAddress',
      'exchangeSecret',
    ]);
    for (const c of ['east', 'west', 'edge'])
      for (const p of ['east', 'west'].filter((x) => x !== c))
        expect(f.calls.indexOf(`exchangeSecret@${c}`), `${c}'s secret waits for ${p}`).toBeGreaterThan(f.calls.indexOf(`installPrimary@${p}`));
  });

  it('holds exchange-secret until the other primary runs its control plane', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const f: Fakes = { calls: [], gateway: () => ({ ip: '10.0.0.1', observedAt: 1 }) };
    const twoPrimaries: InstallInput = { ...mixed, members: mixed.members.filter((m) => m.role === 'primary') };
    const machine = machineWith(f);
    const actor = createActor(
      machine.provide({
        actors: {
          primary: primaryMachine.provide({
            actors: {
              ...(machine.implementations.actors.primary as typeof primaryMachine).implementations.actors,
              installPrimary: fromPromise(async ({ input: i }: { input: { cluster: string } }) => {
                f.calls.push(`installPrimary@${i.cluster}`);
                if (i.cluster === 'west') await gate;
                return { finishedAt: 1 };
              }),
            } as never,
          }),
        } as never,
      }),
      { input: twoPrimaries },
    ).start();
    await settle();
    expect(member(actor, 'east').primariesInstalled).toEqual(['east']);
    expect(f.calls).not.toContain('exchangeSecret@east');
    release();
    await settle();
    expect(actor.getSnapshot().status).toBe('done');
    expect(f.calls.filter((c) => c.startsWith('exchangeSecret')).sort()).toEqual(['exchangeSecret@east', 'exchangeSecret@west']);
  });
});
