// A real uninstall asks before it deletes: on a terminal it shows what goes and takes only "yes"; without
// one it needs --yes. Dry runs never ask. Refusals change nothing anywhere (no run, no database).
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, runCli, tempDir } from './support/cli.js';
import { writeFakeTools } from './support/fake-tools.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

function realConfig(name: string): { config: string; db: string } {
  const dir = join(tmp.dir, name);
  spawnSync('mkdir', ['-p', dir]);
  const tools = writeFakeTools(dir, 'unused-marker');
  const config = join(dir, 'mesh.yaml');
  writeFileSync(config, `tools: {kubectl: ${tools.kubectl}, istioctl: ${tools.istioctl}}\n`);
  return { config, db: join(dir, 'journal.db') };
}

// Runs the CLI on a pseudo-terminal (util-linux script), typing `answer`.
function onTerminal(args: string[], answer: string): { status: number | null; output: string } {
  const command = [process.execPath, CLI, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  const result = spawnSync('script', ['-qec', command, '/dev/null'], { input: `${answer}\n`, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { status: result.status, output: result.stdout };
}

describe('a real uninstall confirms first', () => {
  it('without a terminal it needs --yes: exit 2, one line, nothing created', async () => {
    const { config, db } = realConfig('no-tty');
    const result = await runCli(['uninstall', '--config', config, '--db', db]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe('mesh-run: error: uninstall of real clusters deletes Istio from them: confirm on a terminal, or pass --yes');
    expect(existsSync(db)).toBe(false);
  });

  it('with --yes it goes on to the run', async () => {
    const { config, db } = realConfig('yes');
    const result = await runCli(['uninstall', '--config', config, '--db', db, '--yes', '-q']);
    // The fake kubectl cannot remove anything; what matters is that a run was started.
    expect(result.stdout).toMatch(/^run mr-/m);
    expect(existsSync(db)).toBe(true);
  });

  it.runIf(spawnSync('script', ['--version']).status === 0)('on a terminal it lists what it deletes per cluster and takes only "yes"', () => {
    const { config, db } = realConfig('tty');
    const declined = onTerminal(['uninstall', '--config', config, '--db', db], 'y');
    expect(declined.output).toContain('uninstall removes mesh mesh1 from 2 real clusters:');
    expect(declined.output).toContain('cluster1 (context cluster1, primary):');
    expect(declined.output).toContain('- istioctl uninstall --purge and delete istio-system on the primary');
    expect(declined.output).toContain("- Remove this cluster's secret from every primary");
    expect(declined.output).toContain('What existed before mesh-run installed (istio-system, cacerts, a sample namespace, labels) is kept.');
    expect(declined.output).toContain("Only 'yes' will be accepted to confirm:");
    expect(declined.output).toContain('uninstall not confirmed: nothing was changed');
    expect(declined.status).toBe(2);
    expect(existsSync(db)).toBe(false);

    const accepted = onTerminal(['uninstall', '--config', config, '--db', db, '-q'], 'yes');
    expect(accepted.output).toMatch(/run mr-/);
    expect(existsSync(db)).toBe(true);
  });

  it('dry runs never ask', async () => {
    const db = join(tmp.dir, 'dry.db');
    expect((await runCli(['install', '--dry-run', '--sim-lb-delay', '0', '-q', '--db', db])).code).toBe(0);
    const removed = await runCli(['uninstall', '--dry-run', '-q', '--db', db]);
    expect(removed.code, removed.stderr).toBe(0);
  });
});
