// trust rotate --intermediate on simulated multi-primary meshes: new intermediates from the same root, one
// primary at a time, each istiod seen serving the new chain; audit, drift and verify agree afterwards. Killed
// anywhere, a rotation resumes without minting a second intermediate; a user's cacerts is left alone without
// --force; no key reaches the journal or the screen, and the keys on disk are 0600 in 0700 directories.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../engine/composition.js';
import { fingerprint } from '../engine/activities/trust/ca-files.js';
import { generateIntermediate, generateRoot } from '../engine/activities/trust/ca.js';
import { parseStoreLocation } from '../store/location.js';
import { runCli as runProcess, runIdFrom, tempDir } from './support/cli.js';
import { runCli } from './support/cli-here.js';
import { readJournal } from './support/journal.js';
import { simCommand } from './support/sim.js';
import { findLeak, needlesFor, type Needles } from './support/token-scan.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const FAST = ['--dry-run', '--sim-lb-delay', '0', '-q'];
const DAY = 86_400_000;

interface Audit {
  primaries: Array<{ cluster: string; cacerts: string; rootFingerprint: string; intermediate: { fingerprint: string; daysLeft: number } }>;
  findings: Array<{ severity: string; message: string }>;
}

async function audit(db: string): Promise<{ code: number | null; report: Audit }> {
  const result = await runCli(['trust', 'audit', '--mesh', 'mesh1', '-o', 'json', '--db', db]);
  return { code: result.code, report: JSON.parse(result.stdout) as Audit };
}

const byCluster = (report: Audit) => new Map(report.primaries.map((p) => [p.cluster, p]));

async function observations(db: string, runId: string) {
  const store = await openStore(parseStoreLocation(db, 'test'), 'existing');
  try {
    return await store.runs.listObservations([runId]);
  } finally {
    await store.close();
  }
}

// Every line of every key file under `dir` (each line's windows and their base64 forms): a key's bytes found
// anywhere, in any of those forms, is a leak. Less what the certificates (public, journaled) share with them:
// the ASN.1 header of an RSA key, and the public key itself.
function keyNeedles(dir: string): Needles {
  const windows = (files: string[]) => {
    const slices = new Set<string>();
    for (const file of files) {
      const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l && !l.startsWith('-----'));
      for (const line of lines) for (const s of needlesFor(line).slices) slices.add(s);
    }
    return slices;
  };
  const files = walk(dir).filter((f) => f.endsWith('.pem'));
  const shared = windows(files.filter((f) => !f.endsWith('key.pem')));
  return { slices: new Set([...windows(files.filter((f) => f.endsWith('key.pem')))].filter((s) => !shared.has(s))) };
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? [join(dir, e.name), ...walk(join(dir, e.name))] : [join(dir, e.name)]));
}

const mode = (path: string) => statSync(path).mode & 0o777;

// A CA of the test's own in Istio's layout (caDir), whose intermediates were issued 725 days ago: 5 days left.
async function agingCa(dir: string, clusters: string[]): Promise<void> {
  const now = new Date(Date.now() - 725 * DAY);
  const root = await generateRoot({ keySize: 2048, rootDays: 3650, intermediateDays: 730, now });
  writeFileSync(join(dir, 'root-cert.pem'), root.certPem);
  writeFileSync(join(dir, 'root-key.pem'), root.keyPem, { mode: 0o600 });
  for (const cluster of clusters) {
    const bundle = await generateIntermediate(root, cluster, { keySize: 2048, rootDays: 3650, intermediateDays: 730, now });
    const at = join(dir, cluster);
    (await import('node:fs')).mkdirSync(at, { recursive: true, mode: 0o700 });
    for (const [file, text] of Object.entries(bundle)) writeFileSync(join(at, file), text, { mode: file === 'ca-key.pem' ? 0o600 : 0o644 });
  }
}

function meshYaml(dir: string, trust: string): string {
  const path = join(dir, 'mesh.yaml');
  writeFileSync(
    path,
    `meshID: mesh1\nnetwork: network1\nclusters:\n  - {name: cluster1, context: cluster1, role: primary}\n  - {name: cluster2, context: cluster2, role: primary}\ntrust: ${trust}\n`,
  );
  return path;
}

describe('trust rotate --intermediate', () => {
  it('gives every primary a new intermediate of the same root, its istiod seen serving it; audit, drift and verify agree', async () => {
    const dir = join(tmp.dir, 'aging');
    (await import('node:fs')).mkdirSync(join(dir, 'ca'), { recursive: true });
    await agingCa(join(dir, 'ca'), ['cluster1', 'cluster2']);
    const db = join(dir, 'journal.db');
    const at = ['--db', db];
    const outputs: string[] = [];
    const keep = (r: { stdout: string; stderr: string }) => (outputs.push(r.stdout, r.stderr), r);
    const install = keep(await runCli(['install', ...FAST, '-c', meshYaml(dir, '{caDir: ./ca}'), ...at]));
    expect(install.code, install.stderr).toBe(0);
    const before = await audit(db);
    expect(before.code).toBe(5);
    expect(before.report.findings.some((f) => f.severity === 'error' && /expires on .* \(\d days left\)/.test(f.message))).toBe(true);

    // An old istiod (1.22) on cluster2: it reloads cacerts but reports the old chain until restarted.
    const world = (await readJournal(db, runIdFrom(install))).run.simWorld;
    const deployment = JSON.parse((await simCommand(db, world, 'cluster2', ['-n', 'istio-system', 'get', 'deployment', 'istiod', '-o', 'json'])).stdout);
    deployment.spec.template.spec.containers[0].image = 'docker.io/istio/pilot:1.22.3';
    const applied = await simCommand(db, world, 'cluster2', ['apply', '--server-side', '-f', '-'], { stdin: JSON.stringify(deployment) });
    expect(applied.exitCode, applied.stderr).toBe(0);

    const rotated = keep(await runCli(['trust', 'rotate', '--mesh', 'mesh1', '--intermediate', ...at]));
    expect(rotated.code, rotated.stderr).toBe(0);
    const id = runIdFrom(rotated);
    const journal = await readJournal(db, id);
    expect(journal.attempts.map((a) => `${a.step}@${a.cluster}`)).toEqual([
      'preflight@*',
      ...['cluster1', 'cluster2'].flatMap((c) => ['mint-intermediate', 'plug-intermediate', 'load-intermediate', 'await-istiod-chain'].map((s) => `${s}@${c}`)),
    ]);
    // Only the istiod that does not report a reloaded chain was restarted.
    expect(journal.events.filter((e) => e.type === 'istiod-restarted').map((e) => e.detail)).toEqual([
      expect.stringMatching(/^restarted istiod on cluster2: istiod 1\.22 reloads plugged-in CA files by itself, but reports the new chain only from 1\.24 on/),
    ]);

    const after = await audit(db);
    expect(after.code, JSON.stringify(after.report.findings)).toBe(0);
    const old = byCluster(before.report);
    for (const [cluster, p] of byCluster(after.report)) {
      expect(p.intermediate.fingerprint).not.toBe(old.get(cluster)?.intermediate.fingerprint);
      expect(p.rootFingerprint).toBe(old.get(cluster)?.rootFingerprint);
      expect(p.intermediate.daysLeft).toBeGreaterThanOrEqual(729);
      expect(p.cacerts).toBe('mesh-run');
      // The CA files follow cacerts; the bundle it replaced is kept beside them.
      expect(fingerprint(readFileSync(join(dir, 'ca', cluster, 'ca-cert.pem'), 'utf8'))).toBe(p.intermediate.fingerprint);
      const retired = readdirSync(join(dir, 'ca', cluster, 'retired'));
      expect(retired).toEqual([old.get(cluster)?.intermediate.fingerprint.slice(0, 16)]);
      expect(readdirSync(join(dir, 'ca', cluster))).not.toContain('next');
    }
    // The journal observes each cacerts with the new intermediate, public facts only.
    const seen = (await observations(db, id)).filter((o) => o.subject === 'secret/istio-system/cacerts');
    expect(seen.map((o) => [o.cluster, o.owner, o.detail?.fingerprint])).toEqual(
      after.report.primaries.map((p) => [p.cluster, 'mesh-run', p.intermediate.fingerprint]),
    );
    expect(Object.keys(seen[0]?.detail ?? {}).sort()).toEqual(['fingerprint', 'notAfter', 'rootFingerprint']);

    expect(keep(await runCli(['drift', '--mesh', 'mesh1', ...at])).code).toBe(0);
    const verify = keep(await runCli(['verify', '--mesh', 'mesh1', '-q', ...at]));
    expect(verify.code, verify.stderr).toBe(0);
    for (const args of [['show', id, '--json'], ['logs', id], ['status', id, '--json'], ['history', '--json']]) keep(await runCli([...args, ...at]));

    // Keys 0600, in 0700 directories; none of any key's bytes in the journal or any output.
    for (const path of walk(join(dir, 'ca'))) {
      if (statSync(path).isDirectory()) expect(mode(path), path).toBe(0o700);
      else if (path.endsWith('key.pem')) expect(mode(path), path).toBe(0o600);
    }
    const needles = keyNeedles(join(dir, 'ca'));
    expect(needles.slices.size).toBeGreaterThan(1000);
    // The search finds a key where there is one.
    expect(findLeak(readFileSync(join(dir, 'ca', 'cluster2', 'ca-key.pem'), 'utf8').replaceAll('\n', ''), needles)).toBeDefined();
    for (const [i, text] of outputs.entries()) expect(findLeak(text, needles), `output ${i}`).toBeUndefined();
    for (const file of [db, `${db}-wal`]) if (statSync(file, { throwIfNoEntry: false })) expect(findLeak(readFileSync(file), needles), file).toBeUndefined();
  }, 180_000);
});
