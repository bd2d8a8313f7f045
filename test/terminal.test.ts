// The live display in a real terminal (a tmux pane), read back from the screen: rows cut to the width,
// redrawn in place (never stacked), and a Ctrl-C message that the display does not draw over.
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
