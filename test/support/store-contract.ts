// The store contract as tests: every backend (SQLite in memory and on a WAL file, PostgreSQL) runs this suite and must pass it
// unchanged. Each test opens a fresh, empty store.

import { afterEach, describe, expect, it } from 'vitest';
import { FencedError } from '../../shared/errors.js';
import type { MeshConfig } from '../../shared/model.js';
import type { Actor, ClaimRequest, LeaseHolder, NewRun, Store } from '../../store/contract.js';
import { wholeSnapshot } from '../../store/snapshot-parts.js';

const ALICE: Actor = { user: 'alice', host: 'laptop', pid: 101 };
const BOB: Actor = { user: 'bob', host: 'desk', pid: 202 };
const CONFIG: MeshConfig = {
  meshID: 'mesh1',
  clusters: [
    { name: 'cluster1', context: 'ctx1', role: 'primary', network: 'network1' },
    { name: 'cluster2', context: 'ctx2', role: 'remote', network: 'network1', controlPlane: 'cluster1' },
  ],
  timeouts: { gatewayAddressMs: 120_000, commandMs: 600_000 },
  retry: { attempts: 3, initialDelayMs: 1000, maxDelayMs: 30_000, factor: 2 },
  tools: { kubectl: 'kubectl', istioctl: 'istioctl' },
  maxParallelRemotes: 4,
  verify: { timeoutMs: 120_000 },
};

const holder = (token: string, actor: Actor, heartbeat: number): LeaseHolder => ({ token, pid: actor.pid, host: actor.host, user: actor.user, heartbeat });

function newRun(id: string, createdAt: number, extra: Partial<NewRun> = {}): NewRun {
  return {
    id,
    kind: 'install',
    topology: 'primary-remote',
    mode: 'dry-run',
    config: CONFIG,
    configHash: `hash-${id}`,
    configPath: null,
    createdAt,
    machineVersion: 7,
    ...extra,
  };
}

function claim(token: string, actor: Actor, at: number, keys: string[], alive = true): ClaimRequest {
  return { lease: holder(token, actor, at), keys, staleAfterMs: 30_000, isAlive: () => alive };
}

// Where a backend keeps a store: open() gives a handle; with `shared`, a second handle (another process,
// in effect) sees what the first wrote.
export interface StorePlace {
  open(): Promise<Store>;
  shared: boolean;
}

export function storeContract(backend: string, place: () => StorePlace): void {
  describe(`the store contract: ${backend}`, () => {
    let store: Store;
    let here: StorePlace;
    const opened: Store[] = [];
    const fresh = async () => {
      here = place();
      store = await here.open();
      opened.push(store);
      return store;
    };
    // Another handle on the same store (as another process would have).
    const another = async () => {
      const second = await here.open();
      opened.push(second);
      return second;
    };
    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close();
    });

    // A run created with its lease and no clusters claimed.
    const created = async (id: string, at: number, extra: Partial<NewRun> = {}) => {
      const result = await store.runs.createRun(newRun(id, at, extra), ALICE, claim(`t-${id}`, ALICE, at, []));
      expect(result).toEqual({ created: true });
    };

    it('records a run with its config, its "started" event and its lease, and reads it back whole', async () => {
      await fresh();
      await created('mr-aaaa0001', 1000, { configPath: '/etc/mesh.yaml', targetRun: null });
      const run = await store.runs.getRun('mr-aaaa0001');
      expect(run).toMatchObject({
        id: 'mr-aaaa0001',
        kind: 'install',
        storedKind: 'install',
        mode: 'dry-run',
        status: 'running',
        configHash: 'hash-mr-aaaa0001',
        configPath: '/etc/mesh.yaml',
        createdAt: 1000,
        finishedAt: null,
        machineVersion: 7,
        snapshot: null,
        error: null,
        targetRun: null,
        damaged: [],
        lease: { token: 't-mr-aaaa0001', pid: 101, host: 'laptop', user: 'alice', heartbeat: 1000 },
      });
      expect(run?.config).toEqual(CONFIG);
      // A dry run without a world of its own acts on the world named by its id.
      expect(run?.simWorld).toBe('mr-aaaa0001');
      expect((await store.runs.listEvents('mr-aaaa0001')).map((e) => [e.type, e.user, e.host, e.pid])).toEqual([['started', 'alice', 'laptop', 101]]);
      expect(await store.runs.getRun('mr-missing')).toBeUndefined();
    });

    it('records the events given with a run in the same step as the run', async () => {
      await fresh();
      await created('mr-aaaa0002', 1000, { kind: 'uninstall', events: [{ type: 'forced', detail: 'uninstall --force: skipped' }] });
      expect((await store.runs.listEvents('mr-aaaa0002')).map((e) => [e.type, e.detail])).toEqual([
        ['started', null],
        ['forced', 'uninstall --force: skipped'],
      ]);
    });

    it('refuses a run whose clusters a live run holds, writing nothing; a stale or ended holder does not count', async () => {
      await fresh();
      const first = await store.runs.createRun(newRun('mr-hold0001', 1000), ALICE, claim('a', ALICE, 1000, ['context:ctx1', 'context:ctx2']));
      expect(first).toEqual({ created: true });
      const seed = { world: { id: 'mr-hold0002', settingsJson: '{"w":1}' }, faults: [], faultWorld: 'mr-hold0002' };
      const refused = await store.runs.createRun(newRun('mr-hold0002', 2000), BOB, claim('b', BOB, 2000, ['context:ctx2']), seed);
      expect(refused).toMatchObject({ created: false, busy: { runId: 'mr-hold0001', kind: 'install', key: 'context:ctx2', lease: { pid: 101 } } });
      expect(await store.runs.getRun('mr-hold0002')).toBeUndefined();
      expect(await store.worlds.getWorld('mr-hold0002')).toBeUndefined();
      // The holder died: its claim no longer counts.
      expect(await store.runs.createRun(newRun('mr-hold0003', 3000), BOB, claim('c', BOB, 3000, ['context:ctx2'], false))).toEqual({ created: true });
      // A run that ended lets go of its clusters.
      await store.runs.endRun('mr-hold0003', 'c', 'succeeded', BOB, 4000, null);
      expect(await store.runs.createRun(newRun('mr-hold0004', 5000), BOB, claim('d', BOB, 5000, ['context:ctx2']))).toEqual({ created: true });
      // A heartbeat older than staleAfterMs no longer counts either.
      expect(await store.runs.createRun(newRun('mr-hold0005', 5000 + 30_001), ALICE, claim('e', ALICE, 5000 + 30_001, ['context:ctx2']))).toEqual({
        created: true,
      });
    });

    it('creates a dry run with its world and injected failures, which a world transaction uses up', async () => {
      await fresh();
      const seed = {
        world: { id: 'w1', settingsJson: '{"clusters":2}' },
        faults: [
          { step: 'install-remote', cluster: 'cluster2', remaining: 2, kind: 'transient' as const },
          { step: 'preflight', cluster: null, remaining: 1, kind: 'permanent' as const },
        ],
        faultWorld: 'w1',
      };
      await store.runs.createRun(newRun('mr-world001', 1000, { simWorld: 'w1' }), ALICE, claim('a', ALICE, 1000, ['world:w1']), seed);
      expect((await store.runs.getRun('mr-world001'))?.simWorld).toBe('w1');
      expect(await store.worlds.getWorld('w1')).toBe('{"clusters":2}');
      expect((await store.worlds.faults('w1')).map((f) => [f.step, f.cluster, f.remaining, f.kind])).toEqual([
        ['install-remote', 'cluster2', 2, 'transient'],
        ['preflight', null, 1, 'permanent'],
      ]);
      const taken = await store.worlds.transact('w1', (o) => [o.takeFault('install-remote', 'cluster2'), o.takeFault('install-remote', 'cluster3')]);
      expect(taken[0]).toMatchObject({ step: 'install-remote', remaining: 2 });
      expect(taken[1]).toBeUndefined();
      // A fault without a cluster applies to every cluster, once.
      expect(await store.worlds.transact('w1', (o) => o.takeFault('preflight', 'anything'))).toMatchObject({ kind: 'permanent' });
      expect(await store.worlds.transact('w1', (o) => o.takeFault('preflight', 'anything'))).toBeUndefined();
      expect((await store.worlds.faults('w1')).map((f) => f.remaining)).toEqual([1, 0]);
    });

    it('applies a world transaction whole or not at all, and keeps worlds apart', async () => {
      await fresh();
      await store.worlds.putWorld('w1', '{}');
      await store.worlds.putWorld('w2', '{}');
      const key = { context: 'c1', kind: 'Namespace', namespace: '', name: 'istio-system' };
      await store.worlds.transact('w1', (o) => o.put(key, '{"v":1}'));
      await expect(
        store.worlds.transact('w1', (o) => {
          o.put(key, '{"v":2}');
          o.put({ ...key, name: 'sample' }, '{}');
          throw new Error('the API server refused');
        }),
      ).rejects.toThrow('the API server refused');
      expect(await store.worlds.transact('w1', (o) => [o.get(key), o.list('c1').map((x) => x.name)])).toEqual(['{"v":1}', ['istio-system']]);
      expect(await store.worlds.transact('w2', (o) => o.list('c1'))).toEqual([]);
      await store.worlds.transact('w1', (o) => o.remove(key));
      expect(await store.worlds.transact('w1', (o) => [o.get(key), o.settings()])).toEqual([undefined, '{}']);
      await store.worlds.putWorld('w1', '{"lb":"ip"}');
      expect(await store.worlds.getWorld('w1')).toBe('{"lb":"ip"}');
    });

    it('lists objects of one kind in order, and all of a cluster by kind, namespace, name', async () => {
      await fresh();
      await store.worlds.putWorld('w', '{}');
      await store.worlds.transact('w', (o) => {
        o.put({ context: 'c1', kind: 'Secret', namespace: 'istio-system', name: 'b' }, '{}');
        o.put({ context: 'c1', kind: 'Secret', namespace: 'istio-system', name: 'a' }, '{}');
        o.put({ context: 'c1', kind: 'Namespace', namespace: '', name: 'istio-system' }, '{}');
        o.put({ context: 'c2', kind: 'Secret', namespace: 'istio-system', name: 'c' }, '{}');
      });
      expect(await store.worlds.transact('w', (o) => o.list('c1', 'Secret').map((x) => x.name))).toEqual(['a', 'b']);
      expect(await store.worlds.transact('w', (o) => o.list('c1').map((x) => `${x.kind}/${x.name}`))).toEqual([
        'Namespace/istio-system',
        'Secret/a',
        'Secret/b',
      ]);
    });

    it('finds runs by id prefix (no wildcards), lists them newest first, and those acting on a run', async () => {
      await fresh();
      await created('mr-find0001', 1000);
      await created('mr-find0002', 2000);
      await created('mr-fi_d0003', 3000);
      await created('mr-verify01', 4000, { kind: 'verify', targetRun: 'mr-find0001' });
      await created('mr-uninst01', 5000, { kind: 'uninstall', targetRun: 'mr-find0001' });
      expect(await store.runs.findRunIds('mr-find', 10)).toEqual(['mr-find0002', 'mr-find0001']);
      expect(await store.runs.findRunIds('mr-fi_', 10)).toEqual(['mr-fi_d0003']);
      expect(await store.runs.findRunIds('mr-fi%', 10)).toEqual([]);
      expect(await store.runs.findRunIds('mr-', 2)).toHaveLength(2);
      expect((await store.runs.listRuns(3)).map((r) => r.id)).toEqual(['mr-uninst01', 'mr-verify01', 'mr-fi_d0003']);
      expect((await store.runs.listRunsTargeting('mr-find0001')).map((r) => [r.id, r.kind])).toEqual([
        ['mr-verify01', 'verify'],
        ['mr-uninst01', 'uninstall'],
      ]);
    });

    it('numbers attempts per step and cluster, and a transition closes only the open one with its snapshot', async () => {
      await fresh();
      await created('mr-att00001', 1);
      const slot = { step: 'install-primary', cluster: 'cluster1', context: 'ctx1' };
      const t = 't-mr-att00001';
      const a1 = await store.runs.openAttempt('mr-att00001', t, wholeSnapshot('{"s":1}'), slot, 10);
      expect(a1).toMatchObject({ attempt: 1, outcome: 'running', startedAt: 10, endedAt: null, context: 'ctx1' });
      await store.runs.closeAttempt('mr-att00001', t, a1.id, 'failed', { message: 'boom', hint: 'retry' }, 11);
      const a2 = await store.runs.openAttempt('mr-att00001', t, null, slot, 12);
      expect(a2.attempt).toBe(2);
      expect((await store.runs.openAttempt('mr-att00001', t, null, { ...slot, cluster: 'cluster9' }, 12)).attempt).toBe(1);
      await store.runs.commitTransition(
        'mr-att00001',
        t,
        wholeSnapshot('{"s":2}'),
        [{ step: 'install-primary', cluster: 'cluster1', outcome: 'succeeded', at: 13 }],
        13,
      );
      const attempts = await store.runs.listAttempts('mr-att00001');
      expect(attempts.map((a) => [a.cluster, a.attempt, a.outcome, a.endedAt, a.error?.message ?? null])).toEqual([
        ['cluster1', 1, 'failed', 11, 'boom'],
        ['cluster1', 2, 'succeeded', 13, null],
        ['cluster9', 1, 'running', null, null],
      ]);
      expect((await store.runs.getRun('mr-att00001'))?.snapshot).toBe('{"s":2}');
      // openAttempt with a snapshot saves it, and closes what the transition before it closed.
      await store.runs.openAttempt('mr-att00001', t, wholeSnapshot('{"s":3}'), { ...slot, step: 'expose-istiod' }, 20, [
        { step: 'install-primary', cluster: 'cluster9', outcome: 'failed', error: { message: 'no' }, at: 19 },
      ]);
      expect((await store.runs.listAttempts('mr-att00001')).find((a) => a.cluster === 'cluster9')).toMatchObject({ outcome: 'failed', endedAt: 19 });
      expect((await store.runs.getRun('mr-att00001'))?.snapshot).toBe('{"s":3}');
    });

    it('journals commands in groups, with their processes and results, argv intact', async () => {
      await fresh();
      await created('mr-cmd00001', 1);
      const t = 't-mr-cmd00001';
      const attempt = await store.runs.openAttempt('mr-cmd00001', t, null, { step: 'preflight', cluster: '*', context: null }, 2);
      const argv = ['--context=ctx1', 'get', 'ns', 'a b', 'quote"d', 'ünïcode'];
      const ids = await store.runs.journalCommands(
        'mr-cmd00001',
        t,
        [
          { runId: 'mr-cmd00001', attemptId: attempt.id, tool: 'kubectl', argv, context: 'ctx1', at: 3 },
          { runId: 'mr-cmd00001', attemptId: null, tool: 'istioctl', argv: ['version'], context: null, at: 4 },
        ],
        [],
      );
      expect(ids).toHaveLength(2);
      expect(await store.runs.journalCommands('mr-cmd00001', t, [], [], [])).toEqual([]);
      await store.runs.journalCommands(
        'mr-cmd00001',
        t,
        [],
        [{ id: ids[0] as number, exitCode: 0, durationMs: 5, stdoutTail: 'ok\n', stderrTail: '', at: 8 }],
        [{ id: ids[1] as number, pid: 4242, pgid: 4242, procStart: 'boot:99' }],
      );
      const commands = await store.runs.listCommands('mr-cmd00001');
      expect(commands.map((c) => [c.id, c.attemptId, c.tool, c.argv, c.exitCode, c.endedAt, c.durationMs, c.stdoutTail, c.pid, c.procStart])).toEqual([
        [ids[0], attempt.id, 'kubectl', argv, 0, 8, 5, 'ok\n', null, null],
        [ids[1], null, 'istioctl', ['version'], null, null, null, null, 4242, 'boot:99'],
      ]);
    });

    it('resuming closes what was left open as interrupted and says who resumed; ending records status and error', async () => {
      await fresh();
      await created('mr-res00001', 1);
      const t = 't-mr-res00001';
      await store.runs.openAttempt('mr-res00001', t, null, { step: 'install-remote', cluster: 'cluster2', context: 'ctx2' }, 2);
      await store.runs.journalCommands(
        'mr-res00001',
        t,
        [{ runId: 'mr-res00001', attemptId: null, tool: 'istioctl', argv: ['install'], context: 'ctx2', at: 3 }],
        [],
      );
      // The driver died: its attempt and command are still open when the next one resumes.
      await store.runs.endRun('mr-res00001', t, 'failed', ALICE, 4, { message: 'no address', step: 'await-gateway-address', cluster: 'cluster1' }, 'gave up');
      expect(await store.runs.getRun('mr-res00001')).toMatchObject({
        status: 'failed',
        finishedAt: 4,
        error: { message: 'no address', step: 'await-gateway-address' },
        // Ending a run lets go of its lease in the same step.
        lease: null,
      });
      expect(await store.runs.acquireLease('mr-res00001', holder('b', BOB, 9), 30_000, () => true)).toEqual({ acquired: true });
      await store.runs.beginResume('mr-res00001', 'b', 'the process stopped; resumed', BOB, 10, 'from failed');
      const run = await store.runs.getRun('mr-res00001');
      expect(run).toMatchObject({ status: 'running', finishedAt: null, error: null });
      expect((await store.runs.listAttempts('mr-res00001'))[0]).toMatchObject({
        outcome: 'interrupted',
        endedAt: 10,
        error: { message: 'the process stopped; resumed' },
      });
      expect((await store.runs.listCommands('mr-res00001'))[0]?.endedAt).toBe(10);
      await store.runs.endRun('mr-res00001', 'b', 'interrupted', BOB, 20, { message: 'SIGINT' });
      expect(await store.runs.acquireLease('mr-res00001', holder('c', BOB, 25), 30_000, () => true)).toEqual({ acquired: true });
      await store.runs.endRun('mr-res00001', 'c', 'succeeded', BOB, 30, null);
      expect((await store.runs.listEvents('mr-res00001')).map((e) => [e.type, e.user, e.detail])).toEqual([
        ['started', 'alice', null],
        ['failed', 'alice', 'gave up'],
        ['resumed', 'bob', 'from failed'],
        ['interrupted', 'bob', null],
        ['succeeded', 'bob', null],
      ]);
      expect(await store.runs.getRun('mr-res00001')).toMatchObject({ status: 'succeeded', finishedAt: 30, error: null });
    });

    it('keeps step events with where they happened, and the first observation of each subject', async () => {
      await fresh();
      await created('mr-obs00001', 1);
      const t = 't-mr-obs00001';
      await store.runs.addEvent('mr-obs00001', t, 'kept', ALICE, 5, 'namespace istio-system existed before', { step: 'uninstall-remote', cluster: 'cluster2' });
      const events = await store.runs.listEvents('mr-obs00001');
      expect(events[1]).toMatchObject({ runId: 'mr-obs00001', type: 'kept', at: 5, step: 'uninstall-remote', cluster: 'cluster2', pid: 101 });
      await store.runs.recordObservations('mr-obs00001', t, [
        { runId: 'mr-obs00001', cluster: 'cluster1', subject: 'secret/istio-system/cacerts', present: true, owner: null, detail: null, at: 6 },
        { runId: 'mr-obs00001', cluster: 'cluster2', subject: 'namespace/istio-system', present: false, owner: null, detail: { label: 'x' }, at: 7 },
      ]);
      await store.runs.recordObservations('mr-obs00001', t, [
        { runId: 'mr-obs00001', cluster: 'cluster1', subject: 'secret/istio-system/cacerts', present: false, owner: 'mesh-run', detail: null, at: 8 },
      ]);
      await store.runs.recordObservations('mr-obs00001', t, []);
      expect(await store.runs.listObservations(['mr-obs00001', 'mr-other'])).toEqual([
        { runId: 'mr-obs00001', cluster: 'cluster1', subject: 'secret/istio-system/cacerts', present: true, owner: null, detail: null, at: 6 },
        { runId: 'mr-obs00001', cluster: 'cluster2', subject: 'namespace/istio-system', present: false, owner: null, detail: { label: 'x' }, at: 7 },
      ]);
      expect(await store.runs.listObservations([])).toEqual([]);
    });

    it('answers history queries: filters combine, newest first, bounded', async () => {
      await fresh();
      await created('mr-hist0001', 1000);
      await created('mr-hist0002', 2000, { kind: 'verify' });
      const open = (run: string, step: string, cluster: string, at: number) =>
        store.runs.openAttempt(run, `t-${run}`, null, { step, cluster, context: cluster }, at);
      const a = await open('mr-hist0001', 'install-remote', 'cluster2', 100);
      await store.runs.closeAttempt('mr-hist0001', 't-mr-hist0001', a.id, 'failed', { message: 'forbidden' }, 110);
      await open('mr-hist0001', 'install-remote', 'cluster2', 200);
      await open('mr-hist0001', 'install-remote', 'cluster3', 300);
      await open('mr-hist0002', 'deploy-samples', 'cluster2', 400);
      const q = async (filter: Parameters<Store['runs']['queryAttempts']>[0]) =>
        (await store.runs.queryAttempts(filter)).map((x) => `${x.runId}:${x.cluster}:${x.attempt}`);
      expect(await q({ limit: 10 })).toEqual(['mr-hist0002:cluster2:1', 'mr-hist0001:cluster3:1', 'mr-hist0001:cluster2:2', 'mr-hist0001:cluster2:1']);
      expect(await q({ cluster: 'cluster2', limit: 10 })).toEqual(['mr-hist0002:cluster2:1', 'mr-hist0001:cluster2:2', 'mr-hist0001:cluster2:1']);
      expect(await q({ cluster: 'cluster2', outcome: 'failed', limit: 10 })).toEqual(['mr-hist0001:cluster2:1']);
      expect(await q({ step: 'install-remote', since: 150, until: 300, limit: 10 })).toEqual(['mr-hist0001:cluster2:2']);
      expect(await q({ kind: 'verify', limit: 10 })).toEqual(['mr-hist0002:cluster2:1']);
      expect(await q({ runId: 'mr-hist0001', limit: 2 })).toEqual(['mr-hist0001:cluster3:1', 'mr-hist0001:cluster2:2']);
      await store.runs.addEvent('mr-hist0002', 't-mr-hist0002', 'forced', BOB, 2500, 'x');
      const events = async (filter: Parameters<Store['runs']['queryEvents']>[0]) => (await store.runs.queryEvents(filter)).map((e) => `${e.runId}:${e.type}`);
      expect(await events({ limit: 10 })).toEqual(['mr-hist0002:forced', 'mr-hist0002:started', 'mr-hist0001:started']);
      expect(await events({ kind: 'install', limit: 10 })).toEqual(['mr-hist0001:started']);
      expect(await events({ since: 2000, until: 2500, limit: 10 })).toEqual(['mr-hist0002:started']);
    });

    it('fences every write by the lease: once another driver holds the run, the old token changes nothing anywhere', async () => {
      await fresh();
      const seed = { world: { id: 'mr-fence001', settingsJson: '{"w":1}' }, faults: [], faultWorld: 'mr-fence001' };
      expect(await store.runs.createRun(newRun('mr-fence001', 1000), ALICE, claim('a', ALICE, 1000, ['world:mr-fence001']), seed)).toEqual({ created: true });
      const slot = { step: 'install-remote', cluster: 'cluster2', context: 'ctx2' };
      const attempt = await store.runs.openAttempt('mr-fence001', 'a', wholeSnapshot('{"s":1}'), slot, 1001);
      const [cmd] = await store.runs.journalCommands(
        'mr-fence001',
        'a',
        [{ runId: 'mr-fence001', attemptId: attempt.id, tool: 'kubectl', argv: ['get'], context: 'ctx2', at: 1002 }],
        [],
      );
      const key = { context: 'ctx2', kind: 'Namespace', namespace: '', name: 'istio-system' };
      await store.worlds.transact('mr-fence001', (o) => o.put(key, '{"v":1}'), { runId: 'mr-fence001', fence: 'a' });
      // Alice's driver went silent; Bob takes the run over.
      expect(await store.runs.acquireLease('mr-fence001', holder('b', BOB, 40_000), 30_000, () => true, ['world:mr-fence001'])).toMatchObject({
        acquired: true,
        tookOverFrom: { token: 'a' },
      });
      const before = JSON.stringify([await store.runs.exportRun('mr-fence001'), await store.worlds.exportWorld('mr-fence001')]);
      const close = [{ step: 'install-remote', cluster: 'cluster2', outcome: 'failed' as const, error: { message: 'late' }, at: 41_000 }];
      const obs = { runId: 'mr-fence001', cluster: 'cluster2', subject: 'namespace/x', present: true, owner: null, detail: null, at: 41_000 };
      const stale: Array<[string, () => Promise<unknown>]> = [
        ['commitTransition', () => store.runs.commitTransition('mr-fence001', 'a', wholeSnapshot('{"s":9}'), close, 41_000)],
        ['openAttempt', () => store.runs.openAttempt('mr-fence001', 'a', wholeSnapshot('{"s":9}'), { ...slot, step: 'attach-remote' }, 41_000, close)],
        ['openAttempt without snapshot', () => store.runs.openAttempt('mr-fence001', 'a', null, slot, 41_000)],
        ['closeAttempt', () => store.runs.closeAttempt('mr-fence001', 'a', attempt.id, 'failed', { message: 'late' }, 41_000)],
        ['beginResume', () => store.runs.beginResume('mr-fence001', 'a', 'late', ALICE, 41_000)],
        ['endRun', () => store.runs.endRun('mr-fence001', 'a', 'interrupted', ALICE, 41_000, { message: 'lease-lost' })],
        [
          'journalCommands (new)',
          () =>
            store.runs.journalCommands(
              'mr-fence001',
              'a',
              [{ runId: 'mr-fence001', attemptId: attempt.id, tool: 'kubectl', argv: ['x'], context: 'ctx2', at: 41_000 }],
              [],
            ),
        ],
        [
          'journalCommands (result)',
          () =>
            store.runs.journalCommands('mr-fence001', 'a', [], [{ id: cmd as number, exitCode: 0, durationMs: 1, stdoutTail: '', stderrTail: '', at: 41_000 }]),
        ],
        ['journalCommands (process)', () => store.runs.journalCommands('mr-fence001', 'a', [], [], [{ id: cmd as number, pid: 1, pgid: 1, procStart: null }])],
        ['addEvent', () => store.runs.addEvent('mr-fence001', 'a', 'kept', ALICE, 41_000, 'x')],
        ['recordObservations', () => store.runs.recordObservations('mr-fence001', 'a', [obs])],
        ['updateRunConfig', () => store.runs.updateRunConfig('mr-fence001', 'a', CONFIG, 'other')],
        ['a simulated command that writes', () => store.worlds.transact('mr-fence001', (o) => o.put(key, '{"v":2}'), { runId: 'mr-fence001', fence: 'a' })],
        ['a simulated command that reads', () => store.worlds.transact('mr-fence001', (o) => o.get(key), { runId: 'mr-fence001', fence: 'a' })],
      ];
      for (const [what, write] of stale) {
        const refused = await write().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(refused, what).toBeInstanceOf(FencedError);
        expect((refused as FencedError).holder, what).toEqual({ pid: 202, host: 'desk', user: 'bob' });
      }
      expect(JSON.stringify([await store.runs.exportRun('mr-fence001'), await store.worlds.exportWorld('mr-fence001')])).toBe(before);
      // The holder's token writes; an operator's request needs none.
      await store.runs.addEvent('mr-fence001', null, 'cancel-requested', ALICE, 42_000, 'by alice@laptop');
      await store.runs.endRun('mr-fence001', 'b', 'succeeded', BOB, 43_000, null);
      // Ended: the lease went with the end, in the same step; even its last holder writes nothing more.
      expect((await store.runs.getRun('mr-fence001'))?.lease).toBeNull();
      const after = await store.runs.addEvent('mr-fence001', 'b', 'kept', BOB, 44_000, 'x').catch((e: unknown) => e);
      expect(after).toBeInstanceOf(FencedError);
      expect(after).toMatchObject({ holder: null, runStatus: 'succeeded' });
    });

    it('lets one holder drive a run: a live one keeps it, a dead or silent one is taken over, and says from whom', async () => {
      await fresh();
      await created('mr-lease001', 1000);
      await store.runs.releaseLease('mr-lease001', 't-mr-lease001');
      expect((await store.runs.getRun('mr-lease001'))?.lease).toBeNull();
      expect(await store.runs.acquireLease('mr-lease001', holder('a', ALICE, 1000), 30_000, () => true)).toEqual({ acquired: true });
      expect(await store.runs.acquireLease('mr-lease001', holder('b', BOB, 2000), 30_000, () => true)).toMatchObject({
        acquired: false,
        holder: { token: 'a', pid: 101 },
      });
      // The same holder asking again keeps it.
      expect(await store.runs.acquireLease('mr-lease001', holder('a', ALICE, 2000), 30_000, () => true)).toEqual({ acquired: true });
      expect(await store.runs.acquireLease('mr-lease001', holder('b', BOB, 3000), 30_000, () => false)).toMatchObject({
        acquired: true,
        tookOverFrom: { token: 'a', pid: 101 },
      });
      expect(await store.runs.acquireLease('mr-lease001', holder('c', ALICE, 3000 + 30_001), 30_000, () => true)).toMatchObject({
        acquired: true,
        tookOverFrom: { token: 'b' },
      });
      expect(await store.runs.heartbeat('mr-lease001', 'b', 40_000)).toBe(false);
      expect(await store.runs.heartbeat('mr-lease001', 'c', 40_000)).toBe(true);
      expect((await store.runs.getRun('mr-lease001'))?.lease?.heartbeat).toBe(40_000);
      // Only the holder lets go.
      await store.runs.releaseLease('mr-lease001', 'b');
      expect((await store.runs.getRun('mr-lease001'))?.lease?.token).toBe('c');
      await store.runs.releaseLease('mr-lease001', 'c');
      expect((await store.runs.getRun('mr-lease001'))?.lease).toBeNull();
    });

    it('takes a lease and its clusters together, or neither', async () => {
      await fresh();
      await store.runs.createRun(newRun('mr-claim001', 1000), ALICE, claim('a', ALICE, 1000, ['context:ctx1']));
      await created('mr-claim002', 1000);
      await store.runs.releaseLease('mr-claim002', 't-mr-claim002');
      const refused = await store.runs.acquireLease('mr-claim002', holder('b', BOB, 2000), 30_000, () => true, ['context:ctx2', 'context:ctx1']);
      expect(refused).toMatchObject({ acquired: false, busy: { runId: 'mr-claim001', key: 'context:ctx1' } });
      expect((await store.runs.getRun('mr-claim002'))?.lease).toBeNull();
      // ctx2 was not taken by the refused request.
      expect(await store.runs.createRun(newRun('mr-claim003', 2000), BOB, claim('c', BOB, 2000, ['context:ctx2']))).toEqual({ created: true });
      await store.runs.releaseLease('mr-claim001', 'a');
      expect(await store.runs.acquireLease('mr-claim002', holder('b', BOB, 3000), 30_000, () => true, ['context:ctx1'])).toEqual({ acquired: true });
      expect(await store.runs.createRun(newRun('mr-claim004', 3000), ALICE, claim('d', ALICE, 3000, ['context:ctx1']))).toMatchObject({
        created: false,
        busy: { runId: 'mr-claim002' },
      });
    });

    it('replaces a run config that resume --force accepted', async () => {
      await fresh();
      await created('mr-conf0001', 1);
      const changed = { ...CONFIG, timeouts: { ...CONFIG.timeouts, gatewayAddressMs: 180_000 } };
      await store.runs.updateRunConfig('mr-conf0001', 't-mr-conf0001', changed, 'new-hash');
      const run = await store.runs.getRun('mr-conf0001');
      expect(run?.configHash).toBe('new-hash');
      expect(run?.config?.timeouts.gatewayAddressMs).toBe(180_000);
    });

    it('lets an operator break a lease whose holder is gone: only the token it saw, journaled, claims freed', async () => {
      await fresh();
      await store.runs.createRun(newRun('mr-break001', 1000), ALICE, claim('a', ALICE, 1000, ['context:ctx1']));
      expect(await store.runs.breakLease('mr-break001', 'not-the-token', BOB, 2000, 'x')).toBe('changed');
      expect((await store.runs.getRun('mr-break001'))?.lease?.token).toBe('a');
      expect(await store.runs.breakLease('mr-break001', 'a', BOB, 2000, 'holder pid 101 on laptop (user alice) was gone')).toBe('released');
      expect((await store.runs.getRun('mr-break001'))?.lease).toBeNull();
      const events = await store.runs.listEvents('mr-break001');
      expect(events.at(-1)).toMatchObject({ type: 'unlocked', user: 'bob', host: 'desk', detail: 'holder pid 101 on laptop (user alice) was gone' });
      // Its clusters are free, although the run still says running.
      expect(await store.runs.createRun(newRun('mr-break002', 2001), BOB, claim('b', BOB, 2001, ['context:ctx1']))).toEqual({ created: true });
    });

    it('tells a watcher when another handle changes the run, and stops when asked', async (ctx) => {
      await fresh();
      // One in-memory database cannot have a second handle.
      if (!here.shared) ctx.skip();
      await created('mr-watch001', 1000);
      const writer = await another();
      let calls = 0;
      const stop = await store.runs.watchRun('mr-watch001', () => {
        calls++;
      });
      await writer.runs.addEvent('mr-watch001', 't-mr-watch001', 'kept', BOB, 1001, 'something');
      const deadline = Date.now() + 5000;
      while (calls === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(calls).toBeGreaterThan(0);
      await stop();
      const after = calls;
      await writer.runs.addEvent('mr-watch001', 't-mr-watch001', 'kept', BOB, 1002, 'again');
      await new Promise((r) => setTimeout(r, 600));
      expect(calls).toBe(after);
    });

    it('keeps a snapshot in parts: a write changes only the parts it names, and getRun and export put them back', async () => {
      await fresh();
      await created('mr-parts001', 1);
      const slot = { step: 'install-primary', cluster: 'cluster1', context: 'ctx1' };
      const root = (n: number, ids: string[]) =>
        JSON.stringify({ value: n, children: Object.fromEntries(ids.map((id) => [id, { src: 'member', snapshot: { $part: id } }])) });
      const whole = async () => JSON.parse((await store.runs.getRun('mr-parts001'))?.snapshot ?? 'null');
      await store.runs.openAttempt(
        'mr-parts001',
        't-mr-parts001',
        {
          root: root(1, ['a', 'b']),
          parts: [
            ['a', '{"x":1}'],
            ['b', '{"y":1}'],
          ],
          dropped: [],
          full: true,
        },
        slot,
        2,
      );
      expect(await whole()).toEqual({ value: 1, children: { a: { src: 'member', snapshot: { x: 1 } }, b: { src: 'member', snapshot: { y: 1 } } } });
      // Only b moved: the root and a stay as written.
      await store.runs.commitTransition('mr-parts001', 't-mr-parts001', { root: undefined, parts: [['b', '{"y":2}']], dropped: [], full: false }, [], 3);
      expect(await whole()).toEqual({ value: 1, children: { a: { src: 'member', snapshot: { x: 1 } }, b: { src: 'member', snapshot: { y: 2 } } } });
      // a went away; then a new driver writes everything again, and parts it does not name are gone.
      await store.runs.commitTransition('mr-parts001', 't-mr-parts001', { root: root(2, ['b']), parts: [], dropped: ['a'], full: false }, [], 4);
      expect(await whole()).toEqual({ value: 2, children: { b: { src: 'member', snapshot: { y: 2 } } } });
      await store.runs.commitTransition('mr-parts001', 't-mr-parts001', { root: root(3, ['c']), parts: [['c', '{"z":3}']], dropped: [], full: true }, [], 5);
      expect(await whole()).toEqual({ value: 3, children: { c: { src: 'member', snapshot: { z: 3 } } } });
      // Exported as stored, root and parts; a store that imports it keeps them so, and reads the same whole.
      const exported = await store.runs.exportRun('mr-parts001');
      expect(JSON.parse(exported?.run.snapshotJson ?? 'null')).toEqual({ value: 3, children: { c: { src: 'member', snapshot: { $part: 'c' } } } });
      expect(exported?.parts).toEqual([{ part: 'c', json: '{"z":3}' }]);
      const target = await place().open();
      opened.push(target);
      await target.runs.importRun(exported as NonNullable<typeof exported>);
      expect((await target.runs.exportRun('mr-parts001'))?.parts).toEqual(exported?.parts);
      expect(JSON.parse((await target.runs.getRun('mr-parts001'))?.snapshot ?? 'null')).toEqual(await whole());
      // A reference whose part is missing stays a reference: the engine's restore check calls that damaged.
      await store.runs.commitTransition('mr-parts001', 't-mr-parts001', { root: root(4, ['b']), parts: [], dropped: [], full: true }, [], 6);
      expect(await whole()).toEqual({ value: 4, children: { b: { src: 'member', snapshot: { $part: 'b' } } } });
    });

    it('exports a run with all it recorded, and imports it elsewhere unchanged (new row ids, same content)', async () => {
      await fresh();
      await created('mr-copy0001', 1000, { configPath: '/etc/mesh.yaml' });
      const t = 't-mr-copy0001';
      const attempt = await store.runs.openAttempt(
        'mr-copy0001',
        t,
        wholeSnapshot('{"s":1}'),
        { step: 'install-primary', cluster: 'cluster1', context: 'ctx1' },
        1001,
      );
      const [cmd] = await store.runs.journalCommands(
        'mr-copy0001',
        t,
        [{ runId: 'mr-copy0001', attemptId: attempt.id, tool: 'istioctl', argv: ['install', '-y'], context: 'ctx1', at: 1002 }],
        [],
      );
      await store.runs.journalCommands('mr-copy0001', t, [], [{ id: cmd as number, exitCode: 0, durationMs: 3, stdoutTail: 'ok', stderrTail: '', at: 1005 }]);
      await store.runs.commitTransition(
        'mr-copy0001',
        t,
        wholeSnapshot('{"s":2}'),
        [{ step: 'install-primary', cluster: 'cluster1', outcome: 'succeeded', at: 1006 }],
        1006,
      );
      await store.runs.recordObservations('mr-copy0001', t, [
        { runId: 'mr-copy0001', cluster: 'cluster1', subject: 'namespace/istio-system', present: true, owner: null, detail: { a: 'b' }, at: 1001 },
      ]);
      await store.runs.endRun('mr-copy0001', t, 'succeeded', ALICE, 1007, null);
      const exported = await store.runs.exportRun('mr-copy0001');
      expect(exported?.run).toMatchObject({ id: 'mr-copy0001', kind: 'install', status: 'succeeded', snapshotJson: '{"s":2}', configPath: '/etc/mesh.yaml' });
      expect(await store.runs.exportRun('mr-nothere')).toBeUndefined();
      const target = await place().open();
      opened.push(target);
      await target.runs.importRun(exported as NonNullable<typeof exported>);
      const again = await target.runs.exportRun('mr-copy0001');
      const withoutIds = (e: typeof exported) => ({
        run: e?.run,
        parts: e?.parts,
        attempts: e?.attempts.map(({ id: _id, ...a }) => a),
        commands: e?.commands.map(({ id: _id, attemptId, ...c }) => ({ ...c, attempt: e.attempts.findIndex((a) => a.id === attemptId) })),
        events: e?.events.map(({ id: _id, ...ev }) => ev),
        observations: e?.observations,
      });
      expect(withoutIds(again)).toEqual(withoutIds(exported));
      expect((await target.runs.getRun('mr-copy0001'))?.lease).toBeNull();
    });

    it('exports a simulated world whole and imports it in place of another', async () => {
      await fresh();
      await store.worlds.putWorld('w1', '{"lb":"ip"}');
      await store.worlds.transact('w1', (o) => {
        o.put({ context: 'c2', kind: 'Namespace', namespace: '', name: 'istio-system' }, '{"n":1}');
        o.put({ context: 'c1', kind: 'Secret', namespace: 'istio-system', name: 'cacerts' }, '{"s":1}');
      });
      await store.runs.createRun(newRun('mr-wexp0001', 1000, { simWorld: 'w1' }), ALICE, claim('a', ALICE, 1000, []), {
        world: null,
        faults: [{ step: 'install-remote', cluster: null, remaining: 2, kind: 'transient' }],
        faultWorld: 'w1',
      });
      const world = await store.worlds.exportWorld('w1');
      expect(world?.objects.map((o) => `${o.context}/${o.kind}/${o.name}`)).toEqual(['c1/Secret/cacerts', 'c2/Namespace/istio-system']);
      expect(world?.faults).toEqual([{ step: 'install-remote', cluster: null, remaining: 2, kind: 'transient' }]);
      expect(await store.worlds.exportWorld('nope')).toBeUndefined();
      const target = await place().open();
      opened.push(target);
      await target.worlds.putWorld('w1', '{"old":true}');
      await target.worlds.transact('w1', (o) => o.put({ context: 'c9', kind: 'Pod', namespace: 'x', name: 'stale' }, '{}'));
      await target.worlds.importWorld(world as NonNullable<typeof world>);
      expect(await target.worlds.exportWorld('w1')).toEqual(world);
      expect(await target.worlds.transact('w1', (o) => o.list('c9'))).toEqual([]);
    });
  });
}
