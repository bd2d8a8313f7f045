// cluster add (joinMachine) and cluster remove (leaveMachine) on their own, with fake step actors.
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { memberActorId, primaryMachine, remoteMachine } from '../../machines/install-machine.js';
import { joinMachine, leaveMachine } from '../../machines/membership-machine.js';
import type { JoinContext, JoinInput, LeaveInput, MemberContext, MeshCluster } from '../../machines/types.js';
import { primaryRemote } from '../support/shapes.js';
import { childOf, pause, retry, Script, type ScriptOptions, settle } from './harness.js';

const ADDRESS = '10.9.9.9';

function script(options: ScriptOptions = {}): Script {
  return new Script({
    ...options,
    outputs: {
      preflight: () => ({ istioVersion: '1.25.2', finishedAt: 1 }),
      'read-discovery-address': () => ({ address: ADDRESS, finishedAt: 1 }),
      'annotate-remote-namespace': (i: { primary: { name: string } }) => ({ controlPlaneClusters: i.primary.name, finishedAt: 1 }),
      'await-gateway-address': () => ({ ip: '10.0.0.1', observedAt: 1 }),
      ...options.outputs,
    },
  });
}

function joinWith(s: Script) {
  const shared = { ...s.actors('installEastwestGateway', 'probeGatewayAddress', 'labelNetwork', 'exchangeSecret'), pause };
  const primary = primaryMachine.provide({
    actors: { ...shared, ...s.actors('establishTrust', 'installPrimary', 'exposeIstiod', 'exposeServices') } as never,
    actions: s.journalActions,
  });
  const remote = remoteMachine.provide({
    actors: { ...shared, ...s.actors('createRemoteNamespace', 'annotateRemoteNamespace', 'installRemote', 'attachRemote') } as never,
    actions: s.journalActions,
  });
  return joinMachine.provide({
    actors: { ...s.actors('preflight', 'readDiscoveryAddress', 'receiveSecrets'), primary, remote } as never,
    actions: s.journalActions,
  });
}

function leaveWith(s: Script) {
  return leaveMachine.provide({
    actors: s.actors('preflight', 'removeSample', 'detachRemote', 'releaseSecrets', 'uninstallRemote', 'uninstallPrimary') as never,
    actions: s.journalActions,
  });
}

const base = { runId: 'mr-t', meshID: 'mesh1', gatewayTimeoutMs: 60_000, gatewayPollMs: 1000 };

// A remote joins the page's primary-remote mesh (cluster1 already serves cluster2).
const remoteJoins: JoinInput = { ...base, members: [...primaryRemote('cluster1', ['cluster2', 'cluster3']).members], subject: 'cluster3' };

// A third primary joins a one-network multi-primary mesh.
const primaries: MeshCluster[] = ['east', 'west', 'north'].map((name) => ({ name, context: `ctx-${name}`, role: 'primary', network: 'n1' }));
const primaryJoins: JoinInput = { ...base, members: primaries, subject: 'north' };

describe('cluster add: a joining remote', () => {
  it("reads its primary's address, then runs the remote's install steps on the joining cluster only", async () => {
    const s = script();
    const actor = createActor(joinWith(s), { input: remoteJoins }).start();
    await settle();
    expect(actor.getSnapshot().status).toBe('done');
    expect(actor.getSnapshot().value).toBe('joined');
    expect(s.calls).toEqual([
      'preflight@*',
      'read-discovery-address@cluster1',
      'create-remote-namespace@cluster3',
      'annotate-remote-namespace@cluster3',
      'install-remote@cluster3',
      'attach-remote@cluster3',
    ]);
    expect(s.succeeded()).toEqual(s.calls);
    const context: JoinContext = actor.getSnapshot().context;
    expect(context).toMatchObject({ finished: ['cluster3'], istioVersion: '1.25.2', discoveryAddress: ADDRESS });
    // The remote profile points at the address read from its primary.
    expect(s.inputOf('install-remote@cluster3')).toMatchObject({ discoveryAddress: ADDRESS, primary: { name: 'cluster1' }, istioVersion: '1.25.2' });
    expect(s.inputOf('read-discovery-address@cluster1')).toMatchObject({ context: 'cluster1', step: 'read-discovery-address' });
  });

  it('preflights the joining cluster and every primary, and inventories the joining one only', async () => {
    const s = script();
    createActor(joinWith(s), { input: remoteJoins }).start();
    await settle();
    expect(s.inputOf('preflight@*')).toMatchObject({
      clusters: [
        { name: 'cluster3', context: 'cluster3' },
        { name: 'cluster1', context: 'cluster1' },
      ],
      checkRemoteServers: true,
      recordInventory: true,
      inventoryOf: ['cluster3'],
    });
  });

  it('a failed install step waits in the child; RETRY reaches it and runs no finished step again', async () => {
    const s = script({ failOnce: ['install-remote@cluster3'] });
    const actor = createActor(joinWith(s), { input: remoteJoins }).start();
    await settle();
    expect(actor.getSnapshot().status).toBe('active');
    expect(actor.getSnapshot().value).toBe('joining');
    const child = childOf<MemberContext>(actor, memberActorId('cluster3'));
    expect(child.hasTag('failed')).toBe(true);
    expect(child.context.lastFailure).toMatchObject({ step: 'install-remote', cluster: 'cluster3', message: 'install-remote@cluster3 broke', retryable: true });
    expect(s.journal).toContain('failed install-remote@cluster3: install-remote@cluster3 broke');
    expect(s.calls).not.toContain('attach-remote@cluster3');

    actor.send(retry);
    await settle();
    expect(actor.getSnapshot().status).toBe('done');
    expect(s.calls.slice(s.calls.indexOf('install-remote@cluster3') + 1)).toEqual(['install-remote@cluster3', 'attach-remote@cluster3']);
    for (const once of ['preflight@*', 'read-discovery-address@cluster1', 'create-remote-namespace@cluster3']) expect(s.count(once), once).toBe(1);
  });

  it('a failed address read stops before the child; RETRY reads it again and the child gets it', async () => {
    const s = script({ failOnce: ['read-discovery-address@cluster1'] });
    const actor = createActor(joinWith(s), { input: remoteJoins }).start();
    await settle();
    const snapshot = actor.getSnapshot();
    expect(snapshot.hasTag('failed')).toBe(true);
    expect(snapshot.context.lastFailure).toMatchObject({ step: 'read-discovery-address', cluster: 'cluster1' });
    expect(snapshot.children[memberActorId('cluster3')]).toBeUndefined();
    expect(s.calls).toEqual(['preflight@*', 'read-discovery-address@cluster1']);

    actor.send(retry);
    await settle();
    expect(actor.getSnapshot().status).toBe('done');
    expect(s.count('preflight@*')).toBe(1);
    expect(s.inputOf('install-remote@cluster3')).toMatchObject({ discoveryAddress: ADDRESS });
  });
});

describe('cluster add: a joining primary', () => {
  it('installs its control plane, sends its secret to the primaries already running, then receives theirs', async () => {
    const s = script();
    const actor = createActor(joinWith(s), { input: primaryJoins }).start();
    await settle();
    expect(actor.getSnapshot().status).toBe('done');
    // One network, no remotes: no gateway, no address to read; the other primaries run already.
    expect(s.calls).toEqual(['preflight@*', 'install-primary@north', 'exchange-secret@north', 'receive-secrets@north']);
    expect(s.succeeded()).toEqual(s.calls);
    const refs = [
      { name: 'east', context: 'ctx-east' },
      { name: 'west', context: 'ctx-west' },
    ];
    expect(s.inputOf('exchange-secret@north')).toMatchObject({ holders: refs, context: 'ctx-north' });
    expect(s.inputOf('receive-secrets@north')).toMatchObject({ sources: refs, context: 'ctx-north', istioVersion: '1.25.2' });
  });

  it('a failed receive-secrets is retried alone: the finished child is not run again', async () => {
    const s = script({ failOnce: ['receive-secrets@north'] });
    const actor = createActor(joinWith(s), { input: primaryJoins }).start();
    await settle();
    expect(actor.getSnapshot().hasTag('failed')).toBe(true);
    expect(actor.getSnapshot().context.lastFailure).toMatchObject({ step: 'receive-secrets', cluster: 'north' });
    expect(s.journal.at(-1)).toBe('failed receive-secrets@north: receive-secrets@north broke');

    actor.send(retry);
    await settle();
    expect(actor.getSnapshot().status).toBe('done');
    expect(s.calls).toEqual(['preflight@*', 'install-primary@north', 'exchange-secret@north', 'receive-secrets@north', 'receive-secrets@north']);
  });
});

// The page's mesh with two remotes; and two primaries on one network.
const withRemotes = primaryRemote('cluster1', ['cluster2', 'cluster3']).members;
const twoPrimaries: MeshCluster[] = primaries.slice(0, 2);

describe('cluster remove', () => {
  it('a leaving remote: its sample, its secret off its primary, then its Istio; nothing on the others', async () => {
    const s = script();
    const input: LeaveInput = { runId: 'mr-t', members: [...withRemotes], subject: 'cluster3' };
    const actor = createActor(leaveWith(s), { input }).start();
    await settle();
    expect(actor.getSnapshot().status).toBe('done');
    expect(actor.getSnapshot().value).toBe('removed');
    expect(s.calls).toEqual(['preflight@*', 'remove-sample@cluster3', 'detach-remote@cluster3', 'uninstall-remote@cluster3']);
    expect(s.succeeded()).toEqual(s.calls);
    expect(s.inputOf('preflight@*')).toMatchObject({ clusters: [{ name: 'cluster3' }, { name: 'cluster1' }] });
    expect(s.inputOf('detach-remote@cluster3')).toMatchObject({ role: 'remote', holders: [{ name: 'cluster1', context: 'cluster1' }] });
  });

  it("a leaving primary also gives back the other clusters' secrets it holds, then uninstalls its primary", async () => {
    const s = script();
    const input: LeaveInput = { runId: 'mr-t', members: twoPrimaries, subject: 'west' };
    const actor = createActor(leaveWith(s), { input }).start();
    await settle();
    expect(actor.getSnapshot().status).toBe('done');
    expect(s.calls).toEqual(['preflight@*', 'remove-sample@west', 'detach-remote@west', 'release-secrets@west', 'uninstall-primary@west']);
    expect(s.inputOf('release-secrets@west')).toMatchObject({ sources: [{ name: 'east', context: 'ctx-east' }], context: 'ctx-west' });
  });

  it('a failed detach keeps its Istio installed; RETRY detaches again and goes on', async () => {
    const s = script({ failOnce: ['detach-remote@cluster3'] });
    const input: LeaveInput = { runId: 'mr-t', members: [...withRemotes], subject: 'cluster3' };
    const actor = createActor(leaveWith(s), { input }).start();
    await settle();
    expect(actor.getSnapshot().hasTag('failed')).toBe(true);
    expect(actor.getSnapshot().context.lastFailure).toMatchObject({ step: 'detach-remote', cluster: 'cluster3', retryable: true });
    expect(s.journal.at(-1)).toBe('failed detach-remote@cluster3: detach-remote@cluster3 broke');
    expect(s.calls).not.toContain('uninstall-remote@cluster3');

    actor.send(retry);
    await settle();
    expect(actor.getSnapshot().status).toBe('done');
    expect(s.calls).toEqual(['preflight@*', 'remove-sample@cluster3', 'detach-remote@cluster3', 'detach-remote@cluster3', 'uninstall-remote@cluster3']);
  });

  it('a step that keeps failing keeps the run where it stopped', async () => {
    const s = script({ failAlways: ['uninstall-primary@west'] });
    const actor = createActor(leaveWith(s), { input: { runId: 'mr-t', members: twoPrimaries, subject: 'west' } }).start();
    await settle();
    actor.send(retry);
    await settle();
    expect(actor.getSnapshot().status).toBe('active');
    expect(actor.getSnapshot().hasTag('failed')).toBe(true);
    expect(s.count('uninstall-primary@west')).toBe(2);
    expect(s.count('release-secrets@west')).toBe(1);
    expect(s.journal.filter((j) => j.startsWith('failed'))).toHaveLength(2);
  });
});
