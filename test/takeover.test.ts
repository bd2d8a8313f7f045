// Taking over a run whose driver died: the dead holder is recognised even as a zombie or behind a reused
// pid, and the tool processes it left running are stopped (and journaled) before new ones start.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { processStart, processState } from '../adapters/processes.js';
import { describeHolder, holderAlive, OWN_PROCESS_START } from '../engine/runtime/lease.js';
import { CLI, runIdFrom, startCli, tempDir } from './support/cli.js';
import { runCli } from './support/cli-here.js';
import { writeFakeTools } from './support/fake-tools.js';
import { peek, readJournal } from './support/journal.js';

const tmp = tempDir();
const stray: number[] = [];
afterAll(() => {
  for (const pid of stray) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  tmp.cleanup();
});

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// Pids of processes whose argv[0] is `marker` (the fake istioctl install sleeps under that name).
function withMarker(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0')[0] === marker && processState(Number(entry)) === 'alive') pids.push(Number(entry));
    } catch {
      // gone
    }
  }
  return pids;
}

describe('lease holders', () => {
  it('a pid whose start time differs is not the holder; a live holder with its own start time is', () => {
    expect(OWN_PROCESS_START).toMatch(/^[0-9a-f-]+:\d+$/);
    expect(holderAlive({ pid: process.pid, host: hostname(), procStart: OWN_PROCESS_START })).toBe(true);
    expect(holderAlive({ pid: process.pid, host: hostname(), procStart: `${OWN_PROCESS_START?.split(':')[0]}:1` })).toBe(false);
    // A holder recorded before start times were (no procStart) is judged by its pid alone.
    expect(holderAlive({ pid: process.pid, host: hostname(), procStart: null })).toBe(true);
    // Another host's holder is judged by its heartbeat, not here.
    expect(holderAlive({ pid: 999_999_999, host: 'elsewhere.example', procStart: null })).toBe(true);
  });

  it('takes over at once from a holder killed with SIGKILL and not yet reaped (a zombie)', async () => {
    const db = join(tmp.dir, 'zombie.db');
    // `exec sleep` leaves a parent that never waits for mesh-run: once killed, it stays a zombie.
    const shell = spawn(
      'sh',
      [
        '-c',
        `"$0" "$@" >/dev/null 2>&1 & echo $!; exec sleep 60`,
        process.execPath,
        CLI,
        'install',
        '--dry-run',
        '--sim-lb-delay',
        '0',
        '--sim-latency',
        '300ms',
        '-q',
        '--db',
        db,
      ],
      { stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, MESH_RUN_DB: '' } },
    );
    stray.push(shell.pid as number);
    const pid = await new Promise<number>((resolve) => shell.stdout?.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
    stray.push(pid);
    const runId = await until('the run to hold its lease', () => peek<{ id: string }>(db, `SELECT id FROM runs WHERE lease_pid = ${pid}`)?.[0]?.id);
    process.kill(pid, 'SIGKILL');
    await until('the killed driver to become a zombie', () => processState(pid) === 'zombie');
    const resumed = await runCli(['resume', runId, '--db', db, '-q']);
    expect(resumed.code, resumed.stderr).toBe(0);
    const journal = await readJournal(db, runId);
    expect(journal.run.status).toBe('succeeded');
    expect(journal.events.map((e) => e.type)).toContain('lease-taken-over');
    shell.kill('SIGKILL');
  });
});

describe('tool processes a killed driver left running', () => {
  it('are recorded with their process group and start time, and stopped (and journaled) before the resumed run starts its own', async () => {
    const marker = `mesh-run-orphan-${process.pid}`;
    const tools = writeFakeTools(tmp.dir, marker);
    const config = join(tmp.dir, 'orphans.yaml');
    writeFileSync(config, `tools: {kubectl: ${tools.kubectl}, istioctl: ${tools.istioctl}}\n`);
    const db = join(tmp.dir, 'orphans.db');
    const { child, done } = startCli(['install', '--config', config, '--db', db, '-q']);
    const row = await until(
      'istioctl install to run with its process recorded',
      () =>
        peek<{ pid: number; pgid: number; proc_start: string }>(
          db,
          `SELECT pid, pgid, proc_start FROM commands WHERE tool = 'istioctl' AND argv_json LIKE '%"install"%' AND pid IS NOT NULL AND ended_at IS NULL`,
        )?.[0],
    );
    expect(row.pgid).toBe(row.pid);
    expect(row.proc_start).toBe(processStart(row.pid));
    child.kill('SIGKILL');
    const killed = await done;
    const runId = runIdFrom(killed);
    // Killing mesh-run left its istioctl install running.
    expect(withMarker(marker)).toEqual([row.pid]);
    stray.push(row.pid);

    const resumed = startCli(['resume', runId, '--db', db, '-q']);
    // The resumed run starts istioctl install again, and only after the old one is gone.
    const again = await until(
      'the resumed install to start istioctl install',
      () =>
        peek<{ pid: number }>(
          db,
          `SELECT pid FROM commands WHERE tool = 'istioctl' AND argv_json LIKE '%"install"%' AND pid IS NOT NULL AND pid != ${row.pid}`,
        )?.[0],
    );
    stray.push(again.pid);
    expect(processState(row.pid, row.proc_start)).not.toBe('alive');
    expect(withMarker(marker)).toEqual([again.pid]);
    resumed.child.kill('SIGINT');
    expect((await resumed.done).code).toBe(130);
    // Nothing of either driver is left running, and the journal says what was stopped.
    await until('the resumed run to stop its children', () => withMarker(marker).length === 0);
    const events = (await readJournal(db, runId)).events;
    const stopped = events.find((e) => e.type === 'orphan-stopped');
    expect(stopped?.detail).toContain(`pid ${row.pid}`);
    expect(events.map((e) => e.type)).toEqual(['started', 'lease-taken-over', 'orphan-stopped', 'resumed', 'interrupted']);
  });
});

describe('a holder in words', () => {
  it('says how long ago it beat, that the clocks disagree when its beat is ahead, and never shows a made-up heartbeat', () => {
    const now = 1_000_000;
    const h = { token: 't', pid: 42, host: 'ci-7', user: 'bob', heartbeat: now - 12_000 };
    expect(describeHolder(h, now)).toBe('pid 42 on ci-7 (user bob, last heartbeat 12s ago)');
    expect(describeHolder({ ...h, heartbeat: now + 595_000 }, now)).toBe(
      "pid 42 on ci-7 (user bob, last heartbeat 595s ahead of this machine's clock (the clocks disagree))",
    );
    // Known only by its database session: no heartbeat and no user to show.
    expect(describeHolder({ ...h, user: 'unknown', heartbeat: 0 }, now)).toBe('pid 42 on ci-7 (no heartbeat recorded yet)');
  });
});
