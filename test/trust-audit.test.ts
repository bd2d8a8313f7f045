// mesh-run trust audit: the assessment judged on certificates generated as mesh-run's trust: makes them (expiry,
// roots, chains, what istiod publishes), then the verb on simulated meshes (installed with a generated root,
// adopted from a hand-built one, primary-remote with istiod's own root), a cacerts replaced by another root's,
// and a cluster that cannot be read. No key reaches any output or the database; the journal gains nothing.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { readWorld, writeWorld } from '../adapters/simulator/world.js';
import { type CaBundle, type CaOptions, generateIntermediate, generateRoot, type RootCa } from '../engine/activities/trust/ca.js';
import { fingerprint } from '../engine/activities/trust/ca-files.js';
import { assessTrust, type PrimaryReading, type TrustFinding } from '../engine/activities/trust-assessment.js';
import { CACERTS_JSONPATH, cacertsFromJsonpath } from '../engine/activities/trust-audit.js';
import { openStore } from '../engine/composition.js';
import type { TrustAuditReport } from '../engine/types.js';
import { parseStoreLocation } from '../store/location.js';
import { runIdFrom, tempDir } from './support/cli.js';
import { runCli } from './support/cli-here.js';
import { copyExamples } from './support/examples.js';
import { simCommand } from './support/sim.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const DAY = 86_400_000;
const CA: CaOptions = { keySize: 2048, rootDays: 3650, intermediateDays: 365 };
const FAST = ['--dry-run', '--sim-lb-delay', '0', '-q'];

// What the reads would bring back from a primary holding `bundle` (ca-key.pem left behind, as the jsonpath does).
function reading(cluster: string, bundle: CaBundle | undefined, extra: Partial<PrimaryReading> = {}): PrimaryReading {
  return {
    cluster,
    context: cluster,
    ...(bundle
      ? {
          cacerts: {
            managedBy: 'mesh-run',
            fingerprintAnnotation: fingerprint(bundle['ca-cert.pem']),
            caCert: bundle['ca-cert.pem'],
            rootCert: bundle['root-cert.pem'],
            certChain: bundle['cert-chain.pem'],
          },
          published: bundle['root-cert.pem'],
        }
      : {}),
    ...extra,
  };
}

const about = (findings: TrustFinding[], severity: TrustFinding['severity']) =>
  findings.filter((f) => f.severity === severity).map((f) => `${f.cluster ?? 'mesh'}: ${f.message}`);

describe('the assessment', () => {
  let root: RootCa;
  let other: RootCa;
  let one: CaBundle;
  let two: CaBundle;
  beforeAll(async () => {
    [root, other] = await Promise.all([generateRoot(CA), generateRoot(CA)]);
    [one, two] = await Promise.all([generateIntermediate(root, 'cluster1', CA), generateIntermediate(root, 'cluster2', CA)]);
  });

  it('finds nothing in two intermediates of one root, and reports fingerprints, subjects, dates and the chain', () => {
    const now = Date.now();
    const report = assessTrust([reading('cluster1', one), reading('cluster2', two)], now);
    expect(report.findings).toEqual([]);
    expect(report.sharedRoot).toBe(true);
    const [first] = report.primaries;
    expect(first).toMatchObject({
      cacerts: 'mesh-run',
      rootFingerprint: fingerprint(root.certPem),
      rootSource: 'cacerts',
      rootSubject: 'O=Istio, CN=Root CA',
      intermediate: { subject: 'O=Istio, CN=Intermediate CA, L=cluster1', fingerprint: fingerprint(one['ca-cert.pem']), istiodSan: true },
      chain: { valid: true, length: 2, pathLength: 0, problems: [] },
      published: { fingerprint: fingerprint(root.certPem), matchesCacerts: true },
    });
    expect(first?.intermediate?.daysLeft).toBeGreaterThanOrEqual(364);
    expect(first?.intermediate?.daysLeft).toBeLessThanOrEqual(365);
  });

  it('warns of an intermediate expiring within 30 days, and errs within 7 days or once expired', async () => {
    const [soon, verySoon] = await Promise.all([
      generateIntermediate(root, 'cluster1', { ...CA, intermediateDays: 20 }),
      generateIntermediate(root, 'cluster2', { ...CA, intermediateDays: 5 }),
    ]);
    const now = Date.now();
    const report = assessTrust([reading('cluster1', soon), reading('cluster2', verySoon)], now);
    expect(about(report.findings, 'warning')).toEqual([
      expect.stringMatching(/^cluster1: the intermediate \(ca-cert\.pem, .*L=cluster1\) expires on \S+ \(19 days left\): rotate it$/),
    ]);
    expect(about(report.findings, 'error')).toEqual([expect.stringMatching(/^cluster2: the intermediate .* expires on \S+ \(4 days left\)$/)]);
    expect(report.primaries.map((p) => p.intermediate?.daysLeft)).toEqual([19, 4]);
    // The 20-day intermediate 40 days on: expired.
    const later = assessTrust([reading('cluster1', soon)], now + 40 * DAY);
    expect(about(later.findings, 'error')).toEqual([expect.stringMatching(/^cluster1: the intermediate .* expired on /)]);
    expect(later.primaries[0]?.intermediate?.daysLeft).toBeLessThan(0);
    // Thirty-one days left is nothing to report.
    const fine = await generateIntermediate(root, 'cluster1', { ...CA, intermediateDays: 32 });
    expect(assessTrust([reading('cluster1', fine)], now).findings).toEqual([]);
  });

  it('errs when the primaries sign under two roots', async () => {
    const elsewhere = await generateIntermediate(other, 'cluster2', CA);
    const report = assessTrust([reading('cluster1', one), reading('cluster2', elsewhere)], Date.now());
    expect(report.sharedRoot).toBe(false);
    expect(about(report.findings, 'error')).toEqual([
      `mesh: the primaries do not share one root (cluster1 ${fingerprint(root.certPem).slice(0, 16)}, cluster2 ${fingerprint(other.certPem).slice(0, 16)}): workloads of different primaries cannot verify each other`,
    ]);
    expect(report.primaries.map((p) => p.chain?.valid)).toEqual([true, true]);
  });

  it('errs on a broken chain: an intermediate of another root under this root-cert.pem', async () => {
    const stranger = await generateIntermediate(other, 'cluster1', CA);
    const broken: CaBundle = { ...stranger, 'root-cert.pem': root.certPem, 'cert-chain.pem': `${stranger['ca-cert.pem']}${root.certPem}` };
    const report = assessTrust([reading('cluster1', broken), reading('cluster2', two)], Date.now());
    const chain = report.primaries[0]?.chain;
    expect(chain?.valid).toBe(false);
    expect(chain?.problems).toEqual(['ca-cert.pem (O=Istio, CN=Intermediate CA, L=cluster1) is not signed by root-cert.pem (O=Istio, CN=Root CA)']);
    expect(about(report.findings, 'error')).toEqual([`cluster1: cacerts' chain is invalid: ${chain?.problems[0]}`]);
    // Its root is still this root: the roots are shared, the chain is what is wrong.
    expect(report.sharedRoot).toBe(true);
  });

  it('errs on a CA below a pathLen:0 intermediate, and on a cacerts without ca-cert.pem', async () => {
    // An intermediate signed by cluster1's intermediate, whose pathLen 0 allows no CA below it.
    const deeper = await generateIntermediate({ certPem: one['ca-cert.pem'], keyPem: one['ca-key.pem'] }, 'cluster1-deep', CA);
    const nested: CaBundle = { ...deeper, 'root-cert.pem': root.certPem, 'cert-chain.pem': `${deeper['ca-cert.pem']}${one['ca-cert.pem']}${root.certPem}` };
    const report = assessTrust([reading('cluster1', nested)], Date.now());
    expect(report.primaries[0]?.chain).toMatchObject({ valid: false, length: 3 });
    expect(report.primaries[0]?.chain?.problems).toEqual(["cert-chain.pem's certificate 2 allows 0 CA certificates below it (pathLen), the chain has 1"]);
    const noCa = reading('cluster1', one);
    delete noCa.cacerts?.caCert;
    expect(about(assessTrust([noCa], Date.now()).findings, 'error')).toEqual([
      "cluster1: cacerts' chain is invalid: cacerts holds no ca-cert.pem: istiod does not use it as its CA",
    ]);
  });

  it('warns when istiod publishes another root than cacerts holds, or none', () => {
    const unpublished = reading('cluster2', two);
    delete unpublished.published;
    const report = assessTrust([reading('cluster1', one, { published: other.certPem }), unpublished], Date.now());
    expect(report.primaries.map((p) => p.published)).toEqual([{ fingerprint: fingerprint(other.certPem), matchesCacerts: false }, null]);
    expect(about(report.findings, 'warning')).toEqual([
      expect.stringMatching(/^cluster1: istiod publishes root \w{16}, not cacerts' root \w{16}: it has not been restarted since cacerts changed/),
      'cluster2: istiod publishes no root (no istio-ca-root-cert in istio-system): is istiod running?',
    ]);
    expect(about(report.findings, 'error')).toEqual([]);
  });

  it("errs on no cacerts with several primaries; one primary on istiod's own root is fine", () => {
    const selfSigned = (cluster: string) => reading(cluster, undefined, { published: other.certPem });
    const several = assessTrust([reading('cluster1', one), selfSigned('cluster2')], Date.now());
    expect(several.primaries[1]).toMatchObject({
      cacerts: 'absent',
      rootSource: 'istiod',
      rootFingerprint: fingerprint(other.certPem),
      rootSubject: 'O=Istio, CN=Root CA',
    });
    expect(about(several.findings, 'error')).toEqual([
      expect.stringContaining('mesh: the primaries do not share one root'),
      'cluster2: no cacerts: its istiod signs under a self-signed root of its own, which the other primaries do not trust',
    ]);
    const alone = assessTrust([selfSigned('cluster1')], Date.now());
    expect(alone.findings.map((f) => f.severity)).toEqual(['info']);
    expect(alone.sharedRoot).toBe(true);
  });

  it("tells mesh-run's cacerts from another's, and notices mesh-run's changed by other means", () => {
    const mine = reading('cluster1', one);
    const theirs = reading('cluster2', two);
    delete theirs.cacerts?.managedBy;
    expect(assessTrust([mine, theirs], Date.now()).primaries.map((p) => p.cacerts)).toEqual(['mesh-run', 'not mesh-run']);
    const edited = reading('cluster1', two);
    if (edited.cacerts) edited.cacerts.fingerprintAnnotation = fingerprint(one['ca-cert.pem']);
    expect(about(assessTrust([edited], Date.now()).findings, 'warning')).toEqual([
      expect.stringContaining("cacerts carries mesh-run's label, but its ca-cert.pem"),
    ]);
  });

  it('asks cacerts for three certificate files and never for ca-key.pem; reads their lines back', () => {
    expect(CACERTS_JSONPATH).not.toContain('key');
    expect(CACERTS_JSONPATH).toContain('{.data.ca-cert\\.pem}');
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const read = cacertsFromJsonpath(['mesh-run', 'abc', b64(one['ca-cert.pem']), b64(root.certPem), ''].join('\n'));
    expect(read).toEqual({ managedBy: 'mesh-run', fingerprintAnnotation: 'abc', caCert: one['ca-cert.pem'], rootCert: root.certPem });
  });
});

// Every output of every audit call, to search for keys and certificates.
const outputs: string[] = [];
async function audit(db: string, mesh: string, format = 'json') {
  const result = await runCli(['trust', 'audit', '--mesh', mesh, '-o', format, '--db', db]);
  outputs.push(result.stdout, result.stderr);
  return {
    ...result,
    report: format === 'json' && result.stdout.startsWith('{') ? (JSON.parse(result.stdout) as TrustAuditReport & { ok: boolean }) : undefined,
  };
}

// Rows of the tables a run writes to: an audit leaves every count as it was.
function journalCounts(db: string): Record<string, number> {
  const sqlite = new Database(db, { readonly: true });
  try {
    const tables = ['runs', 'step_attempts', 'commands', 'run_events', 'observations'];
    return Object.fromEntries(tables.map((t) => [t, (sqlite.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n]));
  } finally {
    sqlite.close();
  }
}

function databaseBytes(db: string): Buffer {
  const dir = join(db, '..');
  const base = db.split('/').pop() as string;
  return Buffer.concat(
    readdirSync(dir)
      .filter((f) => f.startsWith(base))
      .map((f) => readFileSync(join(dir, f))),
  );
}

// A Secret as `kubectl create secret generic cacerts --from-file=...` makes it: no mesh-run label.
const cacertsJson = (bundle: CaBundle) =>
  JSON.stringify({
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: { name: 'cacerts', namespace: 'istio-system' },
    data: Object.fromEntries(Object.entries(bundle).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  });

describe('mesh-run trust audit on a multi-primary mesh installed with a generated root', () => {
  const dir = join(tmp.dir, 'mpmn');
  const db = join(dir, 'journal.db');
  let run = '';
  const keys: string[] = [];
  beforeAll(async () => {
    copyExamples(dir);
    const installed = await runCli(['install', ...FAST, '-c', join(dir, 'multi-primary-multi-network.yaml'), '--db', db]);
    expect(installed.code, installed.stderr).toBe(0);
    run = runIdFrom(installed);
    keys.push(readFileSync(join(dir, 'certs', 'root-key.pem'), 'utf8'), readFileSync(join(dir, 'certs', 'cluster1', 'ca-key.pem'), 'utf8'));
  });

  it('finds one root on both primaries, mesh-run made cacerts, valid chains, the root published; exit 0', async () => {
    const before = journalCounts(db);
    const { code, stderr, report } = await audit(db, 'mesh1');
    expect(code, stderr).toBe(0);
    const root = fingerprint(readFileSync(join(dir, 'certs', 'root-cert.pem'), 'utf8'));
    expect(report).toMatchObject({ ok: true, mesh: 'mesh1', mode: 'dry-run', sharedRoot: true, findings: [], unreadable: [] });
    expect(report?.primaries.map((p) => [p.cluster, p.cacerts, p.rootFingerprint, p.chain?.valid, p.published?.matchesCacerts])).toEqual([
      ['cluster1', 'mesh-run', root, true, true],
      ['cluster2', 'mesh-run', root, true, true],
    ]);
    expect(report?.primaries[1]?.intermediate?.fingerprint).toBe(fingerprint(readFileSync(join(dir, 'certs', 'cluster2', 'ca-cert.pem'), 'utf8')));
    const text = await audit(db, 'mesh1', 'text');
    expect(text.stdout).toContain('one root across 2 primaries');
    expect(text.stdout).toMatch(new RegExp(`cluster1 +mesh-run +${root.slice(0, 16)} +\\d{4}-\\d\\d-\\d\\d +\\d+ +valid +cacerts root`));
    expect(text.stdout).toContain('✔ nothing found');
    const yaml = await audit(db, 'mesh1', 'yaml');
    expect(parse(yaml.stdout)).toEqual(report);
    const csv = await audit(db, 'mesh1', 'csv');
    expect(csv.stdout.split('\r\n')[0]).toBe(
      'primary,cacerts,root_fingerprint,root_source,root_subject,intermediate_subject,intermediate_not_after,days_left,chain,published_fingerprint,findings',
    );
    // Nothing journaled: no run, attempt, command, event or observation.
    expect(journalCounts(db)).toEqual(before);
  });

  it('finds the roots differ once cluster2 holds another root (exit 5), and the stale published root until istiod restarts', async () => {
    const otherRoot = await generateRoot(CA);
    const bundle = await generateIntermediate(otherRoot, 'cluster2', CA);
    keys.push(otherRoot.keyPem, bundle['ca-key.pem']);
    const on2 = (args: string[], stdin?: string) => simCommand(db, run, 'cluster2', args, stdin !== undefined ? { stdin } : {});
    expect((await on2(['-n', 'istio-system', 'delete', 'secret', 'cacerts'])).exitCode).toBe(0);
    const created = await on2(['create', '-f', '-'], cacertsJson(bundle));
    expect(created.exitCode, created.stderr).toBe(0);

    const replaced = await audit(db, 'mesh1');
    expect(replaced.code, replaced.stderr).toBe(5);
    expect(replaced.report?.ok).toBe(false);
    expect(replaced.report?.sharedRoot).toBe(false);
    expect(replaced.report?.primaries[1]).toMatchObject({
      cacerts: 'not mesh-run',
      rootFingerprint: fingerprint(otherRoot.certPem),
      published: { matchesCacerts: false },
    });
    expect(about(replaced.report?.findings ?? [], 'error')).toEqual([expect.stringContaining('mesh: the primaries do not share one root')]);
    expect(about(replaced.report?.findings ?? [], 'warning')).toEqual([expect.stringContaining('cluster2: istiod publishes root')]);
    const text = await audit(db, 'mesh1', 'text');
    expect(text.code).toBe(5);
    expect(text.stdout).toContain('the primaries do not share one root');

    // istiod restarted: it publishes the new root; the roots still differ.
    expect((await on2(['-n', 'istio-system', 'rollout', 'restart', 'deployment/istiod'])).exitCode).toBe(0);
    const restarted = await audit(db, 'mesh1');
    expect(restarted.code).toBe(5);
    expect(restarted.report?.primaries[1]?.published).toEqual({ fingerprint: fingerprint(otherRoot.certPem), matchesCacerts: true });
    expect(restarted.report?.findings.map((f) => f.severity)).toEqual(['error']);
  });

  it('errs on a primary without cacerts (exit 5), and exits 3 when a primary cannot be read', async () => {
    expect((await simCommand(db, run, 'cluster2', ['-n', 'istio-system', 'delete', 'secret', 'cacerts'])).exitCode).toBe(0);
    const missing = await audit(db, 'mesh1');
    expect(missing.code).toBe(5);
    expect(missing.report?.primaries[1]?.cacerts).toBe('absent');
    expect(about(missing.report?.findings ?? [], 'error')).toContain(
      'cluster2: no cacerts: its istiod signs under a self-signed root of its own, which the other primaries do not trust',
    );

    const store = await openStore(parseStoreLocation(db, 'test'), 'existing');
    try {
      const settings = await readWorld(store.worlds, run);
      if (!settings) throw new Error('no world');
      await writeWorld(store.worlds, run, { ...settings, contexts: settings.contexts.map((c) => (c.name === 'cluster2' ? { ...c, unreachable: true } : c)) });
    } finally {
      await store.close();
    }
    const dark = await audit(db, 'mesh1', 'text');
    expect(dark.code).toBe(3);
    expect(dark.stdout).toMatch(/cluster2: cannot be read: Unable to connect to the server/);
    expect(dark.stdout).toMatch(/cluster2 +unreadable/);
  });

  it('refuses an unknown mesh (exit 4) and a missing --mesh (exit 2)', async () => {
    const unknown = await audit(db, 'mesh9');
    expect(unknown.code).toBe(4);
    expect(unknown.stderr).toContain('no mesh "mesh9" in this journal');
    const bare = await runCli(['trust', 'audit', '--db', db]);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain("required option '--mesh <mesh>' not specified");
  });

  it('printed no key and no certificate (fingerprints, subjects and dates only), and put no key in the database', () => {
    const printed = outputs.join('\n');
    const bytes = databaseBytes(db);
    expect(keys.length).toBe(4);
    for (const key of keys) {
      const lines = key.split('\n').filter((l) => l.length === 64);
      for (const line of [lines[1], lines[Math.floor(lines.length / 2)], lines[lines.length - 2]] as string[]) {
        expect(printed.includes(line)).toBe(false);
        expect(bytes.includes(line)).toBe(false);
      }
      expect(bytes.includes(Buffer.from(key).toString('base64').slice(0, 80))).toBe(false);
    }
    expect(printed).not.toContain('BEGIN');
    expect(printed).not.toContain(Buffer.from('-----BEGIN CERTIFICATE-----').toString('base64').slice(0, 20));
  });
});

describe('mesh-run trust audit on other meshes', () => {
  it('an adopted multi-primary mesh built by hand: its cacerts not mesh-run, one root; exit 0', async () => {
    const dir = join(tmp.dir, 'adopted');
    copyExamples(dir);
    const db = join(dir, 'journal.db');
    const adopted = await runCli(['mesh', 'adopt', '--name', 'mesh1', '--dry-run', '-q', '-c', join(dir, 'multi-primary-multi-network.yaml'), '--db', db]);
    expect(adopted.code, adopted.stderr).toBe(0);
    const { code, stderr, report } = await audit(db, 'mesh1');
    expect(code, stderr).toBe(0);
    expect(report?.primaries.map((p) => [p.cluster, p.cacerts, p.chain?.valid, p.published?.matchesCacerts])).toEqual([
      ['cluster1', 'not mesh-run', true, true],
      ['cluster2', 'not mesh-run', true, true],
    ]);
    expect(report?.sharedRoot).toBe(true);
    expect(new Set(report?.primaries.map((p) => p.rootFingerprint)).size).toBe(1);
    // The hand-built root was generated in memory: nothing of it was written next to the config.
    expect(existsSync(join(dir, 'certs'))).toBe(false);
  });

  it("a primary-remote mesh without trust: istiod's own root, no cacerts, fine for its one primary; exit 0", async () => {
    const db = join(tmp.dir, 'primary-remote.db');
    const installed = await runCli(['install', ...FAST, '--db', db]);
    expect(installed.code, installed.stderr).toBe(0);
    const { code, stderr, report } = await audit(db, 'mesh1');
    expect(code, stderr).toBe(0);
    expect(report?.primaries).toHaveLength(1);
    expect(report?.primaries[0]).toMatchObject({ cluster: 'cluster1', cacerts: 'absent', rootSource: 'istiod' });
    expect(report?.primaries[0]?.rootFingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(report?.findings).toEqual([
      { severity: 'info', cluster: 'cluster1', message: "no cacerts: istiod signs under its own self-signed root (fine for a mesh's only primary)" },
    ]);
    const text = await audit(db, 'mesh1', 'text');
    expect(text.stdout).toContain("(istiod's own)");
    expect(text.stdout).toContain('✔ nothing found');
  });
});
