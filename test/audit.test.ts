import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS, SCHEMA_VERSION } from '../store/sqlite/migrations.js';
import { openDb } from '../store/sqlite/open-db.js';
import { runIdFrom, tempDir } from './support/cli.js';
import { runCli } from './support/cli-here.js';
import { type Backend, havePostgres, newStore } from './support/stores.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const backends: Backend[] = havePostgres() ? ['sqlite', 'postgres'] : ['sqlite'];

// The audit questions, asked of each backend: the same journal must give the same answers.
describe.each(backends)('the journal on %s', (backend) => {
  const store = newStore(backend, tmp.dir, 'audit');
  let failedThenResumed = '';
  let clean = '';

  beforeAll(async () => {
    const three = join(tmp.dir, 'three.yaml');
    await import('node:fs').then((fs) => fs.writeFileSync(three, 'remotes: [{name: cluster2}, {name: cluster3}]\n'));
    clean = runIdFrom(await runCli(['install', '--dry-run', '--sim-lb-delay', '0', '-q', ...store.args]));
    const failed = await runCli([
      'install',
      '--dry-run',
      '--sim-lb-delay',
      '0',
      '-q',
      '--config',
      three,
      '--inject-failure',
      'install-remote@cluster3',
      ...store.args,
    ]);
    failedThenResumed = runIdFrom(failed);
    await runCli(['resume', failedThenResumed, ...store.args, '-q']);
  });

  interface Row {
    run: string;
    cluster: string;
    context: string | null;
    step: string;
    attempt: number;
    startedAt: string;
    durationMs: number | null;
    outcome: string;
    error: string | null;
  }

  const history = async (...args: string[]) => JSON.parse((await runCli(['history', ...args, '--json', ...store.args])).stdout) as Row[];

  describe('mesh-run history', () => {
    it('answers "what ran against cluster3, and what failed" with combined filters', async () => {
      const onCluster3 = await history('--cluster', 'cluster3');
      expect(onCluster3.length).toBe(5);
      expect(new Set(onCluster3.map((r) => r.context))).toEqual(new Set(['cluster3']));
      const failed = await history('--cluster', 'cluster3', '--status', 'failed', '--since', '1h');
      expect(failed).toHaveLength(1);
      expect(failed[0]).toMatchObject({ run: failedThenResumed, step: 'install-remote', attempt: 1, outcome: 'failed' });
      expect(failed[0]?.error).toContain('forbidden');
      expect(await history('--cluster', 'cluster3', '--status', 'failed', '--until', '1h')).toEqual([]);
    });

    it('filters by run (prefix), step and limit, newest first', async () => {
      const mine = await history('--run', clean.slice(0, 7));
      expect(new Set(mine.map((r) => r.run))).toEqual(new Set([clean]));
      expect(mine).toHaveLength(9);
      const sorted = [...mine].sort((a, b) => b.startedAt.localeCompare(a.startedAt));
      expect(mine.map((r) => r.startedAt)).toEqual(sorted.map((r) => r.startedAt));
      const installs = await history('--step', 'install-remote');
      expect(installs.map((r) => `${r.run === clean ? 'A' : 'B'}:${r.cluster}:${r.attempt}:${r.outcome}`).sort()).toEqual([
        'A:cluster2:1:succeeded',
        'B:cluster2:1:succeeded',
        'B:cluster3:1:failed',
        'B:cluster3:2:succeeded',
      ]);
      expect(await history('--limit', '2')).toHaveLength(2);
    });

    it('prints CSV and a table', async () => {
      const csv = (await runCli(['history', '--step', 'preflight', '--csv', ...store.args])).stdout.split('\r\n');
      expect(csv[0]).toBe('run,cluster,context,step,attempt,started_at,duration_ms,outcome,error');
      expect(csv.filter((l) => l.startsWith('mr-'))).toHaveLength(2);
      const text = (await runCli(['history', '--run', failedThenResumed, ...store.args])).stdout;
      expect(text.split('\n')[0]).toMatch(/^RUN\s+CLUSTER\s+CONTEXT\s+STEP\s+ATTEMPT\s+STARTED\s+DURATION\s+OUTCOME\s+ERROR$/);
    });

    it('lists operator actions: who started, resumed and finished each run', async () => {
      const out = await runCli(['history', '--actions', '--run', failedThenResumed, '--json', ...store.args]);
      const actions = JSON.parse(out.stdout) as Array<{ action: string; user: string; host: string; pid: number }>;
      expect(actions.map((a) => a.action)).toEqual(['succeeded', 'resumed', 'failed', 'started']);
      for (const a of actions) {
        expect(a.user).toBeTruthy();
        expect(a.host).toBeTruthy();
        expect(a.pid).toBeGreaterThan(0);
      }
    });

    it('rejects bad filters with exit 2', async () => {
      for (const args of [
        ['--since', 'last tuesday'],
        ['--status', 'meh'],
        ['--step', 'install-all'],
        ['--limit', '0'],
        ['--json', '--csv'],
      ]) {
        const r = await runCli(['history', ...args, ...store.args]);
        expect(r.code, args.join(' ')).toBe(2);
      }
    });
  });

  describe('mesh-run show and logs', () => {
    it('shows every attempt with its redacted commands and exit codes', async () => {
      const out = await runCli(['show', failedThenResumed, '--json', ...store.args]);
      const doc = JSON.parse(out.stdout) as {
        steps: Array<{ step: string; cluster: string; attempts: Array<{ outcome: string; commands: Array<{ argv: string[]; exitCode: number }> }> }>;
      };
      const install3 = doc.steps.find((s) => s.step === 'install-remote' && s.cluster === 'cluster3');
      expect(install3?.attempts.map((a) => a.outcome)).toEqual(['failed', 'succeeded']);
      expect(install3?.attempts[0]?.commands[0]).toMatchObject({ argv: ['istioctl', 'install', '--context=cluster3', '-y', '-f', '-'], exitCode: 1 });
      const text = (await runCli(['show', failedThenResumed, ...store.args])).stdout;
      expect(text).toContain('install-remote@cluster3');
      expect(text).toContain('$ istioctl create-remote-secret --context=cluster3 --name=cluster3 -n istio-system   exit 0');
    });

    it('prints the output tails kept for a step, and marks the streamed secret as not recorded', async () => {
      const out = (await runCli(['logs', failedThenResumed, '--step', 'attach-remote', '--cluster', 'cluster2', ...store.args])).stdout;
      expect(out).toContain('(stdout streamed to kubectl; not recorded)');
      expect(out).toContain('secret/istio-remote-secret-cluster2 serverside-applied');
      expect(out).not.toContain('cluster3');
    });
  });
});

describe('schema migrations', () => {
  it('upgrades a database from every earlier schema version, keeping its runs', async () => {
    for (let from = 1; from < SCHEMA_VERSION; from++) {
      const path = join(tmp.dir, `from-v${from}.db`);
      const raw = new Database(path);
      for (const m of MIGRATIONS.filter((x) => x.version <= from)) raw.exec(m.sql);
      raw.pragma(`user_version = ${from}`);
      raw
        .prepare(
          `INSERT INTO runs (id, kind, topology, mode, status, config_json, config_hash, created_at, updated_at, machine_version) VALUES ('mr-old', 'install', 'primary-remote', 'dry-run', 'failed', '{"primary":{"name":"cluster1"},"remotes":[{"name":"cluster2"}]}', 'h', 1, 1, 1)`,
        )
        .run();
      raw.close();
      const upgraded = openDb(path);
      expect(upgraded.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      expect(upgraded.prepare('SELECT id FROM runs').all()).toEqual([{ id: 'mr-old' }]);
      upgraded.close();
      const listed = JSON.parse((await runCli(['runs', '--json', '--db', path])).stdout) as Array<{ id: string }>;
      expect(listed.map((r) => r.id)).toEqual(['mr-old']);
    }
  });
});
