// The live display in a real terminal (a tmux pane), read back from the screen: rows cut to the width,
// redrawn in place (never stacked), never taller than the pane, and a Ctrl-C message that the display does
// not draw over.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fitRows, isGroupRow, isMoreRow } from '../cli/render/fit-rows.js';
import { CLI, tempDir } from './support/cli.js';
import { peek } from './support/journal.js';

const tmp = tempDir();
const tmux = (args: string[]) => execFileSync('tmux', ['-L', `mesh-run-test-${process.pid}`, ...args], { encoding: 'utf8' });
const haveTmux = spawnSync('tmux', ['-V']).status === 0;
afterAll(() => {
  spawnSync('tmux', ['-L', `mesh-run-test-${process.pid}`, 'kill-server']);
  tmp.cleanup();
});

// Install steps of the default mesh: one live row each.
const SLOTS = 9;
const ROW = /^[✔✖·⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] (?!run |mesh )/;
// Any row of the live display: a slot, a group summed up, or the count of rows left out.
const DISPLAY = /^(?:[✔✖·⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] (?!run |mesh )|… )/;

async function until(what: string, probe: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function screen(session: string): string[] {
  return tmux(['capture-pane', '-p', '-t', session, '-S', '-200']).split('\n');
}

describe.skipIf(!haveTmux)('the live display in a terminal', () => {
  // tmux's server exits with its last session; a new session started as it exits fails ("server exited
  // unexpectedly"), so one idle session keeps the server up between the tests.
  beforeAll(() => {
    tmux(['new-session', '-d', '-s', 'keepalive', 'sleep 3600']);
  });

  it.each([20, 80, 200])('at %i columns, cuts every row to the width and redraws it in place', async (columns) => {
    const db = join(tmp.dir, `pty-${columns}.db`);
    const session = `cols${columns}`;
    const command = `"${process.execPath}" "${CLI}" install --dry-run --sim-lb-delay 0 --sim-latency 60ms --inject-failure install-primary:1:transient --db "${db}"; echo "exit=$?"; sleep 60`;
    tmux(['new-session', '-d', '-s', session, '-x', String(columns), '-y', '60', '-e', 'MESH_RUN_DB=', '-e', 'NO_COLOR=', command]);
    await until('the run to end', () => screen(session).some((l) => l.startsWith('exit=')));
    const lines = screen(session).filter((l) => l.trim() !== '');
    expect(lines.find((l) => l.startsWith('exit='))).toBe('exit=0');
    // Rows are cut to the width (the pane wraps nothing), and each slot has exactly one row.
    for (const line of lines) expect(line.length, line).toBeLessThanOrEqual(columns);
    const rows = lines.filter((l) => ROW.test(l));
    expect(rows.length, rows.join('\n')).toBe(SLOTS);
    if (columns >= 80) expect(rows.some((r) => r.includes('(attempt 2)'))).toBe(true);
    tmux(['kill-session', '-t', session]);
  });

  it('on a pane shorter than the run (37 rows on 20 lines): never taller than the pane, nothing stale in the scrollback', async () => {
    const fleet = readFileSync(new URL('../examples/mixed-fleet.yaml', import.meta.url), 'utf8').replace(
      'outputDir: ./certs',
      `outputDir: ${join(tmp.dir, 'fleet-certs')}\n  keySize: 2048`,
    );
    const config = join(tmp.dir, 'fleet.yaml');
    writeFileSync(config, fleet);
    const db = join(tmp.dir, 'pty-short.db');
    const session = 'short';
    const command = `"${process.execPath}" "${CLI}" install -c "${config}" --dry-run --sim-lb-delay 0 --sim-latency 60ms --db "${db}"; echo "exit=$?"; sleep 60`;
    tmux(['new-session', '-d', '-s', session, '-x', '110', '-y', '20', '-e', 'MESH_RUN_DB=', '-e', 'NO_COLOR=', command]);
    const scrolled = () => Number(tmux(['display', '-p', '-t', session, '#{history_size}']).trim());
    // While it runs: the block fits the pane (the run id line above it is all that may scroll away).
    let tallest = 0;
    let mostScrolled = 0;
    await until(
      'the run to end',
      () => {
        const visible = tmux(['capture-pane', '-p', '-t', session]).split('\n');
        tallest = Math.max(tallest, visible.filter((l) => DISPLAY.test(l)).length);
        mostScrolled = Math.max(mostScrolled, scrolled());
        return visible.some((l) => l.startsWith('exit='));
      },
      90_000,
    );
    expect(tallest).toBeGreaterThan(5);
    expect(tallest).toBeLessThanOrEqual(19);
    expect(mostScrolled).toBeLessThanOrEqual(1);
    // The whole scrollback and screen: the display's rows once, no frame left behind.
    const all = tmux(['capture-pane', '-p', '-t', session, '-S', '-']).split('\n');
    expect(all.find((l) => l.startsWith('exit='))).toBe('exit=0');
    const rows = all.filter((l) => DISPLAY.test(l));
    expect(rows.length, rows.join('\n')).toBeLessThanOrEqual(19);
    expect(rows).toContain('✔ finished: preflight, east-1, west-1, east-2, east-3, west-2 (37 steps)');
    tmux(['kill-session', '-t', session]);
  }, 120_000);

  it('Ctrl-C: the display stops, the message stays on screen once, and nothing is drawn over it', async () => {
    const db = join(tmp.dir, 'pty-sigint.db');
    const session = 'sigint';
    const command = `"${process.execPath}" "${CLI}" install --dry-run --sim-lb-delay 0 --sim-latency 400ms --db "${db}"; echo "exit=$?"; sleep 60`;
    tmux(['new-session', '-d', '-s', session, '-x', '100', '-y', '60', '-e', 'MESH_RUN_DB=', command]);
    await until('a step to run', () => (peek<{ n: number }>(db, "SELECT COUNT(*) AS n FROM step_attempts WHERE step = 'install-primary'")?.[0]?.n ?? 0) > 0);
    tmux(['send-keys', '-t', session, 'C-c']);
    await until('the run to stop', () => screen(session).some((l) => l.startsWith('exit=')));
    const lines = screen(session).filter((l) => l.trim() !== '');
    expect(lines.find((l) => l.startsWith('exit='))).toBe('exit=130');
    const message = lines.findIndex((l) => l.startsWith('SIGINT received: stopping child processes and saving the run...'));
    expect(message, lines.join('\n')).toBeGreaterThan(0);
    expect(lines.filter((l) => l.startsWith('SIGINT received'))).toHaveLength(1);
    // The live rows were drawn once, above the message; no row was redrawn below it.
    expect(lines.filter((l) => ROW.test(l)).length).toBe(SLOTS);
    expect(lines.slice(message + 1).filter((l) => ROW.test(l))).toEqual([]);
    tmux(['kill-session', '-t', session]);
  });
});

describe('fitting the display to the height', () => {
  type Status = 'pending' | 'running' | 'succeeded' | 'failed' | 'retrying';
  const slot = (step: string, cluster: string, status: Status) => ({ step, cluster, status });
  const fleet = (statusOf: (cluster: string, i: number) => Status) =>
    ['c1', 'c2', 'c3', 'c4', 'c5'].flatMap((c) => ['s1', 's2', 's3', 's4'].map((s, i) => slot(s, c, statusOf(c, i))));

  it('sums up finished clusters first, then those not started, and keeps running and failed rows', () => {
    const slots = [
      slot('preflight', '*', 'succeeded'),
      ...fleet((c, i) =>
        c === 'c1' || c === 'c2'
          ? 'succeeded'
          : c === 'c3'
            ? i === 0
              ? 'failed'
              : 'pending'
            : c === 'c4' && i === 1
              ? 'running'
              : c === 'c4' && i === 0
                ? 'succeeded'
                : 'pending',
      ),
    ];
    expect(fitRows(slots, 40)).toHaveLength(21);
    const finishedOnly = fitRows(slots, 13);
    expect(finishedOnly[0]).toEqual({ group: 'finished', names: ['preflight', 'c1', 'c2'], steps: 9 });
    expect(finishedOnly).toHaveLength(13);
    const both = fitRows(slots, 10);
    expect(both.at(-1)).toEqual({ group: 'pending', names: ['c5'], steps: 4 });
    expect(both).toHaveLength(10);
    const tight = fitRows(slots, 5);
    expect(tight).toHaveLength(5);
    const kept = tight.flatMap((r) => (isGroupRow(r) || isMoreRow(r) ? [] : [`${r.step}@${r.cluster}`]));
    expect(kept).toEqual(['s1@c3', 's2@c4']);
    expect(tight.find(isMoreRow)).toEqual({ more: 6, finished: 1, pending: 5 });
  });

  it('never returns more rows than the height, whatever the statuses', () => {
    const statuses: Status[] = ['pending', 'running', 'succeeded', 'failed', 'retrying'];
    let seed = 7;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    for (let round = 0; round < 500; round++) {
      const slots = fleet(() => statuses[next() % statuses.length] as Status);
      const height = 1 + (next() % 25);
      const rows = fitRows(slots, height);
      expect(rows.length).toBeLessThanOrEqual(height);
      // Every slot is shown, summed up or counted.
      const shown = rows.reduce((n, r) => n + (isGroupRow(r) ? r.steps : isMoreRow(r) ? r.more : 1), 0);
      if (height >= 4) expect(shown).toBe(slots.length);
    }
  });
});
