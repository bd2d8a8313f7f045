// trust rotate --intermediate on simulated multi-primary meshes: new intermediates from the same root, one
// primary at a time, each istiod seen serving the new chain; audit, drift and verify agree afterwards. Killed
// anywhere, a rotation resumes without minting a second intermediate; a user's cacerts is left alone without
// --force; no key reaches the journal or the screen, and the keys on disk are 0600 in 0700 directories.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateIntermediate, generateRoot } from '../engine/activities/trust/ca.js';
import { fingerprint } from '../engine/activities/trust/ca-files.js';
import { openStore } from '../engine/composition.js';
import { parseStoreLocation } from '../store/location.js';
import { runIdFrom, runCli as runProcess, tempDir } from './support/cli.js';
import { runCli } from './support/cli-here.js';
import { readJournal } from './support/journal.js';
import { simCommand } from './support/sim.js';
import { findLeak, type Needles, needlesFor } from './support/token-scan.js';

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
      const lines = readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l && !l.startsWith('-----'));
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
    mkdirSync(at, { recursive: true, mode: 0o700 });
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
    mkdirSync(join(dir, 'ca'), { recursive: true });
    await agingCa(join(dir, 'ca'), ['cluster1', 'cluster2']);
    // cluster1's copy of the root ends with one more newline than the root beside it: the same certificate,
    // other bytes. istiod takes a root-cert.pem that differs in any byte for a root change and ignores the
    // update, so the rotation keeps cacerts' own bytes (or cluster1's istiod would never report the new chain).
    writeFileSync(join(dir, 'ca', 'cluster1', 'root-cert.pem'), `${readFileSync(join(dir, 'ca', 'root-cert.pem'), 'utf8')}\n`);
    const db = join(dir, 'journal.db');
    const at = ['--db', db];
    const outputs: string[] = [];
    const keep = <T extends { stdout: string; stderr: string }>(r: T): T => {
      outputs.push(r.stdout, r.stderr);
      return r;
    };
    const install = keep(await runCli(['install', ...FAST, '-c', meshYaml(dir, '{caDir: ./ca}\nverify: {timeout: 20s}'), ...at]));
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

    const drift = keep(await runCli(['drift', '--mesh', 'mesh1', ...at]));
    expect(drift.code, drift.stdout).toBe(0);
    const verify = keep(await runCli(['verify', '--mesh', 'mesh1', '-q', ...at]));
    expect(verify.code, verify.stderr).toBe(0);
    for (const args of [
      ['show', id, '--json'],
      ['logs', id],
      ['status', id, '--json'],
      ['history', '--json'],
    ])
      keep(await runCli([...args, ...at]));

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

// The intermediates each primary's cacerts holds now.
async function held(db: string): Promise<Map<string, string>> {
  return new Map([...byCluster((await audit(db)).report)].map(([c, p]) => [c, p.intermediate.fingerprint]));
}

describe('trust rotate --intermediate, stopped and resumed', () => {
  const dir = join(tmp.dir, 'resumed');
  const db = join(dir, 'journal.db');
  const at = ['--db', db];

  it('a rotation killed anywhere resumes to one new intermediate per primary, reusing what it staged', async () => {
    mkdirSync(dir, { recursive: true });
    const installed = await runCli(['install', ...FAST, '-c', meshYaml(dir, '{outputDir: ./certs, keySize: 2048}'), ...at]);
    expect(installed.code, installed.stderr).toBe(0);
    // How many crash points one rotation passes, then kills across its first primary's mint and a few later on.
    const trace = join(dir, 'trace');
    const reference = await runProcess(['trust', 'rotate', '--mesh', 'mesh1', '--intermediate', '-q', ...at], { env: { MESH_RUN_CRASH_TRACE: trace } });
    expect(reference.code, reference.stderr).toBe(0);
    const total = readFileSync(trace, 'utf8').trim().split('\n').length;
    const points = [...new Set([0.2, 0.22, 0.24, 0.26, 0.28, 0.5, 0.75].map((f) => Math.round(total * f)))];
    let reused = 0;
    for (const point of points) {
      const start = await held(db);
      const killed = await runProcess(['trust', 'rotate', '--mesh', 'mesh1', '--intermediate', '-q', ...at], { env: { MESH_RUN_CRASH_AT: String(point) } });
      expect(killed.signal, `point ${point}: ${killed.stderr}`).toBe('SIGKILL');
      const id = runIdFrom(killed);
      // What the killed run staged and had not yet recorded as minted: the resume must plug exactly that one.
      const journal = await readJournal(db, id);
      const staged = new Map<string, string>();
      for (const cluster of ['cluster1', 'cluster2']) {
        const next = join(dir, 'certs', cluster, 'next', 'ca-cert.pem');
        const minted = journal.attempts.some((a) => a.step === 'mint-intermediate' && a.cluster === cluster && a.outcome === 'succeeded');
        if (statSync(next, { throwIfNoEntry: false }) && !minted) staged.set(cluster, fingerprint(readFileSync(next, 'utf8')));
      }
      const resumed = await runCli(['resume', id, '-q', ...at]);
      expect(resumed.code, `point ${point}: ${resumed.stderr}`).toBe(0);
      const end = await held(db);
      const events = (await readJournal(db, id)).events.filter((e) => e.type === 'intermediate-minted');
      for (const cluster of ['cluster1', 'cluster2']) {
        expect(end.get(cluster), `point ${point}`).not.toBe(start.get(cluster));
        // One intermediate minted per primary in the run, killed or not.
        expect(events.filter((e) => e.detail?.includes(` for ${cluster} `)).length, `point ${point} ${cluster}`).toBeLessThanOrEqual(1);
        expect(readdirSync(join(dir, 'certs', cluster))).not.toContain('next');
        const want = staged.get(cluster);
        if (want) {
          expect(end.get(cluster), `point ${point}: ${cluster} plugs what was staged`).toBe(want);
          reused++;
        }
      }
      const after = await audit(db);
      expect(after.code, JSON.stringify(after.report.findings)).toBe(0);
      expect(new Set(after.report.primaries.map((p) => p.rootFingerprint)).size).toBe(1);
    }
    // The window around the first mint did catch a bundle staged but not yet recorded.
    expect(reused).toBeGreaterThan(0);
    expect((await runCli(['drift', '--mesh', 'mesh1', ...at])).code).toBe(0);
  }, 300_000);

  it('a rotation that failed blocks another until resumed; --inject-failure names its steps', async () => {
    const failed = await runCli(['trust', 'rotate', '--mesh', 'mesh1', '--intermediate', '--inject-failure', 'await-istiod-chain@cluster2', '-q', ...at]);
    expect(failed.code).toBe(1);
    const id = runIdFrom(failed);
    const again = await runCli(['trust', 'rotate', '--mesh', 'mesh1', '--intermediate', '-q', ...at]);
    expect(again.code).toBe(3);
    expect(again.stderr).toContain(`trust rotate run ${id} of mesh mesh1 failed at await-istiod-chain@cluster2`);
    expect((await runCli(['resume', id, '-q', ...at])).code).toBe(0);
    const wrong = await runCli(['trust', 'rotate', '--mesh', 'mesh1', '--intermediate', '--inject-failure', 'install-primary', ...at]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('trust-rotate has no step "install-primary"');
  }, 120_000);

  it('bad flags: one line, exit 2, nothing recorded', async () => {
    const runs = async () => (await runCli(['runs', '--json', ...at])).stdout;
    const before = await runs();
    for (const [args, message] of [
      [[], 'trust rotate: say what to rotate: --intermediate'],
      [['--root'], '--root: rotating the root is not supported yet'],
      [['--intermediate', '--root-cert', join(dir, 'certs', 'root-cert.pem')], '--root-key: missing'],
      [
        ['--intermediate', '--root-cert', join(dir, 'nowhere.pem'), '--root-key', join(dir, 'nowhere-key.pem')],
        `--root-cert: ${join(dir, 'nowhere.pem')} does not exist`,
      ],
      [['--intermediate', '--root-cert', join(dir, 'certs', 'root-cert.pem'), '--root-key', join(dir, 'certs', 'cluster1', 'ca-key.pem')], 'is not the key of'],
    ] as const) {
      const result = await runCli(['trust', 'rotate', '--mesh', 'mesh1', ...args, ...at]);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toContain(message);
      expect(
        result.stderr
          .trim()
          .split('\n')
          .filter((l) => !l.startsWith('hint:')).length,
        result.stderr,
      ).toBe(1);
    }
    const plan = await runCli(['plan', 'trust-rotate', '--mesh', 'mesh1', ...at]);
    expect(plan.code).toBe(2);
    expect(await runs()).toBe(before);
  });
});

describe("trust rotate --intermediate on an adopted mesh's cacerts", () => {
  it('refuses to replace a cacerts that was there before mesh-run (exit 3, naming it) unless --force', async () => {
    const dir = join(tmp.dir, 'adopted');
    mkdirSync(join(dir, 'ca'), { recursive: true });
    await agingCa(join(dir, 'ca'), ['cluster1', 'cluster2']);
    const db = join(dir, 'journal.db');
    const at = ['--db', db];
    const adopted = await runCli(['mesh', 'adopt', '--name', 'mesh1', '--dry-run', '-q', '-c', meshYaml(dir, '{caDir: ./ca}'), ...at]);
    expect(adopted.code, adopted.stderr).toBe(0);
    const before = await held(db);
    const refused = await runCli(['trust', 'rotate', '--mesh', 'mesh1', '--intermediate', ...at]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('cacerts on cluster1, cluster2 was there before mesh-run');
    expect(await held(db)).toEqual(before);
    const forced = await runCli(['trust', 'rotate', '--mesh', 'mesh1', '--intermediate', '--force', '-q', ...at]);
    expect(forced.code, forced.stderr).toBe(0);
    const after = await held(db);
    for (const cluster of ['cluster1', 'cluster2']) expect(after.get(cluster)).not.toBe(before.get(cluster));
    const events = (await readJournal(db, runIdFrom(forced))).events;
    expect(events.filter((e) => e.type === 'overwrote').map((e) => e.detail)).toEqual([
      '--force: replacing cacerts on cluster1, which was there before mesh-run',
      '--force: replacing cacerts on cluster2, which was there before mesh-run',
    ]);
    // Now mesh-run's own (its label, its fingerprint): the next rotation needs no --force.
    const next = await runCli(['trust', 'rotate', '--mesh', 'mesh1', '--intermediate', '-q', ...at]);
    expect(next.code, next.stderr).toBe(0);
  }, 180_000);
});

describe('trust rotate --intermediate --dry-run of a real mesh', () => {
  it('rehearses on a simulated copy under a throwaway root: the real trust directory is not touched', async () => {
    const { recordRealMesh } = await import('./support/real-mesh.js');
    const dir = join(tmp.dir, 'real');
    const certs = join(dir, 'certs');
    mkdirSync(certs, { recursive: true, mode: 0o700 });
    const root = await generateRoot({ keySize: 2048, rootDays: 3650, intermediateDays: 730 });
    writeFileSync(join(certs, 'root-cert.pem'), root.certPem);
    writeFileSync(join(certs, 'root-key.pem'), root.keyPem, { mode: 0o600 });
    const db = join(dir, 'journal.db');
    await recordRealMesh(
      db,
      `meshID: prod\nclusters:\n  - {name: east, context: ctx-east, role: primary}\n  - {name: west, context: ctx-west, role: primary}\ntrust: {outputDir: ${certs}, keySize: 2048}\ntools: {kubectl: /nonexistent/kubectl, istioctl: /nonexistent/istioctl}\n`,
    );
    const real = await runCli(['trust', 'rotate', '--mesh', 'prod', '--intermediate', '--db', db]);
    expect(real.code).toBe(3);
    const rehearsal = await runCli(['trust', 'rotate', '--mesh', 'prod', '--intermediate', '--dry-run', '-q', '--db', db]);
    expect(rehearsal.code, rehearsal.stderr).toBe(0);
    expect(rehearsal.stdout).toContain('a rehearsal on simulated clusters');
    const journal = await readJournal(db, runIdFrom(rehearsal));
    expect(journal.run.mode).toBe('dry-run');
    const scratch = journal.run.config?.trustRotate?.keysDir ?? '';
    expect(journal.events.find((e) => e.type === 'rehearsal-trust')?.detail).toContain(scratch);
    expect(scratch.startsWith(certs)).toBe(false);
    expect(journal.attempts.filter((a) => a.step === 'await-istiod-chain').map((a) => a.outcome)).toEqual(['succeeded', 'succeeded']);
    expect(readdirSync(certs).sort()).toEqual(['root-cert.pem', 'root-key.pem']);
    // The throwaway keys went with the run.
    expect(existsSync(scratch)).toBe(false);
  }, 120_000);
});
