// The HTML report, rendered in headless Chromium: no console errors, every step shown, failures visible.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { INSTALL_STEP_IDS } from '../machines/steps.js';
import { runIdFrom, startCli, tempDir } from './support/cli.js';
import { runCli } from './support/cli-here.js';
import { peek } from './support/journal.js';

const CHROMIUM = process.env.MESH_RUN_CHROMIUM ?? '/usr/bin/chromium';
const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe('mesh-run report', () => {
  it('writes a self-contained page: no external resources, every step, the failed attempt', async () => {
    const db = join(tmp.dir, 'r.db');
    const config = join(tmp.dir, 'r.yaml');
    writeFileSync(config, 'remotes: [{name: cluster2}, {name: cluster3}]\n');
    const id = runIdFrom(
      await runCli(['install', '--dry-run', '--sim-lb-delay', '0', '--config', config, '--inject-failure', 'install-remote@cluster3', '-q', '--db', db]),
    );
    expect((await runCli(['resume', id, '--db', db, '-q'])).code).toBe(0);
    const file = join(tmp.dir, 'report.html');
    const out = await runCli(['report', id, '--html', file, '--db', db]);
    expect(out.code, out.stderr).toBe(0);
    const html = readFileSync(file, 'utf8');
    expect(html).not.toMatch(/<(script|link)\b[^>]*(src|href)=["']?https?:/i);
    expect(html).not.toMatch(/url\(["']?https?:/i);
    for (const step of INSTALL_STEP_IDS) expect(html).toContain(step);
    expect(html).toContain('class="bar failed"');
    expect(html).toContain('#1 failed');
  });

  it("ends a killed attempt's bar where it was last known at work, not at the resume that closed it", async () => {
    const db = join(tmp.dir, 'killed.db');
    const run = startCli(['install', '--dry-run', '--sim-lb-delay', '0', '--sim-latency', '300ms', '-q', '--db', db]);
    const open = () =>
      peek<{ n: number }>(db, "SELECT COUNT(*) AS n FROM commands c JOIN step_attempts a ON a.id = c.attempt_id WHERE a.step = 'install-primary'")?.[0]?.n ?? 0;
    for (let i = 0; i < 300 && open() === 0; i++) await new Promise((r) => setTimeout(r, 50));
    run.child.kill('SIGKILL');
    await run.done;
    const id = runIdFrom(await run.done);
    // The run lies dead for a while before it is resumed.
    await new Promise((r) => setTimeout(r, 2500));
    expect((await runCli(['resume', id, '--db', db, '-q'])).code).toBe(0);
    const file = join(tmp.dir, 'killed.html');
    expect((await runCli(['report', id, '-o', file, '--db', db])).code).toBe(0);
    const html = readFileSync(file, 'utf8');
    const resumedAt = Number(/<line x1="([\d.]+)"[^>]*><title>resumed at/.exec(html)?.[1]);
    const bars = [...html.matchAll(/<rect class="bar interrupted" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"[^>]*><title>([^<]*)<\/title>/g)];
    expect(bars.length).toBeGreaterThan(0);
    for (const [, x, width, title] of bars) {
      // 2.5 s of a run of a few seconds is well over 100 of the chart's 720 pixels.
      expect(Number(x) + Number(width), title).toBeLessThan(resumedAt - 100);
      expect(title).toMatch(/last known at work .* \(its driver stopped; closed when the run resumed at /);
    }
  });

  it.skipIf(!existsSync(CHROMIUM))('renders in headless Chromium without console errors and shows every step', async () => {
    const { chromium } = await import('playwright-core');
    const db = join(tmp.dir, 'shot.db');
    const config = join(tmp.dir, 'shot.yaml');
    writeFileSync(config, 'remotes: [{name: cluster2}, {name: cluster3}]\nretry: {attempts: 2, initialDelay: 200ms}\n');
    const failed = await runCli([
      'install',
      '--dry-run',
      '--config',
      config,
      '--sim-latency',
      '120ms',
      '--sim-lb-delay',
      '800ms',
      '--inject-failure',
      'install-remote@cluster3',
      '--inject-failure',
      'create-remote-namespace@cluster2:1:transient',
      '-q',
      '--db',
      db,
    ]);
    const id = runIdFrom(failed);
    expect(failed.code).toBe(1);
    expect((await runCli(['resume', id, '--db', db, '-q'])).code).toBe(0);
    const file = join(tmp.dir, 'shot.html');
    await runCli(['report', id, '--html', file, '--db', db]);

    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
      const errors: string[] = [];
      const requests: string[] = [];
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      page.on('pageerror', (e) => errors.push(String(e)));
      page.on('request', (r) => requests.push(r.url()));
      await page.goto(`file://${file}`);
      expect(errors).toEqual([]);
      expect(requests.filter((u) => !u.startsWith('file:') && !u.startsWith('data:'))).toEqual([]);
      const text = await page.textContent('body');
      for (const step of INSTALL_STEP_IDS) expect(text).toContain(step);
      expect(await page.locator('svg.diagram g.state').count()).toBeGreaterThan(10);
      expect(await page.locator('svg.gantt rect.bar.failed').count()).toBe(2);
      // One success per (step, cluster): preflight, four primary steps, four steps on each of two remotes.
      expect(await page.locator('svg.gantt rect.bar.succeeded').count()).toBe(1 + 4 + 4 * 2);
      // MESH_RUN_UPDATE_DOCS=1 refreshes the screenshot kept in docs/; otherwise it goes to a temporary folder.
      const target = process.env.MESH_RUN_UPDATE_DOCS ? new URL('../docs/', import.meta.url).pathname : tmp.dir;
      mkdirSync(target, { recursive: true });
      await page.screenshot({ path: join(target, 'report-failed-then-resumed.png'), fullPage: true });
    } finally {
      await browser.close();
    }
  });
});
