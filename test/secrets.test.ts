// The remote secret's bearer token is a cluster-wide credential: it must never reach the journal, the
// output, or a second copy in the cluster, on any path (install, verify, uninstall, failures, resumes). Here:
// one verb searched (an install failing at attach-remote, resumed, and every view of it), and the token's
// other promises; every verb and step on every store: test/deep/secrets-sweep.deep.test.ts.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { redact, redactArgv, redactedTail } from '../adapters/redact.js';
import { type CliResult, runIdFrom, tempDir } from './support/cli.js';
import { runCli } from './support/cli-here.js';
import * as engine from './support/engine.js';
import { readJournal } from './support/journal.js';
import { applyClientSide, tokenEnv as env, expectNoLeak, LAST_APPLIED, NEEDLES, remoteSecret, TOKEN, withToken } from './support/secret-leaks.js';
import { findLeak } from './support/token-scan.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe('the remote secret bearer token, over one verb', () => {
  it('appears in no output, store or view of an install failing at attach-remote with a last-applied copy, resumed', async () => {
    const db = join(tmp.dir, 'one-verb.db');
    const outputs: Array<[string, string]> = [];
    const cli = async (args: string[]): Promise<CliResult> => {
      const result = await runCli([...args, '--db', db], { env });
      outputs.push([`${args.join(' ')} (stdout)`, result.stdout], [`${args.join(' ')} (stderr)`, result.stderr]);
      return result;
    };
    const failed = await cli(['install', '--dry-run', '--sim-lb-delay', '0', '--inject-failure', 'attach-remote']);
    expect(failed.code).toBe(1);
    const id = runIdFrom(failed);
    // An older mesh-run (or a person) applied the secret client-side: the resumed attach takes the copy away.
    await applyClientSide(db, id);
    expect((await remoteSecret(db, id))?.annotations[LAST_APPLIED]).toContain(TOKEN);
    const resumed = await cli(['resume', id]);
    expect(resumed.code, resumed.stderr).toBe(0);
    const applied = await remoteSecret(db, id);
    expect(applied?.annotations[LAST_APPLIED]).toBeUndefined();
    expect(Buffer.from(applied?.data.cluster2 ?? '', 'base64').toString()).toContain(TOKEN);
    for (const args of [
      ['status', id, '--json'],
      ['show', id],
      ['logs', id, '--step', 'attach-remote'],
      ['secrets', 'audit', '--run', id],
      ['history', '--json'],
    ])
      expect((await cli(args)).code, args.join(' ')).toBe(0);
    const html = join(tmp.dir, `${id}.html`);
    expect((await cli(['report', id, '--html', html])).code).toBe(0);
    outputs.push([`report ${id}`, readFileSync(html, 'utf8')]);

    for (const [label, text] of outputs) expectNoLeak(label, text);
    for (const file of [db, `${db}-wal`, `${db}-shm`]) {
      if (!existsSync(file)) continue;
      expectNoLeak(file, readFileSync(file));
      expect(statSync(file).mode & 0o777).toBe(0o600);
    }
    // The token was really there to leak, and the scan finds it where it is.
    expect(findLeak(`x${Buffer.from(TOKEN).toString('base64').slice(30, 55)}y`, NEEDLES)).toBeDefined();
  });
});

describe('the remote secret bearer token', () => {
  it('detach-remote looks at the secret by name only, so a secret without a last-applied copy cannot leak', async () => {
    const db = join(tmp.dir, 'detach.db');
    const uninstall = await withToken(async () => {
      const install = await engine.install(db);
      expect(install.status).toBe('succeeded');
      return engine.uninstall(db, { run: install.id });
    });
    expect(uninstall.status).toBe('succeeded');
    const journal = await readJournal(db, uninstall.id);
    const reads = journal.commands.filter((c) => c.argv.includes('secret') && c.argv.includes('get'));
    expect(reads.length).toBeGreaterThan(0);
    for (const c of reads) expect(c.argv.join(' ')).toMatch(/-o name$/);
    const logs = await runCli(['logs', uninstall.id, '--step', 'detach-remote', '--db', db]);
    expect(logs.stdout).toContain('secret/istio-remote-secret-cluster2');
    expectNoLeak('logs --step detach-remote', logs.stdout);
  });

  it('applies the remote secret server-side as field manager mesh-run, and plans it the same way', async () => {
    const db = join(tmp.dir, 'ssa.db');
    const install = await withToken(() => engine.install(db));
    const journal = await readJournal(db, install.id);
    const sink = journal.commands.find((c) => c.argv.includes('apply') && c.argv.includes('--server-side'));
    expect(sink?.argv).toEqual(expect.arrayContaining(['--server-side', '--field-manager=mesh-run', '--force-conflicts']));
    const script = await runCli(['plan', '--format', 'sh']);
    expect(script.stdout).toMatch(/istioctl create-remote-secret .*\| kubectl .*apply --server-side --field-manager=mesh-run --force-conflicts -f -/);
  });
});

describe('redaction', () => {
  const kubeconfig = `apiVersion: v1\nkind: Config\nusers:\n- name: c2\n  user:\n    token: ${TOKEN}\n`;
  const secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: 'istio-remote-secret-cluster2',
      annotations: { [LAST_APPLIED]: JSON.stringify({ kind: 'Secret', stringData: { cluster2: kubeconfig } }), 'networking.istio.io/cluster': 'cluster2' },
    },
    data: { cluster2: Buffer.from(kubeconfig).toString('base64') },
  };

  it('scrubs tokens in kubeconfig YAML, JSON, headers and flags', () => {
    expect(findLeak(redact(kubeconfig), NEEDLES)).toBeUndefined();
    expect(redact(`{"token":"abc123secret"}`)).toBe('{"token":"[REDACTED]"}');
    expect(redact('Authorization: Bearer abc.def-ghi')).toBe('Authorization: Bearer [REDACTED]');
    expect(redact(`error: bad ${TOKEN} here`)).toBe('error: bad [REDACTED] here');
    expect(redact('client-key-data: LS0tLS1CRUdJTiBSU0E=')).toBe('client-key-data: [REDACTED]');
    expect(redactArgv(['kubectl', '--token=s3cr3t', 'get', '--password', 'hunter2'])).toEqual([
      'kubectl',
      '--token=[REDACTED]',
      'get',
      '--password',
      '[REDACTED]',
    ]);
  });

  it("keeps a Secret's keys but not its values, as JSON, as YAML and inside a List", () => {
    const json = redact(JSON.stringify(secret, null, 4));
    expect(findLeak(json, NEEDLES)).toBeUndefined();
    const parsed = JSON.parse(json) as typeof secret;
    expect(parsed.data).toEqual({ cluster2: '[REDACTED]' });
    expect(parsed.metadata.annotations[LAST_APPLIED]).toBe('[REDACTED]');
    expect(parsed.metadata.annotations['networking.istio.io/cluster']).toBe('cluster2');
    const list = redact(JSON.stringify({ kind: 'List', items: [secret, { kind: 'ConfigMap', data: { a: 'visible' } }] }));
    expect(findLeak(list, NEEDLES)).toBeUndefined();
    expect(list).toContain('visible');
    const yaml = redact(`apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\nstringData:\n  cluster2: |\n${kubeconfig.replace(/^/gm, '    ')}`);
    expect(findLeak(yaml, NEEDLES)).toBeUndefined();
    expect(yaml).toContain('cluster2: "[REDACTED]"');
  });

  it('catches a Secret in text that does not parse: cut JSON, mixed output, JSON-escaped and base64 forms', () => {
    const pretty = JSON.stringify(secret, null, 4);
    for (const cut of [10, 60, 200]) expect(findLeak(redact(`Error: oops\n${pretty.slice(cut)}`), NEEDLES), `cut at ${cut}`).toBeUndefined();
    expect(findLeak(redact(`warning: ${JSON.stringify(JSON.stringify(secret))}`), NEEDLES)).toBeUndefined();
    expect(findLeak(redact(`data: ${Buffer.from(TOKEN).toString('base64')}`), NEEDLES)).toBeUndefined();
    expect(findLeak(redact(`value ${Buffer.from(kubeconfig).toString('base64')} end`), NEEDLES)).toBeUndefined();
    const block = `metadata:\n  annotations:\n    ${LAST_APPLIED}: |\n      {"kind":"Secret","stringData":{"c":"${kubeconfig.replace(/\n/g, '\\n')}"}}\n  name: x\n`;
    expect(findLeak(redact(block), NEEDLES)).toBeUndefined();
    expect(redact(block)).toContain('name: x');
  });

  it('redacts before cutting a tail, so a token split at the cut cannot survive', () => {
    const text = `${'x'.repeat(5000)} token: ${TOKEN}`;
    const tail = redactedTail(text, 40);
    expect(findLeak(tail, NEEDLES)).toBeUndefined();
    expect(tail.length).toBeLessThanOrEqual(40);
  });

  it('leaves ordinary output alone', () => {
    const text = 'deployment "istiod" successfully rolled out\nsecret/istio-remote-secret-cluster2 serverside-applied\n';
    expect(redact(text)).toBe(text);
  });
});
