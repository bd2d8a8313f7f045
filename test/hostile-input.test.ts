// Hostile input: generated configs and arguments must each end in exit 2 with one-line messages,
// no stack trace, no database written, and nothing reaching a shell.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Streams } from '../cli/output.js';
import { main } from '../cli/program.js';
import { tempDir } from './support/cli.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

function captureStreams(): { streams: Streams; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  const fake = (sink: (s: string) => void) =>
    ({
      write: (s: string) => {
        sink(String(s));
        return true;
      },
      isTTY: false,
      columns: 0,
      on: () => undefined,
    }) as unknown as NodeJS.WriteStream;
  return { streams: { stdout: fake((s) => (out += s)), stderr: fake((s) => (err += s)) }, out: () => out, err: () => err };
}

// A small deterministic generator, so a failing case can be reproduced from its number.
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

const SHELLY = ['$(touch PWNED)', '`touch PWNED`', 'a;touch PWNED', 'a|b', 'a&&b', '../../etc', "a'b", 'a"b', 'a\\b', '$IFS', '-rf', '--context=evil'];
const UNICODE = ['clüster', 'кластер', '集群', 'c\u200bluster', '\u202ecluster', 'cluster🚀', 'ＣＬＵＳＴＥＲ', 'e\u0301'];
const WRONG = ['1', 'true', 'null', '[a, b]', '{a: 1}', '-1', '1.5', '""', "''"];

function configCases(): Array<[string, string]> {
  const cases: Array<[string, string]> = [];
  const fields = [
    'meshID',
    'network',
    'revision',
    'primary.name',
    'primary.context',
    'remotes[0].name',
    'remotes[0].context',
    'remotes[0].apiServer',
    'timeouts.gatewayAddress',
    'timeouts.command',
    'retry.attempts',
    'retry.factor',
    'retry.initialDelay',
    'tools.kubectl',
  ];
  const place = (field: string, value: string): string => {
    const m = /^(\w+)(?:\[0\])?(?:\.(\w+))?$/.exec(field) as RegExpExecArray;
    const [, top, sub] = m;
    if (field.startsWith('remotes[0]')) return `remotes:\n  - name: cluster2\n    ${sub}: ${value}\n`;
    return sub ? `${top}:\n  ${sub}: ${value}\n` : `${top}: ${value}\n`;
  };
  // Values that are valid for a field are not hostile there: an empty or null revision means "none", and so on.
  const valid = (field: string, v: string) =>
    (field === 'revision' && ['null', '""', "''"].includes(v)) ||
    (field === 'retry.attempts' && v === '1') ||
    (field === 'retry.factor' && ['1', '1.5'].includes(v)) ||
    (field === 'tools.kubectl' && v === '1.5');
  for (const field of fields) {
    for (const v of WRONG) if (!valid(field, v)) cases.push([`${field} = ${v}`, place(field, v)]);
    // Contexts and program paths may legally hold shell characters (they never meet a shell); names may not.
    const legal = (v: string) => (field.endsWith('.context') && !/\s/.test(v) && !v.startsWith('-')) || (field === 'tools.kubectl' && !v.startsWith('-'));
    for (const v of SHELLY) if (!legal(v)) cases.push([`${field} = ${v}`, place(field, JSON.stringify(v))]);
    for (const v of UNICODE)
      if (!['primary.context', 'remotes[0].context', 'tools.kubectl'].includes(field)) cases.push([`${field} = ${v}`, place(field, JSON.stringify(v))]);
    cases.push([`${field} huge`, place(field, JSON.stringify('x'.repeat(70_000)))]);
  }
  // Wrong shapes at the top.
  for (const doc of [
    '- a\n- b\n',
    '42\n',
    '"text"\n',
    'remotes: {name: c2}\n',
    'primary: [c1]\n',
    'remotes: []\n',
    'remotes: [null]\n',
    'timeouts: []\n',
    'retry: "often"\n',
    'tools: true\n',
  ])
    cases.push([`shape ${JSON.stringify(doc)}`, doc]);
  // Unknown and duplicate keys at several levels.
  for (const doc of [
    'meshId: mesh1\n',
    'meshID: a\nmeshID: b\n',
    'primary: {name: c1, name: c2}\n',
    'remotes: [{name: c2, context: x, context: y}]\n',
    'retry: {attempts: 2, attempts: 3}\n',
    'timeouts: {gatewayAdress: 1m}\n',
    'extra: 1\n',
  ])
    cases.push([`keys ${JSON.stringify(doc)}`, doc]);
  // Alias expansion bombs, self-references, merge keys.
  const laugh = (depth: number, width: number) => {
    const lines = [`l0: &l0 [${Array(width).fill('"lol"').join(', ')}]`];
    for (let i = 1; i <= depth; i++)
      lines.push(
        `l${i}: &l${i} [${Array(width)
          .fill(`*l${i - 1}`)
          .join(', ')}]`,
      );
    return `${lines.join('\n')}\nmeshID: *l${depth}\n`;
  };
  for (const [d, w] of [
    [3, 10],
    [6, 10],
    [9, 9],
    [12, 5],
  ] as const)
    cases.push([`billion laughs ${d}x${w}`, laugh(d, w)]);
  cases.push(['alias to a string', 'base: &b cluster9\nprimary: {name: *b}\nextra: 1\n']);
  cases.push(['merge keys', 'base: &b {name: c1}\nprimary: {<<: *b, bogus: 1}\n']);
  // Syntax garbage, control characters, deep nesting, several documents.
  cases.push(['nul bytes', 'meshID: a\u0000b\n']);
  cases.push(['tabs', 'primary:\n\tname: c1\n']);
  cases.push(['unclosed', 'primary: {name: c1\n']);
  cases.push(['two documents', 'meshID: a\n---\nmeshID: b\n']);
  cases.push(['deep nesting', `meshID: ${'['.repeat(5000)}${']'.repeat(5000)}\n`]);
  cases.push(['binary', Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 37) % 256)).toString('latin1')]);
  const r = rng(20261126);
  for (let i = 0; i < 120; i++) {
    const len = 1 + Math.floor(r() * 80);
    let text = '';
    for (let j = 0; j < len; j++) text += String.fromCharCode(32 + Math.floor(r() * 95));
    cases.push([`random ${i}`, `primary: {name: ${JSON.stringify(text)}}\nremotes: [{name: ${JSON.stringify(text)}}]\n`]);
  }
  return cases;
}

function argumentCases(): string[][] {
  const cases: string[][] = [
    ['frobnicate'],
    ['install', '--bogus'],
    ['install', '--dry-run', '--sim-lb'],
    ['install', '--dry-run', '--sim-lb', 'udp'],
    ['status'],
    ['resume'],
    ['runs', '--limit', '0'],
    ['runs', '--limit', 'many'],
    ['runs', '--limit', '1e9'],
    ['install', '--config'],
  ];
  for (const spec of [
    '',
    'install',
    'install-primary@',
    'install-primary@cluster9',
    'install-primary:0',
    'install-primary:101',
    'install-primary:-1',
    'install-primary:two',
    'install-primary::transient',
    'install-primary:1:sometimes',
    '$(reboot)',
    'preflight@cluster1:1:transient:extra',
    'attach-remote@cluster1',
    'INSTALL-PRIMARY',
  ]) {
    cases.push(['install', '--dry-run', '--inject-failure', spec]);
  }
  for (const d of ['soon', '-5s', '5', '1y', '5 s', '', '99999999h'])
    cases.push(['install', '--dry-run', '--sim-lb-delay', d], ['install', '--dry-run', '--sim-latency', d]);
  for (const id of [...SHELLY, ...UNICODE, '', 'x'.repeat(300), 'mr-*', 'mr-%'])
    cases.push(['status', id], ['resume', id], ['verify', '--run', id], ['uninstall', '--run', id]);
  for (const spec of ['install-primary', 'check-traffic@cluster9', 'uninstall-remote@cluster1', '$(reboot)', 'deploy-sample:0']) {
    cases.push(['verify', '--dry-run', '--inject-failure', spec], ['uninstall', '--dry-run', '--inject-failure', spec]);
  }
  cases.push(
    ['verify', '--force'],
    ['verify', '--run', 'mr-a', '--config', 'x.yaml'],
    ['uninstall', '--config'],
    ['verify', '--inject-failure', 'check-traffic'],
    ['plan', 'reinstall'],
    ['graph', '--kind', 'migrate'],
    ['history', '--kind', 'migrate'],
  );
  return cases;
}

describe('hostile input', () => {
  it('every generated config and argument ends in exit 2, one-line messages, nothing written', async () => {
    let ran = 0;
    const failures: string[] = [];
    const check = async (label: string, argv: string[], db: string) => {
      const io = captureStreams();
      const code = await main(argv, io.streams);
      ran++;
      const err = io.err();
      const problems: string[] = [];
      if (code !== 2) problems.push(`exit ${code}`);
      if (/\n\s+at \S+ \(/.test(err) || err.includes('internal error')) problems.push('stack trace or internal error');
      for (const line of err.trim().split('\n')) {
        if (!/^(mesh-run: (error|hint):|error:|\(Did you mean)/.test(line) && !/^\s*$/.test(line)) problems.push(`unexpected line: ${line.slice(0, 80)}`);
        if (line.length > 2000) problems.push('a message longer than 2000 characters');
      }
      if (io.out() !== '') problems.push('wrote to stdout');
      if (existsSync(db)) problems.push('created a database');
      if (existsSync(join(process.cwd(), 'PWNED')) || existsSync(join(tmp.dir, 'PWNED'))) problems.push('a shell ran');
      if (problems.length > 0) failures.push(`${label}: ${problems.join('; ')} | ${err.slice(0, 200)}`);
    };

    const configs = configCases();
    for (const [i, [label, text]] of configs.entries()) {
      const file = join(tmp.dir, `config-${i}.yaml`);
      writeFileSync(file, text);
      const db = join(tmp.dir, `db-${i}.db`);
      await check(`config ${label}`, ['install', '--dry-run', '--config', file, '--db', db], db);
    }
    for (const [i, argv] of argumentCases().entries()) {
      const db = join(tmp.dir, `args-${i}.db`);
      await check(`argv ${JSON.stringify(argv)}`, [...argv, '--db', db], db);
    }
    console.log(`hostile input: ${ran} cases ran (${configs.length} configs), ${failures.length} failed`);
    expect(failures).toEqual([]);
    expect(ran).toBeGreaterThan(400);
  }, 120_000);
});
