import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { redact, redactArgv, redactedTail } from '../adapters/redact.js';
import { runCli, runIdFrom, tempDir } from './support/cli.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const b64 = (v: string | Buffer) => Buffer.from(v).toString('base64url');
const TOKEN = `${b64('{"alg":"RS256","kid":"test"}')}.${b64('{"sub":"system:serviceaccount:istio-system:istio-reader-service-account"}')}.${b64(randomBytes(96))}`;
// A distinctive middle part of the token: if any slice of it leaks, this finds it.
const SIGNATURE = TOKEN.split('.')[2] as string;

describe('the remote secret bearer token', () => {
  it('appears in no output, database file, WAL or journal view across success, failure and resume', async () => {
    const db = join(tmp.dir, 'secrets.db');
    const env = { MESH_RUN_SIM_TOKEN: TOKEN };
    const outputs: string[] = [];
    const record = (r: { stdout: string; stderr: string }) => outputs.push(r.stdout, r.stderr);

    const ok = await runCli(['install', '--dry-run', '--sim-lb-delay', '0', '--json', '--db', db], { env });
    record(ok);
    expect(ok.code).toBe(0);
    const failed = await runCli(['install', '--dry-run', '--sim-lb-delay', '0', '--inject-failure', 'attach-remote', '--db', db], { env });
    record(failed);
    expect(failed.code).toBe(1);
    const id = runIdFrom(failed);
    const resumed = await runCli(['resume', id, '--db', db], { env });
    record(resumed);
    expect(resumed.code).toBe(0);
    const html = join(tmp.dir, 'report.html');
    for (const args of [['status', id], ['status', id, '--json'], ['runs'], ['runs', '--json'], ['show', id], ['show', id, '--json'], ['logs', id], ['history', '--json'], ['report', id, '--html', html]]) record(await runCli([...args, '--db', db]));
    outputs.push(readFileSync(html, 'utf8'));

    for (const text of outputs) expect(text).not.toContain(SIGNATURE);
    for (const file of [db, `${db}-wal`, `${db}-shm`]) {
      if (!existsSync(file)) continue;
      expect(readFileSync(file).includes(Buffer.from(SIGNATURE)), file).toBe(false);
      expect(statSync(file).mode & 0o777).toBe(0o600);
    }
    // The pipe did happen: the secret exists in the simulated primary.
    const status = await runCli(['status', (JSON.parse(ok.stdout) as { run: { id: string } }).run.id, '--db', db, '--json']);
    expect(JSON.parse(status.stdout).steps.find((s: { step: string }) => s.step === 'attach-remote').status).toBe('succeeded');
  });
});

describe('redaction', () => {
  it('scrubs tokens in kubeconfig YAML, JSON, headers and flags', () => {
    expect(redact(`users:\n- name: c2\n  user:\n    token: ${TOKEN}\n`)).not.toContain(SIGNATURE);
    expect(redact(`{"token":"abc123secret"}`)).toBe('{"token":"[REDACTED]"}');
    expect(redact('Authorization: Bearer abc.def-ghi')).toBe('Authorization: Bearer [REDACTED]');
    expect(redact(`error: bad ${TOKEN} here`)).toBe('error: bad [REDACTED] here');
    expect(redact('client-key-data: LS0tLS1CRUdJTiBSU0E=')).toBe('client-key-data: [REDACTED]');
    expect(redactArgv(['kubectl', '--token=s3cr3t', 'get', '--password', 'hunter2'])).toEqual(['kubectl', '--token=[REDACTED]', 'get', '--password', '[REDACTED]']);
  });

  it('redacts before cutting a tail, so a token split at the cut cannot survive', () => {
    const text = `${'x'.repeat(5000)} token: ${TOKEN}`;
    const tail = redactedTail(text, 40);
    expect(tail).not.toContain(SIGNATURE.slice(-20));
    expect(tail.length).toBeLessThanOrEqual(40);
  });
});
