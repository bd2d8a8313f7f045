// drift --watch, the loop (engine/drift-watch.ts) with fakes: only changes are said, by a drift's stable key;
// the journal hook is offered a check only when it changed something (or the hook failed last time); a failed
// check or repair is said and tried again, never ending the watch; a repair is tried only on a complete check;
// a successful one is checked again at once, once; the stop ends it between two checks. The flags: --interval
// parsed with a bound, the watch flags refused without --watch, a real mesh not repaired without --yes.
// test/drift-watch-mesh.test.ts runs the CLI against a simulated mesh.
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { driftChanges, driftKey } from '../engine/drift-changes.js';
import type { DriftItem, DriftReport, UnreadCluster } from '../engine/drift-service.js';
import { watchDrift } from '../engine/drift-watch.js';
import type { DriftWatchDeps, RepairAttempt, WatchEvent } from '../engine/drift-watch-model.js';
import { PreconditionError } from '../shared/errors.js';
import { tempDir } from './support/cli.js';
import { runCli } from './support/cli-here.js';
import { PROD, recordRealMesh } from './support/real-mesh.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const item = (kind: DriftItem['kind'], cluster: string, extra: Partial<DriftItem> = {}): DriftItem => ({
  kind,
  cluster,
  what: `${kind} on ${cluster}`,
  why: 'it matters',
  repair: 'mesh-run repair',
  ...extra,
});
const unread = (cluster: string, error = 'connection refused'): UnreadCluster => ({ cluster, context: cluster, error });

function report(drift: DriftItem[] = [], unreadable: UnreadCluster[] = []): DriftReport {
  return {
    mesh: 'mesh1',
    mode: 'dry-run',
    topology: 'primary-remote',
    membershipRun: 'mr-install1',
    clusters: [
      { name: 'cluster1', context: 'cluster1', role: 'primary', network: 'network1' },
      { name: 'cluster2', context: 'cluster2', role: 'remote', network: 'network1', controlPlane: 'cluster1' },
    ],
    checkedAt: '2025-01-01T00:00:00.000Z',
    drift,
    unreadable,
  };
}

// The watch over a script of checks (an Error: that check throws), every event and wait in the order they came.
interface Script {
  checks: Array<DriftReport | Error>;
  repair?: (report: DriftReport, signal: AbortSignal, started: (run: string, repairs: string[]) => void) => Promise<RepairAttempt>;
  onChange?: (report: DriftReport) => Promise<void>;
}
async function watch(script: Script, controller = new AbortController()) {
  const log: string[] = [];
  const events: WatchEvent[] = [];
  const recorded: number[] = [];
  let n = 0;
  let clock = Date.parse('2025-01-01T00:00:00Z');
  const deps: DriftWatchDeps = {
    check: async () => {
      const next = script.checks[n++] as DriftReport | Error;
      log.push(`check ${n}`);
      if (next instanceof Error) throw next;
      return next;
    },
    ...(script.onChange
      ? {
          onChange: async (r: DriftReport) => {
            recorded.push(n);
            await script.onChange?.(r);
          },
        }
      : {}),
    ...(script.repair ? { repair: script.repair } : {}),
    sleep: async (ms) => {
      log.push(`sleep ${ms}`);
      clock += ms;
    },
    now: () => clock,
    emit: (e) => {
      events.push(e);
      log.push(e.type === 'drift-found' || e.type === 'drift-gone' ? `${e.type} ${e.item.kind}@${e.item.cluster}` : e.type);
    },
  };
  const summary = await watchDrift(deps, { intervalMs: 1000, signal: controller.signal, maxChecks: script.checks.length });
  return { log, events, recorded, summary };
}

const secretMissing = item('remote-secret-missing', 'cluster1', { source: 'cluster2' });
const label = item('network-label', 'cluster2');

describe('what changed between two checks', () => {
  it('keys a drift by kind, cluster, source and secret, not by its wording', () => {
    const reworded: DriftItem = { ...secretMissing, what: 'said otherwise now' };
    expect(driftKey(secretMissing)).toBe(driftKey(reworded));
    expect(driftKey(secretMissing)).not.toBe(driftKey({ ...secretMissing, source: 'cluster3' }));
    expect(driftKey(item('remote-secret-stale', 'cluster1', { secret: 'a' }))).not.toBe(driftKey(item('remote-secret-stale', 'cluster1', { secret: 'b' })));
    const moved = item('gateway-address', 'cluster2', { what: 'points at 10.0.0.1' });
    expect(driftChanges(report([moved]), report([{ ...moved, what: 'points at 10.0.0.2' }]))).toEqual([]);
  });

  it('says drifts found and gone, and clusters unreadable and readable again, each once', () => {
    const changes = driftChanges(report([secretMissing], [unread('cluster2'), unread('cluster2', 'again')]), report([label], [unread('cluster1')]));
    expect(
      changes.map((c) =>
        c.type === 'drift-found' || c.type === 'drift-gone'
          ? `${c.type} ${c.item.kind}`
          : `${c.type} ${typeof c.cluster === 'string' ? c.cluster : c.cluster.cluster}`,
      ),
    ).toEqual(['drift-found network-label', 'drift-gone remote-secret-missing', 'unreadable cluster1', 'readable cluster2']);
  });
});

describe('the watch loop', () => {
  it('says the first check in full, then only changes; the journal hook is given the first check and each change only', async () => {
    const { log, recorded, events } = await watch({
      checks: [report([secretMissing]), report([secretMissing]), report([secretMissing, label]), report([label]), report([label])],
      onChange: async () => {},
    });
    expect(log).toEqual([
      'check 1',
      'drift-found remote-secret-missing@cluster1',
      'watching',
      'sleep 1000',
      'check 2',
      'sleep 1000',
      'check 3',
      'drift-found network-label@cluster2',
      'sleep 1000',
      'check 4',
      'drift-gone remote-secret-missing@cluster1',
      'sleep 1000',
      'check 5',
    ]);
    expect(recorded).toEqual([1, 3, 4]);
    expect(events[1]).toMatchObject({ type: 'watching', mesh: 'mesh1', drift: 1, unreadable: 0, repair: false, clusters: ['cluster1', 'cluster2'] });
    expect(events[0]?.at).toBe('2025-01-01T00:00:00.000Z');
    expect(events.at(-1)?.at).toBe('2025-01-01T00:00:03.000Z');
  });

  it('a journal hook that fails is said, and given the next check again though nothing changed', async () => {
    let fail = true;
    const { log, recorded } = await watch({
      checks: [report(), report(), report()],
      onChange: async () => {
        if (fail) {
          fail = false;
          throw new Error('database is locked');
        }
      },
    });
    expect(recorded).toEqual([1, 2]);
    expect(log.filter((l) => l === 'record-failed')).toHaveLength(1);
  });

  it('the first check failing is the watch failing; a later one is said once while it lasts, and the watch goes on', async () => {
    await expect(watch({ checks: [new PreconditionError('store', 'no such store')] })).rejects.toThrow('no such store');
    const down = new Error('the database is busy');
    const { log, events } = await watch({ checks: [report(), down, down, report([label])] });
    expect(log).toEqual([
      'check 1',
      'watching',
      'sleep 1000',
      'check 2',
      'check-failed',
      'sleep 1000',
      'check 3',
      'sleep 1000',
      'check 4',
      'check-recovered',
      'drift-found network-label@cluster2',
    ]);
    expect(events.find((e) => e.type === 'check-failed')).toMatchObject({ mesh: 'mesh1', error: { code: 'internal', message: 'the database is busy' } });
  });

  it('repairs what it finds; a repair that took is checked again at once (once), one refused busy is tried next interval, one whose run failed a check later', async () => {
    const attempts: RepairAttempt[] = [
      { status: 'busy', message: 'run mr-other (repair) is still running on these simulated clusters' },
      { status: 'failed', run: 'mr-r1', repairs: ['remote-secret-missing@cluster1'], error: { code: 'run-failed', message: 'apply refused' } },
      { status: 'succeeded', run: 'mr-r2', repairs: ['remote-secret-missing@cluster1'] },
      { status: 'succeeded', run: 'mr-r3', repairs: ['remote-secret-missing@cluster1'] },
      { status: 'nothing' },
    ];
    const repair = async (_r: DriftReport, _s: AbortSignal, started: (run: string, repairs: string[]) => void) => {
      const next = attempts.shift() as RepairAttempt;
      if ('run' in next) started(next.run, next.repairs);
      return next;
    };
    // The drift comes back straight after the first repair that took: the second is not followed at once by another.
    const drifted = report([secretMissing]);
    const { log, summary } = await watch({ checks: [drifted, drifted, drifted, drifted, drifted, report()], repair });
    expect(log).toEqual([
      'check 1',
      'drift-found remote-secret-missing@cluster1',
      'watching',
      'repair-busy',
      'sleep 1000',
      'check 2',
      'repair-started',
      'repair-ended',
      'sleep 1000',
      // The run failed: the same drift waits a check before another run is started.
      'check 3',
      'sleep 1000',
      'check 4',
      'repair-started',
      'repair-ended',
      'check 5',
      'repair-started',
      'repair-ended',
      'sleep 1000',
      'check 6',
      'drift-gone remote-secret-missing@cluster1',
    ]);
    expect(summary).toEqual({ checks: 6, repairs: 3 });
  });

  it('a repair that throws is said and tried next interval; nothing is repaired while a cluster cannot be read', async () => {
    let calls = 0;
    const repair = async (): Promise<RepairAttempt> => {
      calls++;
      throw new PreconditionError('cluster-unreadable', 'could not read cluster2');
    };
    const { events } = await watch({ checks: [report([label]), report([label]), report([label], [unread('cluster2')])], repair });
    expect(calls).toBe(2);
    expect(events.filter((e) => e.type === 'repair-refused')).toEqual([
      expect.objectContaining({ error: { code: 'cluster-unreadable', message: 'could not read cluster2' } }),
      expect.objectContaining({ error: { code: 'cluster-unreadable', message: 'could not read cluster2' } }),
    ]);
    expect(events.at(-1)).toMatchObject({ type: 'unreadable', cluster: { cluster: 'cluster2' } });
  });

  it('stops between two checks when the signal aborts, and says a repair run the stop interrupted', async () => {
    const controller = new AbortController();
    const deps = (repair?: DriftWatchDeps['repair']): DriftWatchDeps => ({
      check: async () => report([label]),
      ...(repair ? { repair } : {}),
      sleep: (_ms, signal) =>
        new Promise((_, reject) => {
          controller.abort('SIGINT');
          reject(signal.reason);
        }),
      now: Date.now,
      emit: () => {},
    });
    expect(await watchDrift(deps(), { intervalMs: 60_000, signal: controller.signal })).toEqual({ checks: 1, repairs: 0 });
    const stopping = new AbortController();
    const interrupted = await watchDrift(
      {
        ...deps(),
        repair: async () => {
          stopping.abort('SIGTERM');
          return { status: 'interrupted', run: 'mr-r1', repairs: ['network-label@cluster2'] };
        },
      },
      { intervalMs: 60_000, signal: stopping.signal },
    );
    expect(interrupted).toEqual({ checks: 1, repairs: 1, interruptedRun: 'mr-r1' });
  });
});

describe('drift --watch flags', () => {
  const db = join(tmp.dir, 'none.db');
  it.each([
    [['--watch', '--interval', '10ms'], '--interval "10ms": expected a duration from 250ms to 24h, such as 30s or 5m'],
    [['--watch', '--interval', 'soon'], '--interval "soon": expected a duration'],
    [['--watch', '--interval', '25h'], '--interval "25h": expected a duration'],
    [['--interval', '30s'], '--interval without --watch'],
    [['--repair'], '--repair without --watch: a one-off repair is "mesh-run repair --mesh <mesh>"'],
    [['--watch', '--yes'], '--yes without --repair'],
  ])('drift %j: exit 2 naming the flag', async (flags, message) => {
    const result = await runCli(['drift', '--mesh', 'mesh1', '--db', db, ...flags]);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain(message);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('a real mesh is not watched with --repair unless --yes says so (a watch cannot ask)', async () => {
    const real = join(tmp.dir, 'real.db');
    await recordRealMesh(real, PROD);
    const refused = await runCli(['drift', '--mesh', 'prod', '--db', real, '--watch', '--interval', '250ms', '--repair']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--repair on mesh prod: its clusters are real and a watch repairs them without asking; add --yes');
  });
});

describe('a repair that keeps failing', () => {
  it('is started again after 1, 2, 4 … checks of the same drift (each failed run is journaled), at once when the drift changes', async () => {
    let runs = 0;
    const repair = async (_r: DriftReport, _s: AbortSignal, started: (run: string, repairs: string[]) => void): Promise<RepairAttempt> => {
      runs++;
      started(`mr-f${runs}`, ['remote-secret-missing@cluster1']);
      return {
        status: 'failed',
        run: `mr-f${runs}`,
        repairs: ['remote-secret-missing@cluster1'],
        error: { code: 'run-failed', message: 'gateway has no address' },
      };
    };
    const same = Array.from({ length: 10 }, () => report([secretMissing]));
    const { log } = await watch({ checks: [...same, report([secretMissing, label])], repair });
    const tried = log.flatMap((l, i) => (l === 'repair-started' ? [log.slice(0, i).filter((x) => x.startsWith('check ')).length] : []));
    // Checks 1, 3 (after waiting 1), 6 (after 2), 11 (the drift changed: at once; it would have waited 4).
    expect(tried).toEqual([1, 3, 6, 11]);
  });
});
