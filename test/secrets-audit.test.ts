// mesh-run secrets audit: what each primary's remote secrets carry, read in memory only. The parsing is
// checked against crafted secrets (plugins, loopback, expiry, labels, istiod's view); the verb end to end on
// a dry run's simulated clusters, where the reader token is pinned and then searched for in every output.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { ClusterTools, Command } from '../adapters/cluster-tools.js';
import { auditRemoteSecrets } from '../engine/activities/secrets-audit.js';
import { parseConfigText } from '../engine/config/mesh-config.js';
import { runIdFrom, tempDir } from './support/cli.js';
import { runCli } from './support/cli-here.js';
import { readJournal } from './support/journal.js';
import { withToken } from './support/secret-leaks.js';
import { simCommand } from './support/sim.js';
import { findLeak, needlesFor } from './support/token-scan.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const b64 = (v: string | Buffer) => Buffer.from(v).toString('base64url');
const jwt = (claims: object) => `${b64('{"alg":"RS256"}')}.${b64(JSON.stringify(claims))}.${b64(randomBytes(64))}`;
const DAY = 86_400;

function remoteSecret(cluster: string, user: object, server: string, labelled = true) {
  const kubeconfig = stringify({ apiVersion: 'v1', kind: 'Config', clusters: [{ name: cluster, cluster: { server } }], users: [{ name: cluster, user }] });
  return {
    metadata: {
      name: `istio-remote-secret-${cluster}`,
      namespace: 'istio-system',
      labels: labelled ? { 'istio/multiCluster': 'true' } : {},
      creationTimestamp: '2026-01-01T00:00:00Z',
    },
    data: { [cluster]: Buffer.from(kubeconfig).toString('base64') },
  };
}

// ClusterTools answering the two reads the audit makes, per context.
function fakeTools(answers: Record<string, { secrets: object[]; remoteClusters?: string }>): ClusterTools {
  return {
    mode: 'real',
    async run(command: Command) {
      const answer = answers[command.context];
      if (!answer) return { exitCode: 1, stdout: '', stderr: 'no such context' };
      if (command.tool === 'kubectl') return { exitCode: 0, stdout: JSON.stringify({ items: answer.secrets }), stderr: '' };
      return answer.remoteClusters ? { exitCode: 0, stdout: answer.remoteClusters, stderr: '' } : { exitCode: 1, stdout: '', stderr: 'no istiod' };
    },
    async pipe() {
      throw new Error('the audit never pipes');
    },
  } as unknown as ClusterTools;
}

describe('auditing remote secrets', () => {
  const now = Date.parse('2026-12-02T00:00:00Z');
  const config = parseConfigText(
    [
      'clusters:',
      '  - {name: east, context: east, role: primary}',
      '  - {name: west, context: west, role: primary}',
      '  - {name: r1, context: r1, role: remote, controlPlane: east}',
      '  - {name: r2, context: r2, role: remote, controlPlane: east}',
      'trust: {outputDir: /tmp/unused}',
    ].join('\n'),
    {},
  );

  it('names plugins, loopback servers, expiry, labels, istiod sync and missing secrets, and never returns a token', async () => {
    const fresh = jwt({ sub: 'system:serviceaccount:istio-system:istio-reader-service-account', iat: now / 1000 - 40 * DAY, exp: now / 1000 + 300 * DAY });
    const soon = jwt({ iat: now / 1000 - 10 * DAY, exp: now / 1000 + 5 * DAY });
    const expired = jwt({ iat: now / 1000 - 400 * DAY, exp: now / 1000 - DAY });
    const tools = fakeTools({
      east: {
        secrets: [
          remoteSecret('west', { token: fresh }, 'https://10.0.0.2:6443'),
          remoteSecret('r1', { exec: { command: 'aws-iam-authenticator' } }, 'https://10.0.0.3:6443'),
          remoteSecret('r2', { token: soon }, 'https://127.0.0.1:6443'),
        ],
        remoteClusters:
          'NAME   SECRET                         STATUS    ISTIOD\neast                                  synced    istiod-1\nwest   istio-system/istio-remote-secret-west   synced    istiod-1\nr1     istio-system/istio-remote-secret-r1     timeout   istiod-1\nr2     istio-system/istio-remote-secret-r2     synced    istiod-1\n',
      },
      west: { secrets: [remoteSecret('east', { token: expired }, 'https://10.0.0.1:6443', false)] },
    });
    const report = await auditRemoteSecrets(config, tools, now);
    expect(report.unreadable).toEqual([]);
    const row = (holder: string, cluster: string) => report.secrets.find((s) => s.holder === holder && s.cluster === cluster);
    expect(row('east', 'west')).toMatchObject({ credential: 'token', ageDays: 40, expiresAt: '2027-09-28T00:00:00.000Z', synced: 'synced', findings: [] });
    expect(row('east', 'west')?.subject).toBe('system:serviceaccount:istio-system:istio-reader-service-account');
    expect(row('east', 'r1')?.credential).toBe('exec-plugin');
    expect(row('east', 'r1')?.findings.map((f) => f.message)).toEqual([
      'an exec-plugin credential istiod cannot run (istio#58335): recreate it with a service-account token',
      'istiod on east reports r1 timeout',
    ]);
    expect(row('east', 'r2')?.findings.map((f) => `${f.level}: ${f.message}`)).toEqual([
      "problem: server https://127.0.0.1:6443 is the primary pod's own loopback, not r2",
      'warning: the token expires within 30 days',
    ]);
    expect(row('west', 'east')?.synced).toBe('unknown');
    expect(row('west', 'east')?.findings.map((f) => f.message)).toEqual(['not labelled istio/multiCluster=true: istiod ignores it', 'the token has expired']);
    // west must hold r1's and r2's secrets too (every primary sees every cluster).
    expect(report.missing).toEqual([
      { holder: 'west', cluster: 'r1' },
      { holder: 'west', cluster: 'r2' },
    ]);
    // A primary that cannot be asked is named as such, and its secrets are not called missing.
    const blind = await auditRemoteSecrets(config, fakeTools({ east: { secrets: [] } }), now);
    expect(blind.unreadable).toEqual([{ holder: 'west', error: 'no such context' }]);
    expect(blind.missing.every((m) => m.holder === 'east')).toBe(true);
    const text = JSON.stringify(report);
    for (const token of [fresh, soon, expired]) expect(findLeak(text, needlesFor(token))).toBeUndefined();
  });
});

describe('mesh-run secrets audit', () => {
  const TOKEN = jwt({ sub: 'system:serviceaccount:istio-system:istio-reader-service-account' });
  const env = { MESH_RUN_SIM_TOKEN: TOKEN };

  it('audits a dry run mesh (exit 0), finds a deleted secret (exit 3), and never prints the token', async () => {
    const db = join(tmp.dir, 'audit.db');
    const installed = await runCli(['install', '--dry-run', '--sim-lb-delay', '0', '-q', '--db', db], { env });
    expect(installed.code, installed.stderr).toBe(0);
    const id = runIdFrom(installed);
    const audit = await runCli(['secrets', 'audit', '--run', id, '--db', db], { env });
    expect(audit.code, audit.stdout + audit.stderr).toBe(0);
    expect(audit.stdout).toMatch(/cluster1 +cluster2 +token +[0-9a-f]{12} +0d +never +https:\/\/10\.11\.0\.1:6443 +synced/);
    expect(audit.stdout).toContain('the token never expires (a legacy service-account token secret)');
    const json = await runCli(['secrets', 'audit', '--run', id, '--db', db, '-o', 'json'], { env });
    expect((JSON.parse(json.stdout) as { ok: boolean; secrets: unknown[] }).secrets).toHaveLength(1);

    const world = (await readJournal(db, id)).run.simWorld;
    const removed = await withToken(() => simCommand(db, world, 'cluster1', ['-n', 'istio-system', 'delete', 'secret', 'istio-remote-secret-cluster2']), TOKEN);
    expect(removed.exitCode, removed.stderr).toBe(0);
    const missing = await runCli(['secrets', 'audit', '--run', id, '--db', db], { env });
    expect(missing.code).toBe(3);
    expect(missing.stdout).toContain('cluster1 holds no secret for cluster2: istiod there cannot see it');
    const needles = needlesFor(TOKEN);
    for (const out of [audit, json, missing]) expect(findLeak(out.stdout + out.stderr, needles)).toBeUndefined();
  });
});
