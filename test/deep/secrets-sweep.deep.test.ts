// The remote secret's bearer token, exhaustively (npm run test:deep): across every verb and step, failures and
// resumes, on every store backend, it reaches no output, store, WAL or view. test/secrets.test.ts runs the
// same search over one verb and the token's other promises.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type CliResult, runCli, runIdFrom, tempDir } from '../support/cli.js';
import { applyClientSide, tokenEnv as env, expectNoLeak, LAST_APPLIED, NEEDLES, postgresContents, remoteSecret, TOKEN } from '../support/secret-leaks.js';
import { type Backend, havePostgres, newStore } from '../support/stores.js';
import { findLeak } from '../support/token-scan.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const backends: Backend[] = havePostgres() ? ['sqlite', 'postgres'] : ['sqlite'];

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
  });
});
