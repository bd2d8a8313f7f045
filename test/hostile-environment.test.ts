// Contention and hostile environments: runs racing for one set of clusters, output that cannot be written,
// a busy or damaged store, config files that never end, names Kubernetes refuses.
import { spawn } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, type CliResult, runCli, runIdFrom, startCli, tempDir } from './support/cli.js';
import { runCli as runHere } from './support/cli-here.js';
import * as engine from './support/engine.js';
import { writeFakeTools } from './support/fake-tools.js';
import { mkfifoSync } from './support/fifo.js';
import { peek, readJournal } from './support/journal.js';
import { setSimLatency } from './support/sim.js';
import { type Backend, havePostgres, newStore } from './support/stores.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
let dbCount = 0;
const freshDb = () => join(tmp.dir, `hostile-${dbCount++}.db`);
const FAST = ['--dry-run', '--sim-lb-delay', '0', '-q'];
const SQLITE = createRequire(import.meta.url).resolve('better-sqlite3');
const backends: Backend[] = havePostgres() ? ['sqlite', 'postgres'] : ['sqlite'];

// A run that only sets a store up, driven in this process (simulation as the CLI's --sim-lb-delay 0 and
// --sim-latency give it).
async function setUp(db: string, options: engine.InstallOptions = {}, status = 'succeeded'): Promise<string> {
  const run = await engine.install(db, options);
  expect(run.status).toBe(status);
  return run.id;
}

// A read whose subject is not the process (the drivers raced are): run in this process.
async function ok(args: string[]): Promise<CliResult> {
  const result = await runHere(args);
  expect(result.code, `${args.join(' ')}\n${result.stderr}`).toBe(0);
  return result;
}

// Holds the database's write lock from another process for `ms`; resolves once the lock is held.
function holdWriteLock(db: string, ms: number): Promise<{ released: Promise<void> }> {
  const script = `const D = require(${JSON.stringify(SQLITE)}); const db = new D(${JSON.stringify(db)}); db.exec('BEGIN IMMEDIATE'); process.stdout.write('locked\\n'); setTimeout(() => { db.exec('ROLLBACK'); db.close(); }, ${ms});`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const released = new Promise<void>((resolve) => child.on('close', () => resolve()));
  return new Promise((resolve) => child.stdout?.once('data', () => resolve({ released })));
}

// Starts an install, and once it is past install-primary holds the database's write lock for `ms`; the result is the install's.
async function lockMidRun(db: string, before: string, ms: number, env: Record<string, string> = {}): Promise<CliResult> {
  const { done } = startCli(['install', '--dry-run', '--sim-lb-delay', '0', '--sim-latency', '150ms', '-q', '--db', db], { env });
  const passed = () =>
    peek<{ n: number }>(
      db,
      `SELECT COUNT(*) AS n FROM step_attempts a JOIN runs r ON r.id = a.run_id WHERE a.step = 'install-primary' AND a.outcome = 'succeeded' AND r.status = 'running' AND r.id != '${before}'`,
    )?.[0]?.n ?? 0;
  const deadline = Date.now() + 20_000;
  while (passed() === 0) {
    if (Date.now() > deadline) throw new Error('never got past install-primary');
    await new Promise((r) => setTimeout(r, 25));
  }
  const lock = await holdWriteLock(db, ms);
  const result = await done;
  await lock.released;
  return result;
}

describe.each(backends)('one run at a time on a set of clusters (%s)', (backend) => {
  // Each races runs on a store of its own: side by side (the pairs below time their start, so they run alone).
  it.concurrent.each([
    ['uninstall', ['uninstall', '--dry-run', '-q']],
    ['verify', ['verify', '--dry-run', '-q']],
  ])('four %s runs started together on one mesh: one at a time proceeds, the others exit 3 naming the one running', async (_kind, args) => {
    const store = newStore(backend, tmp.dir, 'four');
    await setUp(store.where, { simulation: { loadBalancerDelayMs: 0, commandLatencyMs: 50 } });
    const results = await Promise.all(Array.from({ length: 4 }, () => runCli([...args, ...store.args])));
    const said = results.map((r) => r.stderr).join('\n---\n');
    const winners = results.filter((r) => r.code === 0);
    const refused = results.filter((r) => r.code === 3);
    // Mostly one proceeds; one that met the store busy and waited it out may start once the first has ended.
    expect(winners.length, said).toBeGreaterThanOrEqual(1);
    expect(winners.length + refused.length, said).toBe(4);
    const ids = winners.map((w) => runIdFrom(w));
    for (const r of refused) {
      const named = /^mesh-run: error: run (mr-\w+) \(\w+\) is still running on these simulated clusters/.exec(r.stderr)?.[1];
      expect(ids, r.stderr).toContain(named);
    }
    // The refused ones left nothing behind (only the install and the winners are in the journal), and no two
    // winners ran at once.
    const runs = JSON.parse((await ok(['runs', '--json', ...store.args])).stdout) as Array<{ id: string; createdAt: string; finishedAt: string }>;
    expect(runs).toHaveLength(1 + winners.length);
    const spans = runs.filter((r) => ids.includes(r.id)).map((r) => [Date.parse(r.createdAt), Date.parse(r.finishedAt)] as const);
    spans.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < spans.length; i++) expect(spans[i]?.[0], 'two runs at once').toBeGreaterThanOrEqual(spans[i - 1]?.[1] ?? 0);
  });

  // The first holds the clusters (it is seen running in the store) when the second starts, so the lock is what
  // decides, not which process the machine happened to start sooner.
  it.each([
    ['verify', 'uninstall'],
    ['uninstall', 'verify'],
  ])('while a %s run holds the clusters, a %s started meanwhile is refused naming it; the first ends well (no half-deleted sample)', async (first, second) => {
    const store = newStore(backend, tmp.dir, `pair-${first}`);
    // Installed at full speed; the holder's commands are slow, so the second starts while it holds the clusters.
    const installed = await engine.install(store.where, { simulation: { loadBalancerDelayMs: 0 } });
    await setSimLatency(store.where, installed.run.simWorld, 300);
    const holder = startCli([first, '--dry-run', '-q', ...store.args]);
    const deadline = Date.now() + 30_000;
    const running = async () => {
      const runs = JSON.parse((await ok(['runs', '--json', ...store.args])).stdout) as Array<{ kind: string; status: string }>;
      return runs.some((r) => r.kind === first && r.status === 'running');
    };
    while (!(await running())) {
      if (Date.now() > deadline) throw new Error(`the ${first} run never showed as running`);
    }
    const refused = await runCli([second, '--dry-run', '-q', ...store.args]);
    const held = await holder.done;
    expect(held.code, held.stderr).toBe(0);
    expect(refused.code, refused.stderr).toBe(3);
    expect(refused.stderr).toMatch(new RegExp(`^mesh-run: error: run ${runIdFrom(held)} \\(${first}\\) is still running on these simulated clusters`));
    expect(`${held.stderr}${refused.stderr}`).not.toContain('not found');
  });

  it('three real installs on the same contexts: one proceeds, the others exit 3 naming it', async () => {
    const marker = `mesh-run-contend-${process.pid}-${backend}`;
    const dir = join(tmp.dir, `contend-${backend}`);
    mkdirSync(dir, { recursive: true });
    const tools = writeFakeTools(dir, marker);
    const config = join(dir, 'contend.yaml');
    writeFileSync(config, `tools: {kubectl: ${tools.kubectl}, istioctl: ${tools.istioctl}}\n`);
    const store = newStore(backend, tmp.dir, 'contend');
    const started = Array.from({ length: 3 }, () => {
      let out = '';
      const s = startCli(['install', '--config', config, ...store.args, '-q']);
      s.child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
      return { ...s, output: () => out };
    });
    const deadline = Date.now() + 30_000;
    const reachedPrimary = async () => {
      for (const s of started) {
        const id = /^run (mr-[a-z0-9]+)/m.exec(s.output())?.[1];
        if (id && (await readJournal(store.where, id).catch(() => undefined))?.attempts.some((a) => a.step === 'install-primary')) return true;
      }
      return false;
    };
    while (!(await reachedPrimary())) {
      if (Date.now() > deadline) throw new Error('no install reached install-primary');
      await new Promise((r) => setTimeout(r, 50));
    }
    // The two refused ones exit on their own (however slowly a loaded machine starts them); then the holder is stopped.
    let exited = 0;
    for (const s of started) void s.done.then(() => exited++);
    while (exited < 2) {
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const s of started) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGINT');
    const results = await Promise.all(started.map((s) => s.done));
    expect(results.map((r) => r.code).sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual([3, 3, 130]);
    const holder = runIdFrom(results.find((r) => r.code === 130) as CliResult);
    for (const r of results.filter((x) => x.code === 3)) expect(r.stderr).toContain(`run ${holder} (install) is still running on context "cluster`);
  });
});

describe('output that cannot be written', () => {
  it("a closed pipe does not end a run: it is driven to its end, and the exit code is the run's", async () => {
    for (const extra of [[], ['--json']]) {
      const db = freshDb();
      const shell = spawn(
        'bash',
        [
          '-c',
          `set -o pipefail; "${process.execPath}" "${CLI}" install --dry-run --sim-lb-delay 0 --sim-latency 20ms ${extra.join(' ')} --db "${db}" 2>&1 | head -c 10 >/dev/null; echo "exit \${PIPESTATUS[0]}"`,
        ],
        { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, MESH_RUN_DB: '' } },
      );
      let out = '';
      shell.stdout?.on('data', (d: Buffer) => (out += d.toString()));
      await new Promise((r) => shell.on('close', r));
      expect(out.trim(), extra.join(' ')).toBe('exit 0');
      const [run] = JSON.parse((await ok(['runs', '--json', '--db', db])).stdout) as Array<{ status: string; stale: boolean }>;
      expect(run?.status, extra.join(' ')).toBe('succeeded');
    }
  });

  it('a full stdout or stderr is not a run error, but a lost stdout fails the verb (exit 3) and says on stderr what it held', async () => {
    const db = freshDb();
    // stdout lost: the run still succeeds, its id and outcome reach stderr, and the exit code is 3. stderr
    // lost alone is no failure (stdout said it all); both lost: nothing to tell anyone, but not exit 0.
    const expected: Record<string, string> = { '>/dev/full': 'exit 3', '2>/dev/full': 'exit 0', '2>&-': 'exit 0', '>/dev/full 2>&1': 'exit 3' };
    for (const redirect of Object.keys(expected)) {
      const shell = spawn('bash', ['-c', `"${process.execPath}" "${CLI}" install --dry-run --sim-lb-delay 0 --db "${db}" ${redirect}; echo "exit $?" >&3`], {
        stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
        env: { ...process.env, MESH_RUN_DB: '' },
      });
      let out = '';
      let err = '';
      (shell.stdio[3] as NodeJS.ReadableStream).on('data', (d: Buffer) => (out += d.toString()));
      shell.stderr?.on('data', (d: Buffer) => (err += d.toString()));
      await new Promise((r) => shell.on('close', r));
      expect(out.trim(), `${redirect}: ${err}`).toBe(expected[redirect]);
      expect(err, redirect).not.toMatch(/at .*\.js:\d+|Error: ENOSPC|internal error/);
      if (redirect === '>/dev/full') {
        const [latest] = JSON.parse((await ok(['runs', '--json', '--db', db])).stdout) as Array<{ id: string }>;
        expect(err).toContain('mesh-run: error: cannot write output (ENOSPC); what it said follows on stderr\n');
        expect(err).toContain(`run ${latest?.id}\n`);
        expect(err).toContain(`mesh installed: cluster2 attached to cluster1 (run ${latest?.id})`);
      }
    }
    const runs = JSON.parse((await ok(['runs', '--json', '--db', db])).stdout) as Array<{ status: string }>;
    expect(runs.map((r) => r.status)).toEqual(Array(4).fill('succeeded'));
    const lost = spawn('bash', ['-c', `"${process.execPath}" "${CLI}" runs --db "${db}" >/dev/full; echo "exit $?"`], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, MESH_RUN_DB: '' },
    });
    let status = '';
    let stderr = '';
    lost.stdout?.on('data', (d: Buffer) => (status += d.toString()));
    lost.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    await new Promise((r) => lost.on('close', r));
    expect(status.trim()).toBe('exit 3');
    expect(stderr).toContain('mesh-run: error: cannot write output (ENOSPC)');
    const [first] = JSON.parse((await ok(['runs', '--json', '--db', db])).stdout) as Array<{ id: string }>;
    const report = await runCli(['report', first?.id ?? '', '--html', '/dev/full', '--db', db]);
    expect(report.code).toBe(3);
    expect(report.stderr).toContain('cannot write the file (ENOSPC)');
  });
});

describe('a busy store', () => {
  it('is waited out before a run starts and mid-run; held past the patience, it is exit 3 "busy", not a bug (mid-run: the run interrupted, resumable)', async () => {
    const db = freshDb();
    const first = await setUp(db);
    // Before the run is recorded, a lock held a while (another process committing) is waited out: the run starts.
    const brief = await holdWriteLock(db, 2500);
    const started = await runCli(['install', ...FAST, '--db', db]);
    expect(started.code, started.stderr).toBe(0);
    await brief.released;

    // Held past the patience, the verb is refused before its run is recorded.
    const held = await holdWriteLock(db, 6000);
    const refusedAt = Date.now();
    const refused = await runCli(['install', ...FAST, '--db', db], { env: { MESH_RUN_BUSY_PATIENCE_MS: '1000' } });
    expect(refused.code, refused.stderr).toBe(3);
    expect(refused.stderr).toContain('is busy (held by another process)');
    expect(refused.stderr).not.toContain('this is a bug');
    expect(Date.now() - refusedAt).toBeLessThan(5000);
    await held.released;

    // Mid-run, a lock held for a while (another run committing slowly, a backup) is waited out: the run ends well.
    const waited = await lockMidRun(db, first, 4000);
    expect(waited.code, waited.stderr).toBe(0);
    expect(waited.stderr).toBe('');

    // One held past the patience stops the run (resumable), saying it is interrupted (or still running, if
    // even that write meets the lock), and blaming no cluster.
    const stopped = await lockMidRun(db, first, 4000, { MESH_RUN_BUSY_PATIENCE_MS: '1000' });
    expect(stopped.code, stopped.stderr).toBe(3);
    expect(stopped.stderr).toMatch(
      /mesh-run: error: run mr-[a-z0-9]+ stopped: the database .* is busy \(held by another process\); it is (recorded as interrupted|still recorded as running)/,
    );
    expect(stopped.stderr).not.toMatch(/unexpected error|failed at/);
    const id = runIdFrom(stopped);
    await ok(['resume', id, '--db', db, '-q']);
    const journal = await readJournal(db, id);
    expect(journal.run.status).toBe('succeeded');
    expect(journal.attempts.filter((a) => a.outcome === 'failed')).toEqual([]);
  });

  it('SIGINT while the store is locked ends the run within a few seconds', async () => {
    const db = freshDb();
    const { child, done } = startCli(['install', '--dry-run', '--sim-lb-delay', '0', '--sim-latency', '150ms', '-q', '--db', db]);
    const deadline = Date.now() + 20_000;
    while ((peek<{ n: number }>(db, 'SELECT COUNT(*) AS n FROM step_attempts')?.[0]?.n ?? 0) === 0) {
      if (Date.now() > deadline) throw new Error('the run never started a step');
      await new Promise((r) => setTimeout(r, 25));
    }
    const lock = await holdWriteLock(db, 15_000);
    child.kill('SIGINT');
    const at = Date.now();
    const result = await done;
    expect(Date.now() - at).toBeLessThan(5000);
    expect([3, 130]).toContain(result.code);
    await lock.released;
  });
});

describe('a damaged journal', () => {
  function damage(db: string, sql: string): void {
    const handle = new Database(db);
    handle.exec(sql);
    handle.close();
  }

  it('shows a run whose config or error does not parse as damaged, and every other run as usual', async () => {
    const db = freshDb();
    const good = await setUp(db);
    const bad = await setUp(db, { injectFailure: ['attach-remote'] }, 'failed');
    damage(db, `UPDATE runs SET config_json = '{not json', error_json = 'garbage' WHERE id = '${bad}'`);
    const runs = await ok(['runs', '--db', db]);
    expect(runs.stdout).toMatch(new RegExp(`${bad}\\s+install\\s+damaged \\(config, error\\)`));
    expect(runs.stdout).toMatch(new RegExp(`${good}\\s+install\\s+succeeded`));
    const status = await ok(['status', bad, '--db', db]);
    expect(status.stdout).toContain('damaged: its recorded config and error cannot be read');
    const resume = await runCli(['resume', bad, '--db', db]);
    expect(resume.code).toBe(4);
    expect(resume.stderr).toContain('its recorded config is damaged');
  });

  it.each([
    ['NULL', 'missing, although'],
    ["''", 'missing, although'],
    ["'null'", 'missing, although'],
    ['\'{"status":"active","value":{"nowhere":{}}}\'', 'does not fit'],
    ["'garbage'", 'not JSON'],
  ])('refuses to resume a run whose saved state is %s (exit 4), changing nothing', async (snapshot, why) => {
    const db = freshDb();
    const id = await setUp(db, { injectFailure: ['install-remote'] }, 'failed');
    damage(db, `UPDATE runs SET snapshot_json = ${snapshot} WHERE id = '${id}'`);
    const before = await readJournal(db, id);
    const resume = await runCli(['resume', id, '--db', db]);
    expect(resume.code, resume.stderr).toBe(4);
    expect(resume.stderr).toContain(`run ${id} cannot be resumed: its saved state is damaged (`);
    expect(resume.stderr).toContain(why);
    const after = await readJournal(db, id);
    expect(after.events).toEqual(before.events);
    expect(after.attempts).toEqual(before.attempts);
    expect(after.run.lease).toBeNull();
  });

  it('an unknown kind is exit 4', async () => {
    const db = freshDb();
    const id = await setUp(db, { injectFailure: ['install-remote'] }, 'failed');
    damage(db, `UPDATE runs SET kind = 'teleport' WHERE id = '${id}'`);
    const resume = await runCli(['resume', id, '--db', db]);
    expect(resume.code).toBe(4);
    expect(resume.stderr).toContain('of a kind this mesh-run does not know ("teleport")');
  });
});

describe('config files that never end, and names Kubernetes refuses', () => {
  it('refuses a config that is a device, a FIFO or a directory (exit 2), at once', async () => {
    const dir = join(tmp.dir, 'configs');
    mkdirSync(dir, { recursive: true });
    symlinkSync('/dev/zero', join(dir, 'zero.yaml'));
    mkfifoSync(join(dir, 'fifo.yaml'));
    mkdirSync(join(dir, 'dir.yaml'));
    for (const [name, why] of [
      ['zero.yaml', 'a device'],
      ['fifo.yaml', 'a pipe'],
      ['dir.yaml', 'it is a directory'],
    ] as const) {
      const started = Date.now();
      const result = await runCli(['install', '--dry-run', '--config', join(dir, name), '--db', freshDb()]);
      expect(result.code, name).toBe(2);
      expect(result.stderr, name).toContain(why);
      expect(Date.now() - started, name).toBeLessThan(5000);
    }
  });

  it('a config path that became a directory is named as such on resume', async () => {
    const db = freshDb();
    const config = join(tmp.dir, 'moving.yaml');
    writeFileSync(config, 'meshID: mesh1\n');
    const id = await setUp(db, { config, injectFailure: ['install-remote'] }, 'failed');
    const { rmSync } = await import('node:fs');
    rmSync(config);
    mkdirSync(config);
    const resume = await runCli(['resume', id, '--db', db]);
    expect(resume.code).toBe(4);
    expect(resume.stderr).toContain(`config file ${config} cannot be read (it is a directory)`);
  });

  it('refuses a revision whose derived names Kubernetes would refuse, naming the name and the limit', async () => {
    const config = join(tmp.dir, 'long-rev.yaml');
    writeFileSync(config, `revision: ${'r'.repeat(63)}\n`);
    const result = await runCli(['plan', '--config', config]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /revision: "r{57}\.\.\." makes the primary IstioOperator name .* 80 characters, over Kubernetes' limit of 63; use a revision of at most 46 characters/,
    );
    writeFileSync(config, `revision: ${'r'.repeat(46)}\n`);
    await setUp(freshDb(), { config });
  });

  it('resume --force refuses a change it cannot apply (trust added), naming the field, and records a change it applies', async () => {
    const db = freshDb();
    const config = join(tmp.dir, 'forced.yaml');
    writeFileSync(config, 'timeouts: {gatewayAddress: 2m}\n');
    const id = await setUp(db, { config, injectFailure: ['install-remote'] }, 'failed');
    writeFileSync(config, 'timeouts: {gatewayAddress: 2m}\ntrust: {keySize: 2048}\n');
    const refused = await runCli(['resume', id, '--force', '--db', db]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('trust changed since run');
    expect((await readJournal(db, id)).run.status).toBe('failed');
    writeFileSync(config, 'timeouts: {gatewayAddress: 3m}\n');
    await ok(['resume', id, '--force', '--db', db, '-q']);
    const journal = await readJournal(db, id);
    expect(journal.run.config?.timeouts.gatewayAddressMs).toBe(180_000);
    expect(journal.events.find((e) => e.type === 'forced')?.detail).toContain('(timeouts)');
  });

  it('runs summarises a long list of remotes', async () => {
    const db = freshDb();
    const config = join(tmp.dir, 'many.yaml');
    writeFileSync(config, `remotes:\n${Array.from({ length: 12 }, (_, i) => `  - {name: r${i}}`).join('\n')}\n`);
    await setUp(db, { config });
    const runs = await ok(['runs', '--db', db]);
    expect(runs.stdout).toContain('cluster1 -> 12 remotes');
    expect(Math.max(...runs.stdout.split('\n').map((l) => l.length))).toBeLessThan(140);
  });
});

describe('a database in a read-only directory', () => {
  it('is exit 3 with the real cause, for a run and for a read-only verb', async () => {
    const { chmodSync, copyFileSync } = await import('node:fs');
    const db = freshDb();
    await setUp(db);
    // Reachable by another user: the test's own temporary directory is private to it.
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const open = mkdtempSync(join(tmpdir(), 'mesh-run-ro-'));
    chmodSync(open, 0o755);
    const dir = join(open, 'read-only');
    mkdirSync(dir);
    const inside = join(dir, 'mesh.db');
    const copy = new Database(db);
    copy.pragma('wal_checkpoint(TRUNCATE)');
    copy.close();
    copyFileSync(db, inside);
    chmodSync(inside, 0o666);
    chmodSync(dir, 0o555);
    // As root, directory modes do not bind: run the CLI as nobody.
    const asUser = process.getuid?.() === 0 ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] : [];
    for (const args of [['install', '--dry-run', '-q'], ['runs']]) {
      const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn(asUser[0] ?? process.execPath, [...asUser.slice(1), ...(asUser.length ? [process.execPath] : []), CLI, ...args, '--db', inside], {
          stdio: ['ignore', 'ignore', 'pipe'],
          env: { ...process.env, MESH_RUN_DB: '' },
        });
        let stderr = '';
        child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('close', (code) => resolve({ code, stderr }));
      });
      expect(result.code, `${args[0]}: ${result.stderr}`).toBe(3);
      expect(result.stderr).toContain(
        `its directory ${dir} is not writable: permission denied (EACCES); SQLite keeps its -wal and -shm files beside the database`,
      );
    }
    chmodSync(dir, 0o755);
    const { rmSync } = await import('node:fs');
    rmSync(open, { recursive: true, force: true });
  });
});
