import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { faultSpecForms, parseFaultSpec } from '../engine/config/fault-specs.js';
import { loadConfig, parseConfigText } from '../engine/config/mesh-config.js';
import { RUN_KINDS, stepIdsOf } from '../machines/steps.js';
import { ConfigError } from '../shared/errors.js';
import { runCli, tempDir } from './support/cli.js';

function problems(yaml: string, env: Record<string, string | undefined> = {}): string[] {
  try {
    parseConfigText(yaml, env, 'mesh.yaml');
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  return [];
}

describe('config defaults', () => {
  it('gives the Istio page values when no file is given', () => {
    const config = loadConfig(undefined, {}).config;
    expect(config).toMatchObject({
      meshID: 'mesh1',
      clusters: [
        { name: 'cluster1', context: 'cluster1', role: 'primary', network: 'network1' },
        { name: 'cluster2', context: 'cluster2', role: 'remote', network: 'network1', controlPlane: 'cluster1' },
      ],
      timeouts: { gatewayAddressMs: 300_000, commandMs: 600_000 },
      retry: { attempts: 3, initialDelayMs: 1000, maxDelayMs: 30_000, factor: 2 },
      tools: { kubectl: 'kubectl', istioctl: 'istioctl' },
    });
    expect(config.revision).toBeUndefined();
  });

  it('refuses an empty or comment-only file (a config that says nothing is a mistake), naming the file', () => {
    for (const text of ['', '\n\n', '# just a comment\n# another\n', '---\n']) {
      expect(() => parseConfigText(text, {}, 'mesh.yaml'), JSON.stringify(text)).toThrow(/^mesh\.yaml: the config file is empty/);
    }
  });

  it('reports a YAML syntax error on one line, without duplicates, and never echoes binary data', () => {
    const bad = (() => {
      try {
        parseConfigText('primary: [a, b\nremotes: {x: 1\nmeshID: "unterminated\n', {}, 'bad.yaml');
      } catch (error) {
        return (error as Error).message;
      }
      return '';
    })();
    expect(bad.split('\n')).toHaveLength(1);
    expect(bad).toMatch(/^bad\.yaml: line \d+, column \d+: .*; fix the YAML syntax$/);
    const binary = (() => {
      try {
        parseConfigText(`\x7fELF\x02\x01\x01\0\0\0\0\u0003\u0000>\u0000${'\u0001'.repeat(20)}secret-ish`, {}, 'a.out');
      } catch (error) {
        return (error as Error).message;
      }
      return '';
    })();
    expect(binary).toBe('a.out: is not a text file (it holds binary data); a mesh-run config is YAML text, e.g. examples/primary-remote.yaml');
  });

  it('takes the contexts from CTX_CLUSTER1 and CTX_CLUSTER2 like the Istio docs', () => {
    const config = loadConfig(undefined, { CTX_CLUSTER1: 'kind-east', CTX_CLUSTER2: 'kind-west' }).config;
    expect(config.clusters.map((c) => [c.name, c.role, c.context])).toEqual([
      ['cluster1', 'primary', 'kind-east'],
      ['cluster2', 'remote', 'kind-west'],
    ]);
  });

  it('reads the clusters: form: roles, per-cluster networks over the default, the only primary as control plane', () => {
    const config = parseConfigText('network: n1\nclusters:\n  - {name: a, role: primary}\n  - {name: b, role: remote, network: n2}\n', {}, 'mesh.yaml');
    expect(config.clusters).toEqual([
      { name: 'a', context: 'a', role: 'primary', network: 'n1' },
      { name: 'b', context: 'b', role: 'remote', network: 'n2', controlPlane: 'a' },
    ]);
    expect(config.form).toBe('clusters');
  });

  it('accepts the shipped example', () => {
    const config = loadConfig(new URL('../examples/primary-remote.yaml', import.meta.url).pathname, {}).config;
    expect(config.clusters.filter((c) => c.role === 'remote').map((r) => r.name)).toEqual(['cluster2']);
  });
});

describe('config validation: one line per problem, naming the field', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['cluster name not DNS-1123', 'primary: {name: Cluster_1}', /^mesh\.yaml: primary\.name: "Cluster_1" is not a DNS-1123 label.*e\.g\. "cluster-1"/],
    ['remote name not DNS-1123', 'remotes: [{name: "-bad"}]', /^mesh\.yaml: remotes\[0\]\.name: "-bad" is not a DNS-1123 label/],
    ['revision not DNS-1123', 'revision: Canary.1', /^mesh\.yaml: revision: "Canary\.1" is not a DNS-1123 label/],
    [
      'duplicate remote names',
      'remotes: [{name: c2, context: a}, {name: c2, context: b}]',
      /^mesh\.yaml: remotes\[1\]\.name: "c2" is already used by remotes\[0\]\.name/,
    ],
    [
      'remote named like the primary',
      'remotes: [{name: cluster1, context: x}]',
      /^mesh\.yaml: remotes\[0\]\.name: "cluster1" is already used by primary\.name/,
    ],
    [
      'shared context',
      'primary: {context: one}\nremotes: [{name: c2, context: one}]',
      /^mesh\.yaml: remotes\[0\]\.context: "one" is already the context of primary\.context; each cluster needs its own kube context/,
    ],
    ['unknown top-level key', 'primay: {name: c1}', /^mesh\.yaml: primay: unknown field; did you mean "primary"\?/],
    ['unknown nested key', 'remotes: [{name: c2, contxt: x}]', /^mesh\.yaml: remotes\[0\]\.contxt: unknown field; did you mean "context"\?/],
    ['wrong type', 'meshID: [a]', /^mesh\.yaml: meshID: expected a string, got a list/],
    ['empty remotes', 'remotes: []', /^mesh\.yaml: remotes: expected a non-empty list/],
    ['bad duration', 'timeouts: {gatewayAddress: soon}', /^mesh\.yaml: timeouts\.gatewayAddress: "soon" is not a duration/],
    ['bad retry attempts', 'retry: {attempts: 0}', /^mesh\.yaml: retry\.attempts: 0 is not a whole number from 1 to 20/],
    ['bad api server', 'remotes: [{name: c2, apiServer: "http://x"}]', /^mesh\.yaml: remotes\[0\]\.apiServer: "http:\/\/x" is not an API server URL/],
    ['context with a space', 'primary: {context: "a b"}', /^mesh\.yaml: primary\.context: "a b" is not a kube context name/],
    ['network unusable as a label', 'network: "net/1"', /^mesh\.yaml: network: "net\/1" is not usable as a Kubernetes label value/],
    ['not a mapping', '- a\n- b', /^mesh\.yaml: the document must be a mapping/],
    ['YAML syntax', 'meshID: [unclosed', /^mesh\.yaml: line 1, column \d+: .*; fix the YAML syntax/],
    ['duplicate keys', 'meshID: a\nmeshID: b', /^mesh\.yaml: line 2, column 1: Map keys must be unique/],
    [
      'more remotes than a run takes',
      `remotes: [${Array.from({ length: 1025 }, (_, i) => `{name: r${i}}`).join(', ')}]`,
      /^mesh\.yaml: remotes: 1025 remotes is more than the 1024 mesh-run supports; split the mesh into several runs/,
    ],
    ['maxParallelRemotes out of range', 'maxParallelRemotes: 0', /^mesh\.yaml: maxParallelRemotes: 0 is not a whole number from 1 to 256/],
    ['weak trust key', 'trust: {keySize: 1024}', /^mesh\.yaml: trust\.keySize: 1024 is not an RSA key size: 2048, 3072 or 4096/],
    [
      'intermediate outliving the root',
      'trust: {rootDays: 30, intermediateDays: 60}',
      /^mesh\.yaml: trust\.intermediateDays: 60 is not a whole number of days from 1 to the root's 30/,
    ],
    ['given CA with generator options', 'trust: {caDir: ./ca, keySize: 2048}', /^mesh\.yaml: trust\.keySize: only applies when mesh-run generates the CA/],
    ['unknown trust key', 'trust: {outputdir: ./c}', /^mesh\.yaml: trust\.outputdir: unknown field; did you mean "outputDir"\?/],
    ['bad verify timeout', 'verify: {timeout: later}', /^mesh\.yaml: verify\.timeout: "later" is not a duration/],
    ['trust not a mapping', 'trust: [a]', /^mesh\.yaml: trust: expected a mapping/],
    // The clusters: form, where a topology follows from roles and networks.
    ['cluster without a role', 'clusters: [{name: a}]', /^mesh\.yaml: clusters\[0\]\.role: missing; write "primary"/],
    ['no primary', 'clusters: [{name: a, role: remote}]', /^mesh\.yaml: clusters: no primary: at least one cluster must have role: primary/],
    [
      'remote without its primary among several',
      'clusters: [{name: a, role: primary}, {name: b, role: primary}, {name: c, role: remote}]\ntrust: {outputDir: ./c}',
      /^mesh\.yaml: clusters\[2\]\.controlPlane: missing; with several primaries each remote names the one that serves it \(a, b\)/,
    ],
    [
      'remote served by a remote',
      'clusters: [{name: a, role: primary}, {name: b, role: remote}, {name: c, role: remote, controlPlane: b}]',
      /^mesh\.yaml: clusters\[2\]\.controlPlane: "b" is a remote; a remote is served by a primary \(a\)/,
    ],
    [
      'remote served by nobody',
      'clusters: [{name: a, role: primary}, {name: c, role: remote, controlPlane: z}]',
      /^mesh\.yaml: clusters\[1\]\.controlPlane: "z" is not a cluster of this mesh/,
    ],
    [
      'primary naming a control plane',
      'clusters: [{name: a, role: primary}, {name: b, role: primary, controlPlane: a}]\ntrust: {outputDir: ./c}',
      /^mesh\.yaml: clusters\[1\]\.controlPlane: only a remote names a control plane/,
    ],
    [
      'two clusters on one context',
      'clusters: [{name: a, role: primary, context: k}, {name: b, role: remote, context: k}]',
      /^mesh\.yaml: clusters\[1\]\.context: "k" is already the context of clusters\[0\]\.context/,
    ],
    ['both forms', 'clusters: [{name: a, role: primary}]\nprimary: {name: a}', /^mesh\.yaml: clusters: give either clusters or primary\/remotes, not both/],
    [
      'several primaries without a shared root',
      'clusters: [{name: a, role: primary}, {name: b, role: primary}]',
      /^mesh\.yaml: trust: 2 primaries need one root of trust; add trust: \{outputDir: \.\/certs\}/,
    ],
    [
      'several primaries with a root kept only in memory',
      'clusters: [{name: a, role: primary}, {name: b, role: primary}]\ntrust: generate',
      /^mesh\.yaml: trust\.outputDir: missing; with several primaries the generated root must be kept/,
    ],
  ];

  it('takes a fleet of 1024 remotes (contexts named as the clusters)', () => {
    const yaml = `remotes: [${Array.from({ length: 1024 }, (_, i) => `{name: r${i}}`).join(', ')}]\nmaxParallelRemotes: 256`;
    expect(problems(yaml)).toEqual([]);
    expect(parseConfigText(yaml, {}, 'mesh.yaml').clusters).toHaveLength(1025);
  });

  it.each(cases)('%s', (_, yaml, expected) => {
    let found: string[] = [];
    try {
      parseConfigText(yaml, {}, 'mesh.yaml');
    } catch (error) {
      found = error instanceof ConfigError ? [...error.problems] : [String(error)];
    }
    expect(
      found.some((p) => expected.test(p)),
      found.join('\n'),
    ).toBe(true);
    for (const p of found) expect(p).not.toContain('\n');
  });

  it("resolves trust and verify paths against the config file, with Istio's certificate defaults", () => {
    const config = parseConfigText('trust: {outputDir: certs}\nverify: {samplesDir: /opt/istio-1.26.0, timeout: 30s}\n', {}, '/etc/mesh/mesh.yaml');
    expect(config.trust).toEqual({ source: 'generate', keySize: 4096, rootDays: 3650, intermediateDays: 730, outputDir: '/etc/mesh/certs' });
    expect(config.verify).toEqual({ samplesDir: '/opt/istio-1.26.0', timeoutMs: 30_000 });
    expect(parseConfigText('trust: {caDir: ca}\n', {}, '/etc/mesh/mesh.yaml').trust).toEqual({ source: 'files', caDir: '/etc/mesh/ca' });
    expect(parseConfigText('meshID: m\n', {}, '/etc/mesh/mesh.yaml').trust).toBeUndefined();
  });

  it('reports every problem at once', () => {
    expect(problems('primary: {name: A}\nremotes: [{name: B}]\nfoo: 1')).toHaveLength(3);
  });

  it('refuses alias bombs instead of expanding them', () => {
    const bomb = [
      'a: &a [x, x, x, x, x, x, x, x, x, x]',
      ...Array.from(
        { length: 8 },
        (_, i) =>
          `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}]`,
      ),
    ].join('\n');
    const found = problems(bomb);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^mesh\.yaml: /);
  });
});

describe('bad input on the command line', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it('exits 2 with one line per problem, no stack trace, and writes no database', async () => {
    const config = join(tmp.dir, 'bad.yaml');
    writeFileSync(config, 'primary: {name: Bad_Name, context: cluster1}\nremotes: [{name: cluster2, context: cluster1}]\n');
    const db = join(tmp.dir, 'never.db');
    const result = await runCli(['install', '--dry-run', '--config', config, '--db', db]);
    expect(result.code).toBe(2);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain('primary.name');
    expect(lines[1]).toContain('remotes[0].context');
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.stdout).toBe('');
    expect(existsSync(db)).toBe(false);
  });

  it.each([
    [['install', '--dry-run', '--inject-failure', 'install-everything'], /has no step "install-everything"/],
    [['install', '--dry-run', '--inject-failure', 'install-primary@cluster2'], /does not run on cluster "cluster2"/],
    [['install', '--inject-failure', 'preflight'], /only apply to simulated clusters; add --dry-run/],
    [['install', '--dry-run', '--config', '/nonexistent/mesh.yaml'], /--config \/nonexistent\/mesh\.yaml: cannot read the file \(no such file\)/],
    [['install', '--dry-run', '--sim-lb', 'maybe'], /argument 'maybe' is invalid/],
    [['install', '--bogus'], /unknown option '--bogus'/],
    [['status', 'mr-$(rm -rf /)'], /is not a run id/],
    [['resume', 'x; reboot'], /is not a run id/],
  ])('%j exits 2 and changes nothing', async (args, message) => {
    const db = join(tmp.dir, `never-${Math.random()}.db`);
    const result = await runCli([...args, '--db', db]);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr.trim().split('\n').length).toBeLessThanOrEqual(2);
    expect(existsSync(db)).toBe(false);
  });
});

describe('--inject-failure forms (what completion offers)', () => {
  const examples = ['primary-remote', 'primary-remote-multi-network', 'multi-primary', 'multi-primary-multi-network', 'mixed-fleet'];
  it.each(examples)('%s: every form offered for every run kind is accepted, and every step it accepts is offered', (example) => {
    const base = loadConfig(new URL(`../examples/${example}.yaml`, import.meta.url).pathname, {}).config;
    for (const kind of RUN_KINDS) {
      // A cluster add or remove names the cluster joining or leaving.
      const config = kind === 'cluster-add' || kind === 'cluster-remove' ? { ...base, subject: base.clusters.at(-1)?.name as string } : base;
      const forms = faultSpecForms(config, kind);
      expect(forms.length, kind).toBeGreaterThan(0);
      for (const form of forms) expect(() => parseFaultSpec(form, config, kind), `${kind} ${form}`).not.toThrow();
      for (const step of stepIdsOf(kind)) {
        let accepted = true;
        try {
          parseFaultSpec(step, config, kind);
        } catch {
          accepted = false;
        }
        expect(forms.includes(step), `${kind} ${step}`).toBe(accepted);
      }
    }
  });
});
