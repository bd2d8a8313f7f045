// The canary upgrade machine on its own, with fake step actors: phase by phase, one cluster (or wave) at a
// time, and a failure stops it where it is.
import { describe, expect, it } from 'vitest';
import { createActor, type Snapshot } from 'xstate';
import { stepSlots } from '../../machines/steps.js';
import type { UpgradeInput, UpgradeStepInput, WaveNamespace } from '../../machines/types.js';
import { upgradeMachine } from '../../machines/upgrade-machine.js';
import { retry, Script, type ScriptOptions, settle } from './harness.js';
import { mixed } from './meshes.js';

const UPGRADE_ACTORS = [
  'preflight',
  'precheckUpgrade',
  'installRevision',
  'exposeIstiodRevision',
  'installRemoteRevision',
  'awaitRevisionSynced',
  'selectNamespaces',
  'moveWave',
  'awaitWave',
  'upgradeGateway',
  'flipTag',
  'removeOldRevision',
];

const WAVES: WaveNamespace[][] = [
  [{ cluster: 'west', context: 'ctx-west', namespace: 'shop' }],
  [
    { cluster: 'east', context: 'ctx-east', namespace: 'api' },
    { cluster: 'edge', context: 'ctx-edge', namespace: 'web' },
  ],
];

function script(options: ScriptOptions = {}, waves = WAVES): Script {
  return new Script({ ...options, outputs: { 'select-namespaces': () => ({ waves, finishedAt: 1 }) } });
}

function upgradeWith(s: Script) {
  return upgradeMachine.provide({ actors: s.actors(...UPGRADE_ACTORS) as never, actions: s.journalActions });
}

const input: UpgradeInput = { runId: 'mr-t', meshID: 'mesh1', from: '1-24', to: '1-25', members: mixed, keepOld: false, gateTimeoutMs: 90_000 };

const CONTROL_PLANES = [
  'preflight@*',
  'precheck-upgrade@*',
  'install-revision@east',
  'install-revision@west',
  // Only east serves a remote: only its new istiod goes on the gateway.
  'expose-istiod-revision@east',
  'install-remote-revision@edge',
  'await-revision-synced@east',
  'await-revision-synced@west',
  'select-namespaces@*',
];
const DATA_PLANE = ['move-wave@wave-1', 'await-wave@wave-1', 'move-wave@wave-2', 'await-wave@wave-2'];
const GATEWAYS_AND_TAG = ['upgrade-gateway@east', 'upgrade-gateway@west', 'upgrade-gateway@edge', 'flip-tag@east', 'flip-tag@west', 'flip-tag@edge'];
// Remotes first: a remote's old injector goes before the istiod it points at.
const REMOVE_OLD = ['remove-old-revision@edge', 'remove-old-revision@east', 'remove-old-revision@west'];

describe('upgrade: the order', () => {
  it('goes phase by phase, one cluster at a time, the waves as select-namespaces cut them, the old revision last', async () => {
    const s = script();
    const actor = createActor(upgradeWith(s), { input }).start();
    await settle();
    expect(actor.getSnapshot().status).toBe('done');
    expect(actor.getSnapshot().value).toBe('upgraded');
    expect(s.calls).toEqual([...CONTROL_PLANES, ...DATA_PLANE, ...GATEWAYS_AND_TAG, ...REMOVE_OLD]);
    expect(s.succeeded()).toEqual(s.calls);
    expect(actor.getSnapshot().context.waves).toEqual(WAVES);
  });

  it('visits exactly the slots the step table lists for this mesh', async () => {
    const s = script();
    createActor(upgradeWith(s), { input }).start();
    await settle();
    // In the same order too: a plan lists the step table's slots in that order (remotes' old revisions first).
    const slots = stepSlots('upgrade', { members: mixed }, WAVES.length).map((x) => `${x.step}@${x.cluster}`);
    expect(s.calls).toEqual(slots);
  });

  it("gives each step its cluster's place, and a wave step its namespaces", async () => {
    const s = script();
    createActor(upgradeWith(s), { input }).start();
    await settle();
    // east serves edge: its new istiod is external; west serves nobody.
    expect(s.inputOf<UpgradeStepInput>('install-revision@east')).toMatchObject({ context: 'ctx-east', external: true, member: { name: 'east' } });
    expect(s.inputOf<UpgradeStepInput>('install-revision@west')).toMatchObject({ context: 'ctx-west', external: false, from: '1-24', to: '1-25' });
    expect(s.inputOf<UpgradeStepInput>('move-wave@wave-2')).toMatchObject({ wave: WAVES[1], context: 'ctx-east' });
    expect(s.inputOf<UpgradeStepInput>('await-wave@wave-1')).toMatchObject({ wave: WAVES[0], context: 'ctx-west', gateTimeoutMs: 90_000 });
    expect(s.inputOf<UpgradeStepInput>('precheck-upgrade@*')).not.toHaveProperty('member');
  });

  it('with --keep-old, ends after the tag without removing the old revision', async () => {
    const s = script();
    const actor = createActor(upgradeWith(s), { input: { ...input, keepOld: true } }).start();
    await settle();
    expect(actor.getSnapshot().status).toBe('done');
    expect(s.calls).toEqual([...CONTROL_PLANES, ...DATA_PLANE, ...GATEWAYS_AND_TAG]);
  });

  it('with no namespace to move, goes from select-namespaces to the gateways', async () => {
    const s = script({}, []);
    const actor = createActor(upgradeWith(s), { input }).start();
    await settle();
    expect(actor.getSnapshot().status).toBe('done');
    expect(s.calls).toEqual([...CONTROL_PLANES, ...GATEWAYS_AND_TAG, ...REMOVE_OLD]);
  });
});

describe('upgrade: gates and failures', () => {
  it('a wave whose proxies do not connect stops the upgrade there; RETRY waits on that wave again, then goes on', async () => {
    const s = script({ failOnce: ['await-wave@wave-1'] });
    const actor = createActor(upgradeWith(s), { input }).start();
    await settle();
    expect(actor.getSnapshot().status).toBe('active');
    expect(actor.getSnapshot().hasTag('failed')).toBe(true);
    expect(actor.getSnapshot().context.lastFailure).toMatchObject({ step: 'await-wave', cluster: 'wave-1', retryable: true });
    expect(s.journal.at(-1)).toBe('failed await-wave@wave-1: await-wave@wave-1 broke');
    // Nothing after the gate ran: not the next wave, not the gateways, not the tag.
    expect(s.calls).toEqual([...CONTROL_PLANES, 'move-wave@wave-1', 'await-wave@wave-1']);

    actor.send(retry);
    await settle();
    expect(actor.getSnapshot().status).toBe('done');
    expect(s.calls).toEqual([...CONTROL_PLANES, 'move-wave@wave-1', 'await-wave@wave-1', ...DATA_PLANE.slice(1), ...GATEWAYS_AND_TAG, ...REMOVE_OLD]);
  });

  it('a failure mid-phase keeps the clusters already done: RETRY goes on from the failed one', async () => {
    const s = script({ failOnce: ['flip-tag@west'] });
    const actor = createActor(upgradeWith(s), { input }).start();
    await settle();
    expect(s.calls.at(-1)).toBe('flip-tag@west');
    expect(actor.getSnapshot().context).toMatchObject({ cursor: 1, lastFailure: { step: 'flip-tag', cluster: 'west' } });
    actor.send(retry);
    await settle();
    expect(actor.getSnapshot().status).toBe('done');
    expect(s.count('flip-tag@east')).toBe(1);
    expect(s.count('flip-tag@west')).toBe(2);
    expect(s.calls.slice(-4)).toEqual(['flip-tag@edge', ...REMOVE_OLD]);
  });

  it('the new istiod not reporting every cluster synced stops the upgrade before any namespace moves', async () => {
    const s = script({ failAlways: ['await-revision-synced@west'] });
    const actor = createActor(upgradeWith(s), { input }).start();
    await settle();
    actor.send(retry);
    await settle();
    expect(actor.getSnapshot().status).toBe('active');
    expect(s.count('await-revision-synced@west')).toBe(2);
    expect(s.count('await-revision-synced@east')).toBe(1);
    expect(s.calls).not.toContain('select-namespaces@*');
    expect(s.journal.filter((j) => j.startsWith('failed'))).toEqual([
      'failed await-revision-synced@west: await-revision-synced@west broke',
      'failed await-revision-synced@west: await-revision-synced@west broke',
    ]);
  });

  it('a restored snapshot keeps the waves and the cursor: the retried gate is the wave that failed', async () => {
    const first = script({ failAlways: ['await-wave@wave-2'] });
    const stopped = createActor(upgradeWith(first), { input }).start();
    await settle();
    const persisted = JSON.parse(JSON.stringify(stopped.getPersistedSnapshot())) as Snapshot<unknown>;
    stopped.stop();

    // The next process: select-namespaces would cut other waves now, but the run keeps the ones it recorded.
    const s = script({}, [[{ cluster: 'east', context: 'ctx-east', namespace: 'other' }]]);
    const actor = createActor(upgradeWith(s), { input, snapshot: persisted as never }).start();
    actor.send(retry);
    await settle();
    expect(actor.getSnapshot().status).toBe('done');
    expect(s.calls).toEqual(['await-wave@wave-2', ...GATEWAYS_AND_TAG, ...REMOVE_OLD]);
    expect(s.inputOf<UpgradeStepInput>('await-wave@wave-2').wave).toEqual(WAVES[1]);
  });
});
