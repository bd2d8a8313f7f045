// Meshes as records, read from the journal: what each install made, the runs since, and --mesh.

import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runIdFrom, tempDir } from './support/cli.js';
import { runCli } from './support/cli-here.js';
import { copyExamples } from './support/examples.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const FAST = ['--dry-run', '--sim-lb-delay', '0', '-q'];

interface Mesh {
  name: string;
  meshID: string;
  state: string;
  topology: string;
  createdBy: string;
  install: string;
  clusters: Array<{ name: string }>;
  runs: Array<{ id: string; kind: string; status: string }>;
}

describe('mesh-run meshes and mesh show', () => {
  it('lists what each install made, tells one meshID on two meshes apart, and follows --mesh through verify, uninstall and audit', async () => {
    const dir = join(tmp.dir, 'meshes');
    copyExamples(dir);
    const db = join(dir, 'journal.db');
    const at = ['--db', db];

    const page = runIdFrom(await runCli(['install', ...FAST, ...at]));
    const fleet = runIdFrom(await runCli(['install', ...FAST, '-c', join(dir, 'mixed-fleet.yaml'), ...at]));
    const multi = runIdFrom(await runCli(['install', ...FAST, '-c', join(dir, 'multi-primary.yaml'), ...at]));
    const failed = await runCli(['install', ...FAST, '-c', join(dir, 'primary-remote-multi-network.yaml'), '--inject-failure', 'install-primary', ...at]);
    expect(failed.code).toBe(1);

    const list = async () => JSON.parse((await runCli(['meshes', '-o', 'json', ...at])).stdout) as Mesh[];
    const meshes = await list();
    expect(meshes.map((m) => m.name).sort()).toEqual([`mesh1@${multi}`, `mesh1@${page}`, `mesh1@${runIdFrom(failed)}`, 'fleet'].sort());
    const byName = (name: string, from: Mesh[]) => from.find((m) => m.name === name) as Mesh;
    expect(byName('fleet', meshes)).toMatchObject({ state: 'installed', origin: 'installed', topology: 'mixed', createdBy: fleet, install: fleet });
    expect(byName('fleet', meshes).clusters.map((c) => c.name)).toEqual(['east-1', 'west-1', 'east-2', 'east-3', 'west-2']);
    expect(byName(`mesh1@${runIdFrom(failed)}`, meshes).state).toBe('incomplete');

    // One meshID, several meshes: the bare name is refused, naming them; a prefix of the install picks one.
    const ambiguous = await runCli(['verify', '--mesh', 'mesh1', '-q', ...at]);
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stderr).toContain('meshes are called mesh1:');
    const verified = await runCli(['verify', '--mesh', `mesh1@${page.slice(0, 6)}`, '-q', ...at]);
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.stdout).toContain(`(verify of ${page})`);

    expect((await runCli(['secrets', 'audit', '--mesh', 'fleet', ...at])).code).toBe(0);
    const removed = await runCli(['uninstall', '--mesh', 'fleet', '-q', ...at]);
    expect(removed.code, removed.stderr).toBe(0);
    const after = byName('fleet', await list());
    expect(after.state).toBe('removed');
    expect(after.runs.map((r) => `${r.kind}:${r.status}`)).toEqual(['install:succeeded', 'uninstall:succeeded']);

    const shown = await runCli(['mesh', 'show', 'fleet', ...at]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain('mesh      fleet  (mixed, dry-run, removed)');
    expect(shown.stdout).toMatch(/east-3 +remote +west +east-3 +mr-\S+ \(uninstall\) +uninstall-remote +succeeded/);
    const detail = JSON.parse((await runCli(['mesh', 'show', `mesh1@${page}`, '-o', 'json', ...at])).stdout) as {
      clusters: Array<{ name: string; lastRun?: { kind: string; step: string } }>;
    };
    expect(detail.clusters.map((c) => `${c.name}:${c.lastRun?.kind}:${c.lastRun?.step}`)).toEqual([
      'cluster1:verify:check-traffic',
      'cluster2:verify:check-traffic',
    ]);

    const unknown = await runCli(['mesh', 'show', 'nope', ...at]);
    expect(unknown.code).toBe(4);
    expect(unknown.stderr).toContain('no mesh "nope" in this journal');
  }, 120_000);
});
