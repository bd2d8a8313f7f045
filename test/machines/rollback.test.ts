// The upgrade's rollback machine on its own, with fake step actors: the upgrade's phases undone in reverse.
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { stepSlots } from '../../machines/steps.js';
import type { RollbackInput, UpgradeStepInput } from '../../machines/types.js';
import { rollbackMachine } from '../../machines/upgrade-machine.js';
import { primaryRemote } from '../support/shapes.js';
import { retry, Script, type ScriptOptions, settle } from './harness.js';
import { mixed } from './meshes.js';

function rollbackWith(s: Script) {
  return rollbackMachine.provide({
    actors: s.actors('preflight', 'restoreTag', 'restoreGateway', 'restoreNamespaces', 'removeRemoteRevision', 'removeNewRevision') as never,
    actions: s.journalActions,
  });
}

const script = (options: ScriptOptions = {}) => new Script(options);

const input: RollbackInput = { runId: 'mr-t', meshID: 'mesh1', from: '1-24', to: '1-25', members: mixed, keepOld: false, gateTimeoutMs: 90_000 };

const TAG = ['restore-tag@east', 'restore-tag@west', 'restore-tag@edge'];
// Every primary's ingress gateway, and edge's east-west gateway (it is on another network than its primary).
const GATEWAYS = ['restore-gateway@east', 'restore-gateway@west', 'restore-gateway@edge'];
const REVISIONS = ['remove-remote-revision@edge', 'remove-new-revision@east', 'remove-new-revision@west'];

describe('upgrade rollback', () => {
  it('puts the tag back, then the gateways, then the namespaces, and removes the new revision, remotes first', async () => {
    const s = script();
    const actor = createActor(rollbackWith(s), { input }).start();
    await settle();
    expect(actor.getSnapshot().status).toBe('done');
    expect(actor.getSnapshot().value).toBe('rolledBack');
    expect(s.calls).toEqual(['preflight@*', ...TAG, ...GATEWAYS, 'restore-namespaces@*', ...REVISIONS]);
    expect(s.succeeded()).toEqual(s.calls);
    expect([...s.calls].sort()).toEqual(
      stepSlots('upgrade-rollback', { members: mixed })
        .map((x) => `${x.step}@${x.cluster}`)
        .sort(),
    );
    expect(s.inputOf<UpgradeStepInput>('remove-new-revision@east')).toMatchObject({ external: true, context: 'ctx-east', from: '1-24', to: '1-25' });
  });

  it('on one network, restores the gateway of the primary only, and a primary-only mesh has no remote profile to remove', async () => {
    const s = script();
    const onePrimary = primaryRemote('cluster1', []).members;
    const actor = createActor(rollbackWith(s), { input: { ...input, members: [...onePrimary] } }).start();
    await settle();
    expect(actor.getSnapshot().status).toBe('done');
    expect(s.calls).toEqual(['preflight@*', 'restore-tag@cluster1', 'restore-gateway@cluster1', 'restore-namespaces@*', 'remove-new-revision@cluster1']);

    const t = script();
    const pageMesh = primaryRemote('cluster1', ['cluster2']).members;
    createActor(rollbackWith(t), { input: { ...input, members: [...pageMesh] } }).start();
    await settle();
    // The remote shares its primary's network: no gateway of its own.
    expect(t.ran('cluster2')).toEqual(['restore-tag', 'remove-remote-revision']);
  });

  it('a failed restore stops the rollback there; RETRY goes on from the cluster that failed', async () => {
    const s = script({ failOnce: ['restore-gateway@west'] });
    const actor = createActor(rollbackWith(s), { input }).start();
    await settle();
    expect(actor.getSnapshot().status).toBe('active');
    expect(actor.getSnapshot().hasTag('failed')).toBe(true);
    expect(actor.getSnapshot().context).toMatchObject({
      cursor: 1,
      lastFailure: { step: 'restore-gateway', cluster: 'west', message: 'restore-gateway@west broke' },
    });
    expect(s.journal.at(-1)).toBe('failed restore-gateway@west: restore-gateway@west broke');
    expect(s.calls).toEqual(['preflight@*', ...TAG, 'restore-gateway@east', 'restore-gateway@west']);

    actor.send(retry);
    await settle();
    expect(actor.getSnapshot().status).toBe('done');
    expect(s.calls).toEqual([
      'preflight@*',
      ...TAG,
      'restore-gateway@east',
      'restore-gateway@west',
      ...GATEWAYS.slice(1),
      'restore-namespaces@*',
      ...REVISIONS,
    ]);
  });

  it('a failed mesh-wide restore is retried alone, and the phase after it starts from its first cluster', async () => {
    const s = script({ failOnce: ['restore-namespaces@*'] });
    const actor = createActor(rollbackWith(s), { input }).start();
    await settle();
    expect(actor.getSnapshot().context.lastFailure).toMatchObject({ step: 'restore-namespaces', cluster: '*' });
    actor.send(retry);
    await settle();
    expect(actor.getSnapshot().status).toBe('done');
    expect(s.calls).toEqual(['preflight@*', ...TAG, ...GATEWAYS, 'restore-namespaces@*', 'restore-namespaces@*', ...REVISIONS]);
  });
});
