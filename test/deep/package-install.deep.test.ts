// The npm package installed for real (npm run test:deep): npm pack, then a global install of the tarball into a
// fresh prefix (which builds better-sqlite3's binding), runs init and a dry-run install from anywhere.
// test/init-and-package.test.ts checks what the package carries without installing it.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../support/cli.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const ROOT = new URL('../..', import.meta.url).pathname;

describe('the npm package', () => {
  it('installed from its tarball into a fresh prefix, runs init and a dry-run install from another directory', () => {
    const packed = join(tmp.dir, 'packed');
    mkdirSync(packed);
    execFileSync('npm', ['pack', '--ignore-scripts', '--pack-destination', packed], { cwd: ROOT, stdio: 'pipe' });
    const tarball = join(packed, readdirSync(packed).find((f) => f.endsWith('.tgz')) as string);
    const prefix = join(tmp.dir, 'prefix');
    const install = spawnSync('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', '--prefer-offline', tarball], { encoding: 'utf8' });
    expect(install.status, install.stderr).toBe(0);
    const bin = join(prefix, 'bin', 'mesh-run');
    const installed = join(prefix, 'lib', 'node_modules', 'mesh-run');

    // Every docs/ and examples/ file the README names is in the installed copy.
    const named = [
      ...new Set(
        [...readFileSync(join(ROOT, 'README.md'), 'utf8').matchAll(/\b((?:docs|examples)\/[\w.-]+\.(?:md|yaml|json|png))/g)].map((m) => m[1] as string),
      ),
    ];
    expect(named.length).toBeGreaterThan(3);
    for (const file of named) expect(existsSync(join(installed, file)), file).toBe(true);

    const work = join(tmp.dir, 'elsewhere');
    mkdirSync(work);
    const env = { ...process.env, MESH_RUN_DB: join(work, 'journal.db'), NO_COLOR: '1', CTX_CLUSTER1: '', CTX_CLUSTER2: '' };
    const init = spawnSync(bin, ['init', '--context', 'cluster2=east-2'], { cwd: work, env, encoding: 'utf8' });
    expect(init.status, init.stderr).toBe(0);
    expect(readFileSync(join(work, 'mesh.yaml'), 'utf8')).toContain(`$schema=${installed}/examples/mesh-run.schema.json`);
    const run = spawnSync(bin, ['install', '--dry-run', '-c', 'mesh.yaml', '--sim-lb-delay', '0', '-q'], { cwd: work, env, encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain('mesh installed: cluster2 attached to cluster1');
    const shown = spawnSync(bin, ['runs', '-o', 'json'], { cwd: work, env, encoding: 'utf8' });
    expect((JSON.parse(shown.stdout) as Array<{ clusters: { remotes: string[] } }>)[0]?.clusters.remotes).toEqual(['cluster2']);
  });
});
