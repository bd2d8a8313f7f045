// mesh-run init writes a starting config; the npm package carries what the README names and no key. An
// installed copy (npm pack, then a global install of the tarball) running init and a dry-run install from
// anywhere: test/deep/package-install.deep.test.ts (npm run test:deep).

import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { withContexts } from '../engine/config/starter.js';
import { tempDir } from './support/cli.js';
import { runCli } from './support/cli-here.js';
import { copyExamples } from './support/examples.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const ROOT = new URL('..', import.meta.url).pathname;

describe('mesh-run init', () => {
  it.each(['primary-remote', 'primary-remote-multi-network', 'multi-primary', 'multi-primary-multi-network', 'mixed-fleet'])(
    '--topology %s writes a config that checks, with the contexts given',
    async (topology) => {
      const dir = join(tmp.dir, topology);
      mkdirSync(dir);
      const clusters = (
        JSON.parse((await runCli(['config', 'check', '-c', join(ROOT, 'examples', `${topology}.yaml`), '-o', 'json'])).stdout) as {
          clusters: Array<{ name: string }>;
        }
      ).clusters.map((c) => c.name);
      const contexts = clusters.map((name) => `${name}=ctx-${name}`);
      const init = await runCli(['init', '--topology', topology, ...contexts.flatMap((c) => ['--context', c])], { cwd: dir });
      expect(init.code, init.stderr).toBe(0);
      expect(init.stdout).toContain(`wrote mesh.yaml (${topology})`);
      const text = readFileSync(join(dir, 'mesh.yaml'), 'utf8');
      expect(text).toMatch(/^# yaml-language-server: \$schema=\/.*examples\/mesh-run\.schema\.json$/m);
      expect(text.split('\n').filter((l) => l.trim().startsWith('#')).length).toBeGreaterThan(2);
      const check = await runCli(['config', 'check', '-c', join(dir, 'mesh.yaml'), '-o', 'json'], { cwd: dir });
      expect(check.code, check.stderr).toBe(0);
      const checked = JSON.parse(check.stdout) as { clusters: Array<{ name: string; context: string }> };
      for (const c of checked.clusters) expect(c.context).toBe(`ctx-${c.name}`);
    },
  );

  // A commented line that names an option ("# key: value", at any depth); the editor modeline is not one.
  const OPTION_LINE = /^(\s*)# ([A-Za-z][A-Za-z0-9]*:(?:\s.*)?)$/;
  const keysOf = (value: unknown): string[] =>
    Array.isArray(value)
      ? value.flatMap(keysOf)
      : value !== null && typeof value === 'object'
        ? Object.entries(value).flatMap(([k, v]) => [k, ...keysOf(v)])
        : [];

  it.each(['primary-remote', 'primary-remote-multi-network', 'multi-primary', 'multi-primary-multi-network', 'mixed-fleet'])(
    '--topology %s: every commented option line, uncommented where it stands, gives a config that checks',
    async (topology) => {
      const dir = join(tmp.dir, `uncomment-${topology}`);
      mkdirSync(dir);
      const init = await runCli(['init', '--topology', topology], { cwd: dir });
      expect(init.code, init.stderr).toBe(0);
      const lines = readFileSync(join(dir, 'mesh.yaml'), 'utf8').split('\n');
      const options = lines.flatMap((line, i) => (OPTION_LINE.test(line) && !line.startsWith('# yaml-language-server:') ? [i] : []));
      if (topology === 'primary-remote') {
        expect(options.map((i) => (lines[i] as string).trim().split(':')[0])).toEqual(
          expect.arrayContaining(['# revision', '# apiServer', '# trust', '# verify', '# tools']),
        );
      }
      for (const i of options) {
        const uncommented = lines.map((line, j) => (j === i ? line.replace(OPTION_LINE, '$1$2') : line));
        const file = join(dir, `line-${i + 1}.yaml`);
        writeFileSync(file, uncommented.join('\n'));
        const check = await runCli(['config', 'check', '-c', file, '-o', 'json'], { cwd: dir });
        expect(check.code, `line ${i + 1} "${(uncommented[i] as string).trim()}": ${check.stderr}`).toBe(0);
        // The line became a key of the document (not text inside a scalar).
        const key = (uncommented[i] as string).trim().split(':')[0] as string;
        expect(keysOf(parse(uncommented.join('\n'))), `line ${i + 1}`).toContain(key);
      }
    },
  );

  it('sets a context over the one a cluster names, or adds it after its name, quoting what YAML would misread', () => {
    const contexts = new Map([
      ['a', 'arn:aws:eks:us-east-1:123456789012:cluster/east'],
      ['b', 'kind-west'],
      ['c', 'true'],
    ]);
    const text = [
      'clusters:',
      '  - {name: a, context: old, role: primary}   # keep me',
      '  - {name: b, role: remote}',
      '  - name: c          # c stays',
      '    role: remote',
      '# tail',
      '',
    ].join('\n');
    expect(withContexts(text, contexts)).toBe(
      [
        'clusters:',
        '  - {name: a, context: "arn:aws:eks:us-east-1:123456789012:cluster/east", role: primary}   # keep me',
        '  - {name: b, context: kind-west, role: remote}',
        '  - name: c          # c stays',
        '    context: "true"',
        '    role: remote',
        '# tail',
        '',
      ].join('\n'),
    );
  });

  it('never overwrites a file without --force, and refuses a cluster the topology does not have', async () => {
    const dir = join(tmp.dir, 'exists');
    mkdirSync(dir);
    writeFileSync(join(dir, 'mesh.yaml'), 'meshID: mine\n');
    const refused = await runCli(['init'], { cwd: dir });
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('mesh.yaml exists; mesh-run init never overwrites a file');
    expect(readFileSync(join(dir, 'mesh.yaml'), 'utf8')).toBe('meshID: mine\n');
    const forced = await runCli(['init', '--force'], { cwd: dir });
    expect(forced.code).toBe(0);
    expect(parse(readFileSync(join(dir, 'mesh.yaml'), 'utf8')).meshID).toBe('mesh1');
    const unknown = await runCli(['init', '-o', 'other.yaml', '--context', 'east=x'], { cwd: dir });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('the primary-remote starter has no cluster "east"; its clusters: cluster1, cluster2');
    expect(existsSync(join(dir, 'other.yaml'))).toBe(false);
  });
});

describe('the npm package', () => {
  it('never carries a CA key: after an example with trust: ran in place (writing its keys 0600 into examples/certs), npm pack --dry-run lists none, and every file the README names', async () => {
    // A copy of the package's tree (what `files` may take from), so the keys this test writes and plants never
    // touch the checkout that other test files copy their examples from.
    const pkg = join(tmp.dir, 'package');
    mkdirSync(pkg, { recursive: true });
    for (const file of ['package.json', 'README.md']) cpSync(join(ROOT, file), join(pkg, file));
    for (const dir of ['dist', 'docs']) cpSync(join(ROOT, dir), join(pkg, dir), { recursive: true, filter: (src) => !/\/certs(\/|$)/.test(src) });
    const examples = join(pkg, 'examples');
    copyExamples(examples);
    const run = await runCli([
      'install',
      '--dry-run',
      '-c',
      join(examples, 'multi-primary.yaml'),
      '--db',
      join(tmp.dir, 'keys.db'),
      '--sim-lb-delay',
      '0',
      '-q',
    ]);
    expect(run.code, run.stderr).toBe(0);
    const packedNow = () =>
      (
        JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: pkg, encoding: 'utf8', stdio: 'pipe' })) as Array<{
          files: Array<{ path: string }>;
        }>
      )[0]?.files.map((f) => f.path) ?? [];
    const secretLooking = (files: string[]) => files.filter((f) => /\.(pem|key)$|key|certs\//i.test(f));
    // The example's outputDir (./certs) holds the root and the intermediates, private to the user...
    const ca = join(examples, 'certs');
    const mode = (p: string) => statSync(p).mode & 0o777;
    for (const dir of [ca, join(ca, 'cluster1'), join(ca, 'cluster2')]) expect(mode(dir), dir).toBe(0o700);
    for (const key of [join(ca, 'root-key.pem'), join(ca, 'cluster1', 'ca-key.pem'), join(ca, 'cluster2', 'ca-key.pem')]) expect(mode(key), key).toBe(0o600);
    // ...and none of it is packed.
    const first = packedNow();
    expect(secretLooking(first)).toEqual([]);
    // Every docs/ and examples/ file the README names is packed (the deep suite installs the package too).
    const named = [
      ...new Set(
        [...readFileSync(join(pkg, 'README.md'), 'utf8').matchAll(/\b((?:docs|examples)\/[\w.-]+\.(?:md|yaml|json|png))/g)].map((m) => m[1] as string),
      ),
    ];
    expect(named.length).toBeGreaterThan(3);
    for (const file of named) expect(first, file).toContain(file);

    // Keys a user put in the tree anyway (their own outputDir: ./certs, a stray file) stay out as well.
    mkdirSync(join(examples, 'certs', 'cluster1'), { recursive: true });
    writeFileSync(join(examples, 'certs', 'cluster1', 'ca-key.pem'), 'not a key');
    writeFileSync(join(examples, 'stray-key.yaml'), 'not a key');
    writeFileSync(join(examples, 'root-cert.pem'), 'not a cert');
    mkdirSync(join(pkg, 'docs', 'certs'), { recursive: true });
    writeFileSync(join(pkg, 'docs', 'certs', 'root-key.pem'), 'not a key');
    const packed = packedNow();
    expect(secretLooking(packed)).toEqual([]);
    expect(packed.filter((f) => f.startsWith('examples/')).every((f) => /^examples\/[\w.-]+\.(yaml|json)$/.test(f))).toBe(true);
  }, 120_000);
});
