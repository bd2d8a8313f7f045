// The HTML report, rendered in headless Chromium: no console errors, every step shown, failures visible.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { INSTALL_STEP_IDS } from '../machines/steps.js';
import { runCli, runIdFrom, tempDir } from './support/cli.js';

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
