// secrets rotate on simulated clusters: a new token per remote secret, swapped in on every holder, gated on
// istiod reporting the cluster synced, then the old token revoked and refused. Neither token is ever written
// anywhere mesh-run writes.

import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { serviceAccountToken } from '../adapters/simulator/secret-data.js';
import { rotatedSecretName } from '../engine/activities/rotation.js';
import { tokenFingerprint } from '../engine/activities/secrets-audit.js';
import { runIdFrom, tempDir } from './support/cli.js';
import { runCli } from './support/cli-here.js';
import { copyExamples } from './support/examples.js';
import { readJournal } from './support/journal.js';
import { withToken } from './support/secret-leaks.js';
import { simCommand, withSimTools } from './support/sim.js';
import { findLeak, needlesFor } from './support/token-scan.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const FAST = ['--dry-run', '--sim-lb-delay', '0', '-q'];

const b64 = (v: string | Buffer) => Buffer.from(v).toString('base64url');
// The first token each simulated cluster mints (istioctl's); the rotated ones derive from it.
const TOKEN = `${b64('{"alg":"RS256","kid":"rotate"}')}.${b64('{"sub":"system:serviceaccount:istio-system:istio-reader-service-account"}')}.${b64(randomBytes(96))}`;
const env = { MESH_RUN_SIM_TOKEN: TOKEN };

async function cli(args: string[], outputs?: string[]) {
  const result = await runCli(args, { env });
  outputs?.push(result.stdout, result.stderr);
  return result;
}

interface Audit {
  secrets: Array<{ holder: string; cluster: string; fingerprint: string; synced: string }>;
}

async function audit(db: string): Promise<Map<string, Audit['secrets'][number]>> {
  const result = await cli(['secrets', 'audit', '--mesh', 'mesh1', '-o', 'json', '--db', db]);
  const report = JSON.parse(result.stdout) as Audit;
  return new Map(report.secrets.map((s) => [`${s.holder}<-${s.cluster}`, s]));
}

// What the cluster's API server answers to `token` presented on its own, as anyone holding it could.
async function presents(db: string, world: string, server: string, token: string): Promise<'accepted' | 'refused'> {
  return withToken(
    () =>
      withSimTools(db, world, async (tools) => {
        const answer = await tools.presentToken({ server, token }, { signal: new AbortController().signal, timeoutMs: 10_000 });
        if (!('status' in answer)) throw new Error('error' in answer ? answer.error : answer.refused);
        return answer.status === 401 ? 'refused' : 'accepted';
      }),
    TOKEN,
  );
}

// The token the rotation away from `replaced` mints on the cluster (or, `named`, the token of that secret).
function tokenFor(world: string, context: string, replaced: string, named = false): string {
  const previous = process.env.MESH_RUN_SIM_TOKEN;
  process.env.MESH_RUN_SIM_TOKEN = TOKEN;
  try {
    return serviceAccountToken(world, context, named ? replaced : rotatedSecretName([tokenFingerprint(replaced)]));
  } finally {
    if (previous === undefined) delete process.env.MESH_RUN_SIM_TOKEN;
    else process.env.MESH_RUN_SIM_TOKEN = previous;
  }
}

const SERVER2 = 'https://10.11.0.1:6443';

describe('secrets rotate', () => {
  it('swaps a new token in on the primary, gates on istiod, revokes the old one; no token is written anywhere', async () => {
    const db = join(tmp.dir, 'page.db');
    const at = ['--db', db];
    const outputs: string[] = [];
    const install = runIdFrom(await cli(['install', ...FAST, ...at], outputs));
    const world = (await readJournal(db, install)).run.simWorld;
    const before = (await audit(db)).get('cluster1<-cluster2');
    expect(before?.fingerprint).toBe(tokenFingerprint(TOKEN));
    expect(await presents(db, world, SERVER2, TOKEN)).toBe('accepted');

    const rotated = await cli(['secrets', 'rotate', '--mesh', 'mesh1', ...at], outputs);
    expect(rotated.code, rotated.stderr).toBe(0);
    const id = runIdFrom(rotated);
    const journal = await readJournal(db, id);
    expect(journal.attempts.map((a) => `${a.step}@${a.cluster}`)).toEqual([
      'preflight@*',
      'mint-token@cluster2',
      'swap-secret@cluster2',
      'await-synced@cluster2',
      'revoke-token@cluster2',
    ]);
    const fresh = tokenFor(world, 'cluster2', TOKEN);
    const after = (await audit(db)).get('cluster1<-cluster2');
    expect(after).toMatchObject({ fingerprint: tokenFingerprint(fresh), synced: 'synced' });
    expect(await presents(db, world, SERVER2, TOKEN)).toBe('refused');
    expect(await presents(db, world, SERVER2, fresh)).toBe('accepted');
    // The journal says what happened in fingerprints.
    const details = journal.events.map((e) => e.detail ?? '').join('\n');
    expect(details).toContain(`new token ${tokenFingerprint(fresh)}`);
    expect(details).toContain(`old token ${tokenFingerprint(TOKEN)} (secret istio-reader-service-account-istio-remote-secret-token) deleted on cluster2`);
    // The mesh still works, its record lists the run, and a re-run of install keeps the new token.
    expect((await cli(['verify', '--mesh', 'mesh1', '-q', ...at], outputs)).code).toBe(0);
    const again = await cli(['resume', install, '--from', 'attach-remote@cluster2', '-q', ...at], outputs);
    expect(again.code, again.stderr).toBe(0);
    expect((await audit(db)).get('cluster1<-cluster2')?.fingerprint).toBe(tokenFingerprint(fresh));
    const meshes = JSON.parse((await cli(['meshes', '-o', 'json', ...at])).stdout) as Array<{ runs: Array<{ kind: string }> }>;
    expect(meshes[0]?.runs.map((r) => r.kind)).toEqual(['install', 'secrets-rotate', 'verify']);

    for (const args of [
      ['show', id, '--json'],
      ['logs', id],
      ['history', '--json'],
      ['status', id, '--json'],
    ])
      await cli([...args, ...at], outputs);
    // A token's header and claims are public words (its account's name, which secret names repeat); its
    // signature is what makes it a credential, and any copy of the token carries it: that is searched for.
    for (const token of [TOKEN, fresh]) {
      const needles = needlesFor(token.split('.')[2] as string);
      for (const [i, text] of outputs.entries()) expect(findLeak(text, needles), `output ${i}`).toBeUndefined();
      for (const file of [db, `${db}-wal`]) if (existsSync(file)) expect(findLeak(readFileSync(file), needles), file).toBeUndefined();
    }
  }, 120_000);

  it('on a multi-primary mesh rotates every secret, or only the one --cluster names', async () => {
    const dir = join(tmp.dir, 'multi');
    copyExamples(dir);
    const db = join(dir, 'journal.db');
    const at = ['--db', db];
    expect((await cli(['install', ...FAST, '-c', join(dir, 'multi-primary.yaml'), ...at])).code).toBe(0);
    const start = await audit(db);
    const one = await cli(['secrets', 'rotate', '--mesh', 'mesh1', '--cluster', 'cluster1', '-q', ...at]);
    expect(one.code, one.stderr).toBe(0);
    const mid = await audit(db);
    expect(mid.get('cluster2<-cluster1')?.fingerprint).not.toBe(start.get('cluster2<-cluster1')?.fingerprint);
    expect(mid.get('cluster1<-cluster2')?.fingerprint).toBe(start.get('cluster1<-cluster2')?.fingerprint);
    const all = await cli(['secrets', 'rotate', '--mesh', 'mesh1', '-q', ...at]);
    expect(all.code, all.stderr).toBe(0);
    const end = await audit(db);
    for (const key of ['cluster2<-cluster1', 'cluster1<-cluster2']) {
      expect(end.get(key)?.fingerprint, key).not.toBe(mid.get(key)?.fingerprint);
      expect(end.get(key)?.synced, key).toBe('synced');
    }
    expect((await cli(['verify', '--mesh', 'mesh1', '-q', ...at])).code).toBe(0);
    // Uninstall takes the minted token secrets with everything else.
    expect((await cli(['uninstall', '--mesh', 'mesh1', '-q', ...at])).code).toBe(0);

    const refused = await cli(['secrets', 'rotate', '--mesh', 'mesh1', '--cluster', 'cluster9', ...at]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('mesh1 is uninstalled');
  }, 120_000);

  it('a failure before revocation leaves the old token valid and in use where it was; after it, the new secret stays', async () => {
    const steps = ['mint-token', 'swap-secret', 'await-synced', 'revoke-token'] as const;
    for (const step of steps) {
      const db = join(tmp.dir, `fail-${step}.db`);
      const at = ['--db', db];
      const install = runIdFrom(await cli(['install', ...FAST, ...at]));
      const world = (await readJournal(db, install)).run.simWorld;
      const failed = await cli(['secrets', 'rotate', '--mesh', 'mesh1', '--inject-failure', step, '-q', ...at]);
      expect(failed.code, `${step}: ${failed.stderr}`).toBe(1);
      expect(failed.stderr).toContain(`failed at ${step}@cluster2`);
      const id = runIdFrom(failed);
      const fresh = tokenFor(world, 'cluster2', TOKEN);
      // The old token is still valid until revoke-token; the holder uses the new one from swap-secret on.
      expect(await presents(db, world, SERVER2, TOKEN), step).toBe('accepted');
      const held = (await audit(db)).get('cluster1<-cluster2');
      expect(held?.fingerprint, step).toBe(step === 'mint-token' || step === 'swap-secret' ? tokenFingerprint(TOKEN) : tokenFingerprint(fresh));
      expect(held?.synced, step).toBe('synced');
      const resumed = await cli(['resume', id, '-q', ...at]);
      expect(resumed.code, `${step}: ${resumed.stderr}`).toBe(0);
      expect(await presents(db, world, SERVER2, TOKEN), step).toBe('refused');
      expect((await audit(db)).get('cluster1<-cluster2')?.fingerprint, step).toBe(tokenFingerprint(fresh));
    }
  }, 180_000);

  it('a rotation stopped at its gate is finished before another starts, if need be without the gate', async () => {
    const db = join(tmp.dir, 'gate.db');
    const at = ['--db', db];
    const install = runIdFrom(await cli(['install', ...FAST, ...at]));
    const world = (await readJournal(db, install)).run.simWorld;
    const stopped = await cli(['secrets', 'rotate', '--mesh', 'mesh1', '--inject-failure', 'await-synced', '-q', ...at]);
    expect(stopped.code).toBe(1);
    const id = runIdFrom(stopped);
    const again = await cli(['secrets', 'rotate', '--mesh', 'mesh1', '-q', ...at]);
    expect(again.code).toBe(3);
    expect(again.stderr).toContain(`secrets rotate run ${id} of mesh mesh1 failed at await-synced@cluster2: its old tokens may still be valid`);
    expect(again.stderr).toContain(`hint: finish it first: mesh-run resume ${id} (add --skip-sync-gate where no istiod can be asked)`);
    expect((await cli(['resume', install, '--skip-sync-gate', ...at])).code).toBe(2);
    const finished = await cli(['resume', id, '--skip-sync-gate', ...at]);
    expect(finished.code, finished.stderr).toBe(0);
    expect(finished.stderr).toContain('--skip-sync-gate: whether istiod on cluster1 reads cluster2 with the new token was not checked');
    expect((await readJournal(db, id)).events.map((e) => e.type)).toContain('forced');
    expect(await presents(db, world, SERVER2, TOKEN)).toBe('refused');
    expect((await cli(['secrets', 'rotate', '--mesh', 'mesh1', '-q', ...at])).code).toBe(0);
  }, 60_000);

  it('a rotation killed mid-run (still recorded as running) is finished before another starts', async () => {
    const db = join(tmp.dir, 'killed.db');
    const at = ['--db', db];
    expect((await cli(['install', ...FAST, ...at])).code).toBe(0);
    const killed = await runCli(['secrets', 'rotate', '--mesh', 'mesh1', '-q', ...at], { env: { ...env, MESH_RUN_CRASH_AT: 'after-command:3' } });
    expect(killed.signal).toBe('SIGKILL');
    const id = runIdFrom(killed);
    const again = await cli(['secrets', 'rotate', '--mesh', 'mesh1', '-q', ...at]);
    expect(again.code).toBe(3);
    expect(again.stderr).toContain(`secrets rotate run ${id} of mesh mesh1 is running: its old tokens may still be valid`);
    expect(again.stderr).toContain(`if its process was killed, finish it first: mesh-run resume ${id}`);
    expect((await cli(['resume', id, '-q', ...at])).code).toBe(0);
    expect((await cli(['secrets', 'rotate', '--mesh', 'mesh1', '-q', ...at])).code).toBe(0);
  }, 60_000);

  it("keeps a reader token secret that was there before the install (istioctl reused it): the swap happens, the user's token is not revoked", async () => {
    const db = join(tmp.dir, 'users-token.db');
    const at = ['--db', db];
    const failed = await cli(['install', ...FAST, '--inject-failure', 'preflight', ...at]);
    const install = runIdFrom(failed);
    // Before mesh-run: the reader account (an earlier Istio's) and a token secret of it that a user made on
    // cluster2, which istioctl then reuses.
    const USERS = 'a-reader-token';
    await simCommand(db, install, 'cluster2', ['create', 'namespace', 'istio-system']);
    const manifest = `apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: istio-reader-service-account\n  namespace: istio-system\n---\napiVersion: v1\nkind: Secret\ntype: kubernetes.io/service-account-token\nmetadata:\n  name: ${USERS}\n  namespace: istio-system\n  annotations:\n    kubernetes.io/service-account.name: istio-reader-service-account\n`;
    expect((await simCommand(db, install, 'cluster2', ['apply', '-f', '-'], { stdin: manifest })).exitCode).toBe(0);
    expect((await cli(['resume', install, '-q', ...at])).code).toBe(0);
    const users = tokenFor(install, 'cluster2', USERS, true);
    expect((await audit(db)).get('cluster1<-cluster2')?.fingerprint).toBe(tokenFingerprint(users));

    const rotated = await cli(['secrets', 'rotate', '--mesh', 'mesh1', ...at]);
    expect(rotated.code, rotated.stderr).toBe(0);
    const fresh = tokenFor(install, 'cluster2', users);
    expect((await audit(db)).get('cluster1<-cluster2')).toMatchObject({ fingerprint: tokenFingerprint(fresh), synced: 'synced' });
    // The user's secret and token stay; the run says so, with the command that revokes it.
    const left = await simCommand(db, install, 'cluster2', ['get', 'secret', USERS, '-n', 'istio-system', '-o', 'name']);
    expect(left.stdout.trim()).toBe(`secret/${USERS}`);
    expect(await presents(db, install, SERVER2, users)).toBe('accepted');
    expect(rotated.stderr).toContain(
      `secret ${USERS} on cluster2 (old token ${tokenFingerprint(users)}) was there before mesh-run, so its token stays valid; no holder uses it now. Revoke it once nothing else does: kubectl --context cluster2 -n istio-system delete secret ${USERS}`,
    );
    // A second rotation revokes the token the first one minted: that secret is mesh-run's.
    const again = await cli(['secrets', 'rotate', '--mesh', 'mesh1', ...at]);
    expect(again.code, again.stderr).toBe(0);
    expect(await presents(db, install, SERVER2, fresh)).toBe('refused');
    expect(await presents(db, install, SERVER2, users)).toBe('accepted');
    // Uninstall keeps it too, with the istio-system it was in.
    expect((await cli(['uninstall', '--mesh', 'mesh1', '-q', ...at])).code).toBe(0);
    expect((await simCommand(db, install, 'cluster2', ['get', 'secret', USERS, '-n', 'istio-system', '-o', 'name'])).stdout.trim()).toBe(`secret/${USERS}`);
  }, 120_000);

  it('refuses bad input with one line and exit 2, recording nothing', async () => {
    const db = join(tmp.dir, 'refusals.db');
    const at = ['--db', db];
    expect((await cli(['install', ...FAST, ...at])).code).toBe(0);
    const runs = (await cli(['runs', '-o', 'json', ...at])).stdout;
    for (const [args, message] of [
      [['--cluster', 'cluster1'], '--cluster cluster1: no primary of mesh mesh1 holds its secret; the clusters whose secrets can be rotated are cluster2'],
      [['--cluster', 'nope'], '--cluster nope: mesh mesh1 has no such cluster'],
      [['--inject-failure', 'install-primary'], 'secrets-rotate has no step "install-primary"'],
    ] as const) {
      const result = await cli(['secrets', 'rotate', '--mesh', 'mesh1', ...args, ...at]);
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toContain(message);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
    }
    expect((await cli(['runs', '-o', 'json', ...at])).stdout).toBe(runs);
  }, 60_000);
});

describe('reading a remote secret', () => {
  it('takes a kubeconfig that does not parse as one with no token, so no parser message can quote the token', async () => {
    const { kubeconfigOf } = await import('../engine/activities/secret-read.js');
    const token = randomBytes(24).toString('hex');
    const broken = `users:\n- user: {token: ${token}\n  bad: [\n`;
    const secret = { data: { cluster2: Buffer.from(broken).toString('base64') } };
    expect(kubeconfigOf(secret, 'cluster2')).toEqual({ config: {} });
    const fine = `clusters: [{cluster: {server: "https://10.0.0.2:6443"}}]\nusers: [{user: {token: ${token}}}]\n`;
    expect(kubeconfigOf({ data: { cluster2: Buffer.from(fine).toString('base64') } }, 'cluster2')?.token).toBe(token);
    expect(kubeconfigOf(secret, 'cluster3')).toBeUndefined();
  });
});
