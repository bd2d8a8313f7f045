// npm run bench: the engine's schedule against the critical path, its own overhead, resume, start-up,
// memory, and history queries on a large journal. Prints figures; asserts nothing.
import { spawn, spawnSync } from 'node:child_process';
import { setMaxListeners } from 'node:events';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { ClusterTools, Command } from '../adapters/cluster-tools.js';
import { MEAN_MS, modelledDuration } from '../adapters/simulator/setup.js';
import * as activities from '../engine/activities/install.js';
import type { StepRuntime } from '../engine/activities/step-runtime.js';
import { generateIntermediate, generateRoot } from '../engine/activities/trust/ca.js';
import { newWorldSeed, openStore, type StoreLocation, toolsFor } from '../engine/composition.js';
import { loadConfig } from '../engine/config/mesh-config.js';
import { historyAttempts, runTimeline } from '../engine/run-queries.js';
import { prepareFollowUp, prepareInstall, prepareResume } from '../engine/run-service.js';
import { meshView } from '../engine/views/mesh-view.js';
import { type PlannedCommand, planInstall } from '../engine/views/plan.js';
import type { StepId } from '../machines/steps.js';
import { primariesOf, remotesOf } from '../machines/topology.js';
import type { MeshCluster, MeshConfig } from '../shared/model.js';
import { sleep } from '../shared/sleep.js';
import { parseStoreLocation } from '../store/location.js';
import { dropStamp, integrityProblems } from '../store/sqlite/integrity.js';
import { openDb } from '../store/sqlite/open-db.js';
import { type PgServer, postgresBinaries, startPostgres } from './local-postgres.js';

const TIME_SCALE = Number(process.env.MESH_RUN_BENCH_SCALE ?? 0.01);
const work = mkdtempSync(join(tmpdir(), 'mesh-run-bench-'));
const cli = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const rows: string[][] = [];
const out = (...cells: Array<string | number>) => rows.push(cells.map(String));
const sqlite = (path: string): StoreLocation => ({ kind: 'sqlite', path });

// A durable local PostgreSQL (fsync on, as a team's would run), started on first use; none where PostgreSQL
// is not installed (its rows are left out).
let pgServer: PgServer | undefined;
function postgres(): PgServer | undefined {
  if (!pgServer && postgresBinaries()) pgServer = startPostgres({ durable: true });
  return pgServer;
}
const postgresAt = (server: PgServer, schema: string) => parseStoreLocation(server.url(schema), 'bench') as StoreLocation & { kind: 'postgres' };
// The most remotes a run lets run steps at once (maxParallelRemotes' bound).
const MAX_PARALLEL = 256;
const ms = (n: number) => `${n.toFixed(n < 10 ? 2 : 0)} ms`;

function configFor(remotes: number, extra = ''): string {
  const file = join(work, `remotes-${remotes}.yaml`);
  const list = Array.from({ length: remotes }, (_, i) => `  - {name: remote${i + 1}, context: remote${i + 1}}`).join('\n');
  writeFileSync(file, `remotes:\n${list}\nmaxParallelRemotes: ${Math.min(Math.max(remotes, 1), MAX_PARALLEL)}\n${extra}`);
  return file;
}

// One dry run at the realistic latency model; returns its wall time and id.
async function timedInstall(configPath: string, dbPath: string, extra: Partial<Parameters<typeof prepareInstall>[0]> = {}) {
  const started = performance.now();
  const prepared = await prepareInstall({
    configPath,
    dryRun: true,
    injections: [],
    simulation: { realisticLatency: { timeScale: TIME_SCALE } },
    store: sqlite(dbPath),
    ...extra,
  });
  const { outcome } = await prepared.begin();
  const elapsed = performance.now() - started;
  await prepared.close();
  return { elapsed, runId: prepared.run.id, outcome };
}

// The longest chain of truly dependent steps, from the same latency model the simulator uses.
function criticalPath(plan: PlannedCommand[], config: MeshConfig, seed: string): number {
  const model = { timeScale: TIME_SCALE, jitter: 0.15, seed };
  const cost = (c: Command) => modelledDuration(c, model);
  const slot = (step: StepId, cluster: string) => plan.filter((p) => p.step === step && p.cluster === cluster);
  const d = (step: StepId, cluster: string) => {
    const commands = slot(step, cluster);
    // preflight asks every context for its version at once; everything else runs one command after another.
    const together = commands.filter(
      (p) => step === 'preflight' && p.command.args.includes('version') && p.command.args.some((a) => a.startsWith('--context=')),
    );
    const inSequence = commands.filter((p) => !together.includes(p));
    return inSequence.reduce((t, p) => t + cost(p.command), 0) + Math.max(0, ...together.map((p) => cost(p.command)));
  };
  const primary = (primariesOf({ members: config.clusters })[0] as MeshCluster).name;
  const pre = d('preflight', '*');
  const p1 = pre + d('install-primary', primary);
  const ewInstall = slot('install-eastwest-gateway', primary)[0] as PlannedCommand;
  const p2 = p1 + d('install-eastwest-gateway', primary);
  const lbReady = p1 + cost(ewInstall.command) + MEAN_MS.loadBalancerAddress * TIME_SCALE;
  const p3 = Math.max(p2, lbReady) + d('await-gateway-address', primary);
  let end = p3 + d('expose-istiod', primary);
  for (const r of remotesOf({ members: config.clusters })) {
    const annotated = pre + d('create-remote-namespace', r.name) + d('annotate-remote-namespace', r.name);
    end = Math.max(end, Math.max(p3, annotated) + d('install-remote', r.name) + d('attach-remote', r.name));
  }
  return end;
}

// The Istio page run strictly in its order, one step after another, on the same simulator.
async function sequentialBaseline(config: MeshConfig, seed: string): Promise<number> {
  const store = await openStore(sqlite(':memory:'), 'create');
  // The world is created the way a run creates it (with a bench run that holds nothing).
  // Its latency model is seeded by the world's id, as the critical path's is.
  const settings = newWorldSeed(seed, config, { realisticLatency: { timeScale: TIME_SCALE } }, [], Date.now());
  const operator = { user: 'bench', host: 'bench', pid: process.pid };
  const lease = { token: 'bench', pid: process.pid, host: 'bench', user: 'bench', heartbeat: Date.now() };
  await store.runs.createRun(
    {
      id: 'baseline',
      kind: 'install',
      topology: 'primary-remote',
      mode: 'dry-run',
      config,
      configHash: 'bench',
      configPath: null,
      createdAt: Date.now(),
      machineVersion: 0,
      simWorld: seed,
    },
    operator,
    { lease, keys: [], staleAfterMs: 1, isAlive: () => true },
    settings,
  );
  const tools: ClusterTools = await toolsFor('dry-run', config, store, seed);
  const signal = new AbortController().signal;
  setMaxListeners(0, signal);
  const rt = (step: StepId, cluster: string): StepRuntime => ({
    signal,
    now: Date.now,
    note: () => {},
    observe: async () => {},
    report: async () => {},
    run: (c) => tools.run(c, { signal, timeoutMs: 600_000, step, cluster }),
    presentToken: (probe) => tools.presentToken(probe, { signal, timeoutMs: 600_000 }),
    pipe: (a, b) => tools.pipe(a, b, { signal, timeoutMs: 600_000, step, cluster }),
  });
  const deps = { config };
  const p = primariesOf({ members: config.clusters })[0] as MeshCluster;
  const base = { runId: 'baseline', meshID: config.meshID, network: p.network, cluster: p.name, context: p.context };
  const started = performance.now();
  const pf = await activities.preflight(rt('preflight', '*'), { ...base, step: 'preflight', cluster: '*', clusters: config.clusters }, deps);
  const primaryInput = { ...base, istioVersion: pf.istioVersion, external: true };
  await activities.installPrimary(rt('install-primary', p.name), { ...primaryInput, step: 'install-primary' }, deps);
  await activities.installEastwestGateway(rt('install-eastwest-gateway', p.name), { ...primaryInput, step: 'install-eastwest-gateway' }, deps);
  let ip: string | undefined;
  while (!ip) {
    ip = (await activities.probeGatewayAddress(rt('await-gateway-address', p.name), { ...primaryInput, step: 'await-gateway-address' }, deps)).ip;
    if (!ip) await sleep(Math.max(5, 1000 * TIME_SCALE), signal);
  }
  await activities.exposeIstiodStep(rt('expose-istiod', p.name), { ...primaryInput, step: 'expose-istiod' });
  for (const r of remotesOf({ members: config.clusters })) {
    const input = {
      runId: 'baseline',
      meshID: config.meshID,
      cluster: r.name,
      context: r.context,
      primary: { name: p.name, context: p.context },
      network: r.network,
      istioVersion: pf.istioVersion,
      discoveryAddress: ip,
    };
    await activities.createRemoteNamespace(rt('create-remote-namespace', r.name), { ...input, step: 'create-remote-namespace' });
    await activities.annotateRemoteNamespace(rt('annotate-remote-namespace', r.name), { ...input, step: 'annotate-remote-namespace' });
    await activities.installRemote(rt('install-remote', r.name), { ...input, step: 'install-remote' });
    await activities.attachRemote(rt('attach-remote', r.name), { ...input, step: 'attach-remote' }, deps);
  }
  const elapsed = performance.now() - started;
  await store.close();
  return elapsed;
}

// MESH_RUN_BENCH_REMOTES=1,4,16 picks the fleet sizes (default: up to 1024).
const FLEETS = (process.env.MESH_RUN_BENCH_REMOTES ?? '1,4,16,64,256,1024').split(',').map(Number);
// Past this many remotes the sequential baseline (the page run one remote after another) takes minutes and
// says nothing new: its cost grows linearly.
const BASELINE_UP_TO = 64;
const rss = () => `${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`;

async function makespans(): Promise<void> {
  out('section', 'makespan at the realistic latency model', `time scale ${TIME_SCALE}`, '', '', '', '');
  out('remotes', 'makespan', 'critical path', 'ratio', 'sequential baseline', 'speed-up vs baseline', 'peak RSS so far');
  for (const n of FLEETS) {
    const path = configFor(n);
    const { config } = loadConfig(path);
    const run = await timedInstall(path, join(work, `makespan-${n}.db`));
    if (run.outcome.status !== 'succeeded') throw new Error(`bench run with ${n} remotes ended ${run.outcome.status}`);
    const plan = await planInstall(config);
    // Past MAX_PARALLEL remotes wait for a slot: the critical path (everything at once) is no longer the bound.
    const cp = criticalPath(plan.commands, config, run.runId);
    const comparable = n <= MAX_PARALLEL;
    const baseline = n <= BASELINE_UP_TO ? await sequentialBaseline(config, run.runId) : undefined;
    out(
      n,
      ms(run.elapsed),
      comparable ? ms(cp) : `${ms(cp)} (${MAX_PARALLEL} at once)`,
      comparable ? (run.elapsed / cp).toFixed(3) : '-',
      baseline === undefined ? '-' : ms(baseline),
      baseline === undefined ? '-' : `${(baseline / run.elapsed).toFixed(1)}x`,
      rss(),
    );
  }
}

async function overhead(): Promise<void> {
  out('section', 'engine overhead with zero simulated latency (16 remotes)', '', '', '', '');
  out('store', 'wall time', 'transitions', 'per transition', '', '');
  const path = configFor(16);
  let commands = 0;
  const stores: Array<[string, StoreLocation]> = [
    ['durable SQLite (WAL, synchronous=FULL)', sqlite(join(work, 'overhead.db'))],
    ['in-memory SQLite', sqlite(':memory:')],
  ];
  const pg = postgres();
  if (pg) stores.push(['durable PostgreSQL (local server, fsync on, Unix socket)', postgresAt(pg, 'overhead')]);
  for (const [label, location] of stores) {
    // Warm once, then measure.
    for (let i = 0; i < 2; i++) {
      const started = performance.now();
      const prepared = await prepareInstall({ configPath: path, dryRun: true, injections: [], simulation: { loadBalancerDelayMs: 0 }, store: location });
      const finished = await prepared.begin();
      const elapsed = performance.now() - started;
      await prepared.close();
      if (finished.outcome.status !== 'succeeded') throw new Error('overhead run failed');
      // The same workflow journals the same commands on either store; count them where they outlive the run.
      if (location.kind === 'postgres' || location.path !== ':memory:') {
        const reader = await openStore(location, 'read-only');
        commands = (await reader.runs.listCommands(prepared.run.id)).length;
        await reader.close();
      }
      // Each attempt is opened and closed by a transition; each command is journaled before and after it runs.
      const transitions = finished.attempts.length * 2;
      if (i === 1) out(label, ms(elapsed), `${transitions} (+${commands} commands)`, ms(elapsed / transitions), '', '');
    }
  }
}

async function resumeCost(): Promise<void> {
  out('section', 'resume after a failure at the last step (4 remotes)', '', '', '', '');
  const path = configFor(4);
  const full = await timedInstall(path, join(work, 'full.db'));
  const db = join(work, 'resume.db');
  const failed = await timedInstall(path, db, { injections: ['attach-remote@remote4'] });
  if (failed.outcome.status !== 'failed') throw new Error('the failing run did not fail');
  const started = performance.now();
  const prepared = await prepareResume({ id: failed.runId, store: sqlite(db), force: false, simulation: {} });
  const { outcome } = await prepared.begin();
  const elapsed = performance.now() - started;
  await prepared.close();
  if (outcome.status !== 'succeeded') throw new Error('resume did not succeed');
  out('full run', ms(full.elapsed), 'resume to finish', ms(elapsed), 'ratio', `${((elapsed / full.elapsed) * 100).toFixed(1)} %`);
}

// The three runs of the lifecycle on the same simulated clusters, and what generating a CA costs.
async function lifecycle(): Promise<void> {
  out('section', `install, verify, uninstall (4 remotes, realistic latency, time scale ${TIME_SCALE})`, '', '', '', '');
  const db = join(work, 'lifecycle.db');
  const install = await timedInstall(configFor(4), db);
  out('install', ms(install.elapsed));
  for (const kind of ['verify', 'uninstall'] as const) {
    const started = performance.now();
    const prepared = await prepareFollowUp({ kind, runRef: install.runId, dryRun: false, injections: [], force: false, store: sqlite(db) });
    const { outcome } = await prepared.begin();
    const elapsed = performance.now() - started;
    await prepared.close();
    if (outcome.status !== 'succeeded') throw new Error(`${kind} did not succeed: ${outcome.error?.message ?? ''}`);
    out(kind, ms(elapsed), 'ratio to install', `${(elapsed / install.elapsed).toFixed(2)}`);
  }
  out('section', 'CA generation (root + one intermediate, median of 3)', '', '', '', '');
  for (const keySize of [2048, 4096] as const) {
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      const options = { keySize, rootDays: 3650, intermediateDays: 730 };
      await generateIntermediate(await generateRoot(options), 'cluster1', options);
      times.push(performance.now() - started);
    }
    out(`RSA ${keySize}`, ms(times.sort((a, b) => a - b)[1] as number));
  }
}

async function startup(): Promise<void> {
  out('section', 'CLI start-up (median of 15)', '', '', '', '');
  // A journal with a few runs for `mesh-run runs` to list.
  const db = join(work, 'startup.db');
  for (let i = 0; i < 5; i++) {
    const prepared = await prepareInstall({
      configPath: configFor(2),
      dryRun: true,
      injections: [],
      simulation: { loadBalancerDelayMs: 0 },
      store: sqlite(db),
    });
    await prepared.begin();
    await prepared.close();
  }
  const median = (args: string[]) => {
    const times: number[] = [];
    for (let i = 0; i < 15; i++) {
      const t = performance.now();
      const r = spawnSync(process.execPath, args, { stdio: 'ignore' });
      if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}`);
      times.push(performance.now() - t);
    }
    return times.sort((a, b) => a - b)[7] as number;
  };
  const node = median(['-e', '0']);
  const version = median([cli, '--version']);
  const runs = median([cli, 'runs', '--db', db]);
  out(
    'node -e 0',
    ms(node),
    'mesh-run --version',
    `${ms(version)} (${(version / node).toFixed(2)}x)`,
    'mesh-run runs',
    `${ms(runs)} (${(runs / node).toFixed(2)}x)`,
  );
}

async function historyAtScale(): Promise<void> {
  // 111,000 runs of 9 steps (every 17th retried once) make just over a million step attempts.
  const runsCount = Number(process.env.MESH_RUN_BENCH_RUNS ?? 111_000);
  out('section', `history on a large journal: ${runsCount} runs`, '', '', '', '');
  const path = join(work, 'history.db');
  const db = openDb(path);
  const started = performance.now();
  const insertRun = db.prepare(
    `INSERT INTO runs (id, kind, topology, mode, status, config_json, config_hash, created_at, updated_at, finished_at, machine_version) VALUES (?, 'install', 'primary-remote', 'dry-run', ?, ?, 'h', ?, ?, ?, 1)`,
  );
  const insertAttempt = db.prepare(
    `INSERT INTO step_attempts (run_id, step, cluster, context, attempt, started_at, ended_at, outcome, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const steps: Array<[StepId, 'p' | 'r' | '*']> = [
    ['preflight', '*'],
    ['install-primary', 'p'],
    ['install-eastwest-gateway', 'p'],
    ['await-gateway-address', 'p'],
    ['expose-istiod', 'p'],
    ['create-remote-namespace', 'r'],
    ['annotate-remote-namespace', 'r'],
    ['install-remote', 'r'],
    ['attach-remote', 'r'],
  ];
  const t0 = Date.now() - runsCount * 60_000;
  const fill = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const at = t0 + i * 60_000;
      const remote = `cluster${2 + (i % 20)}`;
      const fails = i % 17 === 0;
      const config = `{"primary":{"name":"cluster1"},"remotes":[{"name":"${remote}"}]}`;
      insertRun.run(`mr-b${i.toString(36).padStart(7, '0')}`, fails ? 'failed' : 'succeeded', config, at, at + 300_000, at + 300_000);
      steps.forEach(([step, scope], s) => {
        const cluster = scope === '*' ? '*' : scope === 'p' ? 'cluster1' : remote;
        const failed = fails && step === 'install-remote';
        insertAttempt.run(
          `mr-b${i.toString(36).padStart(7, '0')}`,
          step,
          cluster,
          cluster === '*' ? null : cluster,
          1,
          at + s * 1000,
          at + s * 1000 + 900,
          failed ? 'failed' : 'succeeded',
          failed ? '{"message":"forbidden"}' : null,
        );
        if (failed)
          insertAttempt.run(`mr-b${i.toString(36).padStart(7, '0')}`, step, cluster, cluster, 2, at + s * 1000 + 2000, at + s * 1000 + 2900, 'succeeded', null);
      });
    }
  });
  for (let i = 0; i < runsCount; i += 10_000) fill(i, Math.min(runsCount, i + 10_000));
  const { n } = db.prepare('SELECT COUNT(*) AS n FROM step_attempts').get() as { n: number };
  db.close();
  out('fill', `${n} step attempts in ${ms(performance.now() - started)}`, '', '', '', '');
  const sqliteTimes = await historyQueries(sqlite(path), 'mr-b0001000');
  const pg = postgres();
  let pgTimes: Map<string, number> | undefined;
  if (pg) {
    const location = postgresAt(pg, 'history');
    const filled = performance.now();
    const n = await fillPostgresHistory(location, runsCount, t0);
    out('fill (PostgreSQL)', `${n} step attempts in ${ms(performance.now() - filled)}`, '', '', '', '');
    pgTimes = await historyQueries(location, `mr-b${(1000).toString(36).padStart(7, '0')}`);
  }
  out('query', 'SQLite p50', pg ? 'PostgreSQL p50' : '', '', '', '');
  for (const [label, t] of sqliteTimes) out(label, ms(t), pgTimes ? ms(pgTimes.get(label) as number) : '', '', '', '');
  await integrityAtScale(path, n);
}

// What finding damage costs on the large journal: the checks SQLite offers, and what a writer pays at open
// (quick_check, unless the file is as the last writer left it: then a stat and a stamp's read).
async function integrityAtScale(path: string, attempts: number): Promise<void> {
  const mib = (statSync(path).size / 1048576).toFixed(0);
  const median3 = (fn: () => void) => {
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t = performance.now();
      fn();
      times.push(performance.now() - t);
    }
    return times.sort((a, b) => a - b)[1] as number;
  };
  const db = openDb(path, { readOnly: true });
  const quick = median3(() => integrityProblems(db));
  const full = median3(() => integrityProblems(db, true));
  const oneTable = median3(() => db.pragma('quick_check(runs)'));
  db.close();
  // A writer's open and close: the first finds no stamp and checks; the next finds the file as that one left it.
  const writerOpen = async () => {
    const t = performance.now();
    const store = await openStore(sqlite(path), 'existing');
    const opened = performance.now() - t;
    await store.close();
    return opened;
  };
  dropStamp(path);
  const unstamped = await writerOpen();
  const stamped = await writerOpen();
  out('section', `integrity of the large journal: ${attempts} step attempts, ${mib} MiB (median of 3)`, '', '');
  out('check', 'time', 'what runs it');
  out('quick_check', ms(quick), 'a writer at open, unless the file is as the last writer left it');
  out('integrity_check', ms(full), 'mesh-run store check (--quick: quick_check)');
  out('quick_check of the runs table only', ms(oneTable), 'nothing (damage elsewhere would go unseen)');
  out('writer open, file changed since the last writer (checks)', ms(unstamped), '');
  out('writer open, file as the last writer left it (stamp)', ms(stamped), '');
}

// The history queries behind the audit verbs, each the median (p50) of 9 after a warm-up.
async function historyQueries(location: StoreLocation, someRun: string): Promise<Map<string, number>> {
  const { runs: store, close } = await openStore(location, 'existing');
  const now = Date.now();
  const results = new Map<string, number>();
  const timed = async (label: string, fn: () => Promise<unknown>) => {
    await fn();
    const times: number[] = [];
    for (let i = 0; i < 9; i++) {
      const t = performance.now();
      await fn();
      times.push(performance.now() - t);
    }
    results.set(label, times.sort((a, b) => a - b)[4] as number);
  };
  await timed('history --limit 100 (newest)', () => store.queryAttempts({ limit: 100 }));
  await timed('history --cluster cluster7 --since 7d', () => store.queryAttempts({ cluster: 'cluster7', since: now - 7 * 86_400_000, limit: 100 }));
  await timed('history --status failed --limit 100', () => store.queryAttempts({ outcome: 'failed', limit: 100 }));
  await timed('history --step install-remote --cluster cluster3 --status failed', () =>
    store.queryAttempts({ step: 'install-remote', cluster: 'cluster3', outcome: 'failed', limit: 100 }),
  );
  await timed('history --run <id>', () => store.queryAttempts({ runId: someRun, limit: 100 }));
  // The engine's filter rule: a known cluster that matches nothing costs one more query; an unknown one
  // (refused, exit 2) reads the journal's configs to name the known ones.
  await timed('history --cluster cluster7 --status interrupted (known, empty)', () =>
    historyAttempts(store, { cluster: 'cluster7', outcome: 'interrupted', limit: 100 }),
  );
  await timed('history --cluster nosuch (unknown: exit 2)', () => historyAttempts(store, { cluster: 'nosuch', limit: 100 }).catch(() => []));
  await timed('logs <id> --cluster nosuch (unknown: exit 2)', () => runTimeline(store, someRun, { cluster: 'nosuch' }).catch(() => undefined));
  await timed('history --actions --since 24h', () => store.queryEvents({ since: now - 86_400_000, limit: 100 }));
  await timed('runs (50 newest, with their attempts)', async () => Promise.all((await store.listRuns(50)).map((r) => store.listAttempts(r.id))));
  await close();
  return results;
}

// The same journal as the SQLite fill, generated inside PostgreSQL (runs 0..n-1, one a minute, every 17th
// failing once at install-remote and retried).
async function fillPostgresHistory(location: StoreLocation & { kind: 'postgres' }, runsCount: number, t0: number): Promise<number> {
  const store = await openStore(location, 'create');
  await store.close();
  const client = new pg.Client({ connectionString: location.connectionString });
  await client.connect();
  const s = `"${location.schema}"`;
  const id = `'mr-b' || lpad(${base36Sql('i')}, 7, '0')`;
  const remote = `'cluster' || (2 + i % 20)`;
  try {
    await client.query(
      `INSERT INTO ${s}.runs (id, kind, topology, mode, status, config_json, config_hash, created_at, updated_at, finished_at, machine_version)
       SELECT ${id}, 'install', 'primary-remote', 'dry-run', CASE WHEN i % 17 = 0 THEN 'failed' ELSE 'succeeded' END,
              '{"primary":{"name":"cluster1"},"remotes":[{"name":"' || ${remote} || '"}]}', 'h', $1::bigint + i::bigint * 60000, $1::bigint + i::bigint * 60000 + 300000, $1::bigint + i::bigint * 60000 + 300000, 1
       FROM generate_series(0, $2 - 1) AS i`,
      [t0, runsCount],
    );
    await client.query(
      `INSERT INTO ${s}.step_attempts (run_id, step, cluster, context, attempt, started_at, ended_at, outcome, error)
       SELECT ${id}, st.step,
              CASE st.scope WHEN '*' THEN '*' WHEN 'p' THEN 'cluster1' ELSE ${remote} END,
              CASE st.scope WHEN '*' THEN NULL WHEN 'p' THEN 'cluster1' ELSE ${remote} END,
              1, $1::bigint + i::bigint * 60000 + st.n * 1000, $1::bigint + i::bigint * 60000 + st.n * 1000 + 900,
              CASE WHEN i % 17 = 0 AND st.step = 'install-remote' THEN 'failed' ELSE 'succeeded' END,
              CASE WHEN i % 17 = 0 AND st.step = 'install-remote' THEN '{"message":"forbidden"}' END
       FROM generate_series(0, $2 - 1) AS i
       CROSS JOIN (VALUES (0, 'preflight', '*'), (1, 'install-primary', 'p'), (2, 'install-eastwest-gateway', 'p'), (3, 'await-gateway-address', 'p'),
                          (4, 'expose-istiod', 'p'), (5, 'create-remote-namespace', 'r'), (6, 'annotate-remote-namespace', 'r'), (7, 'install-remote', 'r'),
                          (8, 'attach-remote', 'r')) AS st (n, step, scope)`,
      [t0, runsCount],
    );
    await client.query(
      `INSERT INTO ${s}.step_attempts (run_id, step, cluster, context, attempt, started_at, ended_at, outcome, error)
       SELECT ${id}, 'install-remote', ${remote}, ${remote}, 2, $1::bigint + i::bigint * 60000 + 9000, $1::bigint + i::bigint * 60000 + 9900, 'succeeded', NULL
       FROM generate_series(0, $2 - 1) AS i WHERE i % 17 = 0`,
      [t0, runsCount],
    );
    await client.query(`ANALYZE ${s}.runs, ${s}.step_attempts`);
    const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${s}.step_attempts`);
    return Number(rows[0]?.n ?? 0);
  } finally {
    await client.end();
  }
}

// An integer's base-36 digits in SQL, as JavaScript's toString(36) writes them (ids match the SQLite fill).
function base36Sql(column: string): string {
  const digits = Array.from(
    { length: 7 },
    (_, k) => `substr('0123456789abcdefghijklmnopqrstuvwxyz'::text, ((${column} / ${36 ** k})::bigint % 36 + 1)::int, 1)`,
  );
  return `ltrim(${digits.reverse().join(' || ')}, '0')`;
}

// A mixed fleet: two primaries on two networks, each serving half the remotes, a third of them on the other network.
function mixedConfigFor(remotes: number): string {
  const file = join(work, `mixed-${remotes}.yaml`);
  const lines = ['meshID: fleet', 'network: east', 'trust: {outputDir: ./certs}', 'clusters:'];
  lines.push('  - {name: east-1, context: east-1, role: primary}', '  - {name: west-1, context: west-1, role: primary, network: west}');
  for (let i = 0; i < remotes; i++)
    lines.push(`  - {name: r${i}, context: r${i}, role: remote, controlPlane: ${i % 2 ? 'east-1' : 'west-1'}, network: ${i % 3 ? 'east' : 'west'}}`);
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

// mesh-run config check on the largest fleets: the command as a user runs it (a process, start-up included) and
// the view it prints alone (load the config, derive the view), each the median of 3.
async function configCheck(): Promise<void> {
  out('section', 'config check (median of 3)', '', '', '');
  out('fleet', 'mesh-run config check', 'load + meshView, in process', '', '');
  const median3 = async (fn: () => unknown) => {
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t = performance.now();
      await fn();
      times.push(performance.now() - t);
    }
    return times.sort((a, b) => a - b)[1] as number;
  };
  for (const n of [256, 1024]) {
    for (const [label, path] of [
      [`primary-remote, ${n} remotes`, configFor(n)],
      // The same number of clusters (a mesh has at most 1025).
      [`mixed, 2 primaries, ${n - 1} remotes, 2 networks`, mixedConfigFor(n - 1)],
    ] as const) {
      const cliTime = await median3(() => {
        const r = spawnSync(process.execPath, [cli, 'config', 'check', '-c', path], { stdio: 'ignore' });
        if (r.status !== 0) throw new Error(`config check of ${label} exited ${r.status}`);
      });
      const viewTime = await median3(() => meshView(loadConfig(path).config));
      out(label, ms(cliTime), ms(viewTime), '', '');
    }
  }
}

// 8 drivers on 8 runs sharing one store, each a mesh-run process, against one run alone on that store.
async function team(): Promise<void> {
  out('section', `8 drivers on 8 runs sharing one store (CLI processes, 2 remotes, realistic latency, time scale ${TIME_SCALE})`, '', '', '', '');
  out('store', 'one run alone', '8 at once (slowest)', 'slowdown', '', '');
  const config = configFor(2);
  const cliRun = (where: string[]) =>
    new Promise<number>((resolve, reject) => {
      const started = performance.now();
      const child = spawn(
        process.execPath,
        [cli, 'install', '--config', config, '--dry-run', '--sim-latency', 'realistic', '--time-scale', String(TIME_SCALE), '-q', ...where],
        { stdio: 'ignore' },
      );
      child.on('close', (code) => (code === 0 ? resolve(performance.now() - started) : reject(new Error(`install exited ${code}`))));
    });
  const stores: Array<[string, string[]]> = [['SQLite file', ['--db', join(work, 'team.db')]]];
  const pg = postgres();
  if (pg) stores.push(['PostgreSQL (local server)', ['--store', pg.url('team')]]);
  for (const [label, where] of stores) {
    await cliRun(where);
    const alone = await cliRun(where);
    const together = Math.max(...(await Promise.all(Array.from({ length: 8 }, () => cliRun(where)))));
    out(label, ms(alone), ms(together), `${(together / alone).toFixed(2)}x`, '', '');
  }
}

const only = process.argv[2];
try {
  if (!only || only === 'makespan') await makespans();
  if (!only || only === 'overhead') await overhead();
  if (!only || only === 'resume') await resumeCost();
  if (!only || only === 'lifecycle') await lifecycle();
  if (!only || only === 'startup') await startup();
  if (!only || only === 'config-check') await configCheck();
  if (!only || only === 'history') await historyAtScale();
  if (!only || only === 'team') await team();
} finally {
  pgServer?.destroy();
  rmSync(work, { recursive: true, force: true });
}
for (const r of rows) {
  if (r[0] === 'section') console.log(`\n## ${r.slice(1).filter(Boolean).join(', ')}`);
  else console.log(r.filter((c, i) => c !== '' || i === 0).join(' | '));
}
