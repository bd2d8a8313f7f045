// The remote secret's bearer token is a cluster-wide credential: it must never reach the journal, the
// output, or a second copy in the cluster, on any path (install, verify, uninstall, failures, resumes).
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { ClusterTools, Command } from '../adapters/cluster-tools.js';
import { redact, redactArgv, redactedTail } from '../adapters/redact.js';
import { type PostgresLocation, parseStoreLocation } from '../store/location.js';
import { type CliResult, runCli, runIdFrom, tempDir } from './support/cli.js';
import { readJournal } from './support/journal.js';
import { withSimTools } from './support/sim.js';
import { type Backend, havePostgres, newStore } from './support/stores.js';
import { findLeak, needlesFor } from './support/token-scan.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const b64 = (v: string | Buffer) => Buffer.from(v).toString('base64url');
const TOKEN = `${b64('{"alg":"RS256","kid":"test"}')}.${b64('{"sub":"system:serviceaccount:istio-system:istio-reader-service-account"}')}.${b64(randomBytes(96))}`;
const NEEDLES = needlesFor(TOKEN);
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';
const env = { MESH_RUN_SIM_TOKEN: TOKEN };
const backends: Backend[] = havePostgres() ? ['sqlite', 'postgres'] : ['sqlite'];

// Runs commands on a dry run's simulated clusters the way an operator with kubectl would.
async function onSim(db: string, world: string, run: (tools: ClusterTools, at: (context: string) => Command['context']) => Promise<void>): Promise<void> {
  const previous = process.env.MESH_RUN_SIM_TOKEN;
  process.env.MESH_RUN_SIM_TOKEN = TOKEN;
  try {
    await withSimTools(db, world, (tools) => run(tools, (c) => c));
  } finally {
    if (previous === undefined) delete process.env.MESH_RUN_SIM_TOKEN;
    else process.env.MESH_RUN_SIM_TOKEN = previous;
  }
}

const options = { signal: new AbortController().signal, timeoutMs: 10_000, step: 'preflight' as const, cluster: 'cluster1' };
const kubectl = (context: string, args: string[]): Command => ({ tool: 'kubectl', args: [`--context=${context}`, ...args], context });

// The remote secret as the primary's API server holds it (read in the test, never by mesh-run).
async function remoteSecret(db: string, world: string): Promise<{ annotations: Record<string, string>; data: Record<string, string> } | undefined> {
  let found: { annotations: Record<string, string>; data: Record<string, string> } | undefined;
  await onSim(db, world, async (tools) => {
    const result = await tools.run(kubectl('cluster1', ['get', 'secret', 'istio-remote-secret-cluster2', '-n', 'istio-system', '-o', 'json']), options);
    if (result.exitCode !== 0) return;
    const secret = JSON.parse(result.stdout) as { metadata: { annotations?: Record<string, string> }; data: Record<string, string> };
    found = { annotations: secret.metadata.annotations ?? {}, data: secret.data };
  });
  return found;
}

// What kubectl apply without --server-side does, as an older mesh-run or a person would have applied it.
async function applyClientSide(db: string, world: string): Promise<void> {
  await onSim(db, world, async (tools) => {
    const piped = await tools.pipe(
      { tool: 'istioctl', args: ['create-remote-secret', '--context=cluster2', '--name=cluster2', '-n', 'istio-system'], context: 'cluster2' },
      kubectl('cluster1', ['apply', '-f', '-']),
      options,
    );
    expect(piped.sink.exitCode, piped.sink.stderr).toBe(0);
  });
}

function expectNoLeak(label: string, text: string | Buffer): void {
  const leak = findLeak(text, NEEDLES);
  expect(leak, `${label}: the token (or its base64 form) at offset ${leak?.at}: ${leak?.slice}`).toBeUndefined();
}

// Everything a PostgreSQL store holds in its schema, as text, and the server's write-ahead log.
async function postgresContents(url: string): Promise<Array<[string, string | Buffer]>> {
  const location = parseStoreLocation(url, 'test') as PostgresLocation;
  const client = new pg.Client({ connectionString: location.connectionString });
  await client.connect();
  try {
    const tables = await client.query<{ table_name: string }>('SELECT table_name FROM information_schema.tables WHERE table_schema = $1', [location.schema]);
    const dumped: Array<[string, string | Buffer]> = [];
    for (const { table_name } of tables.rows) {
      const rows = await client.query<{ row: string }>(`SELECT row_to_json(t)::text AS row FROM "${location.schema}"."${table_name}" t`);
      dumped.push([`table ${table_name}`, rows.rows.map((r) => r.row).join('\n')]);
    }
    expect(dumped.length).toBeGreaterThan(5);
    const wal = join(inject('pgSocket'), 'data', 'pg_wal');
    await client.query('SELECT pg_switch_wal()');
    for (const file of readdirSync(wal).filter((f) => /^[0-9A-F]{24}$/.test(f))) dumped.push([`pg_wal/${file}`, readFileSync(join(wal, file))]);
    return dumped;
  } finally {
    await client.end();
  }
}

describe.each(backends)('the remote secret bearer token (%s)', (backend) => {
  it('appears in no output, store, WAL or view, across every verb and step, with and without a last-applied copy', async () => {
    const store = newStore(backend, tmp.dir, 'secrets');
    const db = store.where;
    const outputs: Array<[string, string]> = [];
    const cli = async (args: string[]): Promise<CliResult> => {
      const result = await runCli([...args, ...store.args], { env });
      outputs.push([`${args.join(' ')} (stdout)`, result.stdout], [`${args.join(' ')} (stderr)`, result.stderr]);
      return result;
    };
    const FAST = ['--dry-run', '--sim-lb-delay', '0'];

    // install: one straight through, one failing at attach-remote and resumed.
    const ok = await cli(['install', ...FAST, '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    const installId = (JSON.parse(ok.stdout) as { run: { id: string } }).run.id;
    const failed = await cli(['install', ...FAST, '--inject-failure', 'attach-remote']);
    expect(failed.code).toBe(1);
    const failedId = runIdFrom(failed);
    // Meanwhile an older mesh-run (or a person) applied the secret client-side: a full copy of the token
    // sits in its last-applied annotation. The resumed attach takes the copy away.
    await applyClientSide(db, failedId);
    expect((await remoteSecret(db, failedId))?.annotations[LAST_APPLIED]).toContain(TOKEN);
    const resumed = await cli(['resume', failedId]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect((await remoteSecret(db, failedId))?.annotations[LAST_APPLIED]).toBeUndefined();

    // The secret the install applied has one copy of the token: its data, no last-applied annotation.
    const applied = await remoteSecret(db, installId);
    expect(applied?.annotations[LAST_APPLIED]).toBeUndefined();
    expect(Buffer.from(applied?.data.cluster2 ?? '', 'base64').toString()).toContain(TOKEN);

    // verify, and verify failing at the check that reads the primary's secrets view, resumed.
    expect((await cli(['verify', '--run', installId])).code).toBe(0);
    const vfail = await cli(['verify', '--run', installId, '--inject-failure', 'check-remote-clusters']);
    expect(vfail.code).toBe(1);
    expect((await cli(['resume', runIdFrom(vfail)])).code).toBe(0);
    // The audit reads the secrets' data (in memory) and must print none of it.
    expect((await cli(['secrets', 'audit', '--run', installId])).code).toBe(0);
    expect((await cli(['secrets', 'audit', '--run', installId, '-o', 'yaml'])).code).toBe(0);

    // The copy comes back (an older client-side apply) before the mesh is removed.
    await applyClientSide(db, installId);
    expect((await remoteSecret(db, installId))?.annotations[LAST_APPLIED]).toContain(TOKEN);

    // uninstall with the copy in place: failing at detach-remote, resumed; then of the other install.
    const ufail = await cli(['uninstall', '--run', installId, '--inject-failure', 'detach-remote']);
    expect(ufail.code).toBe(1);
    expect((await cli(['resume', runIdFrom(ufail)])).code).toBe(0);
    const second = await cli(['uninstall', '--run', failedId]);
    expect(second.code, second.stderr).toBe(0);

    // Every read verb over every run.
    const runs = JSON.parse((await cli(['runs', '--json'])).stdout) as Array<{ id: string }>;
    expect(runs.length).toBe(6);
    for (const { id } of runs) {
      for (const args of [
        ['status', id],
        ['status', id, '--json'],
        ['show', id],
        ['show', id, '--json'],
        ['logs', id],
        ['logs', id, '--step', 'detach-remote'],
        ['logs', id, '--step', 'attach-remote'],
      ])
        await cli(args);
      const html = join(tmp.dir, `${id}.html`);
      await cli(['report', id, '--html', html]);
      outputs.push([`report ${id}`, readFileSync(html, 'utf8')]);
    }
    for (const args of [['runs'], ['history'], ['history', '--json'], ['history', '--csv'], ['history', '--actions']]) await cli(args);
    for (const kind of ['install', 'verify', 'uninstall']) for (const format of ['text', 'sh', 'json']) await cli(['plan', kind, '--format', format]);

    for (const [label, text] of outputs) expectNoLeak(label, text);
    if (backend === 'sqlite') {
      for (const file of [db, `${db}-wal`, `${db}-shm`]) {
        if (!existsSync(file)) continue;
        expectNoLeak(file, readFileSync(file));
        expect(statSync(file).mode & 0o777).toBe(0o600);
      }
    } else {
      for (const [label, contents] of await postgresContents(db)) expectNoLeak(label, contents);
    }
    // The token was really there to leak: the simulated primary handed it out on every read, and the
    // scan finds it where it is.
    expect(outputs.length).toBeGreaterThan(100);
    expect(findLeak(`x${Buffer.from(TOKEN).toString('base64').slice(30, 55)}y`, NEEDLES)).toBeDefined();
  }, 240_000);
});

describe('the remote secret bearer token', () => {
  it('detach-remote looks at the secret by name only, so a secret without a last-applied copy cannot leak', async () => {
    const db = join(tmp.dir, 'detach.db');
    const install = await runCli(['install', '--dry-run', '--sim-lb-delay', '0', '-q', '--db', db], { env });
    expect(install.code, install.stderr).toBe(0);
    const id = runIdFrom(install);
    const uninstall = await runCli(['uninstall', '--run', id, '-q', '--db', db], { env });
    expect(uninstall.code, uninstall.stderr).toBe(0);
    const journal = await readJournal(db, runIdFrom(uninstall));
    const reads = journal.commands.filter((c) => c.argv.includes('secret') && c.argv.includes('get'));
    expect(reads.length).toBeGreaterThan(0);
    for (const c of reads) expect(c.argv.join(' ')).toMatch(/-o name$/);
    const logs = await runCli(['logs', runIdFrom(uninstall), '--step', 'detach-remote', '--db', db]);
    expect(logs.stdout).toContain('secret/istio-remote-secret-cluster2');
    expectNoLeak('logs --step detach-remote', logs.stdout);
  });

  it('applies the remote secret server-side as field manager mesh-run, and plans it the same way', async () => {
    const db = join(tmp.dir, 'ssa.db');
    const install = await runCli(['install', '--dry-run', '--sim-lb-delay', '0', '-q', '--db', db], { env });
    const journal = await readJournal(db, runIdFrom(install));
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
