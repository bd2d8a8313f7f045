// The common root of trust: certificates with the properties of Istio's tools/certs, the cacerts
// secret created before istiod, keys written only where asked, and never into the database.
import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { afterAll, describe, expect, it } from 'vitest';
import type { StepRuntime } from '../engine/activities/step-runtime.js';
import { generateIntermediate, generateRoot } from '../engine/activities/trust/ca.js';
import { establishTrust } from '../engine/activities/trust/trust-activity.js';
import { loadConfig } from '../engine/config/mesh-config.js';
import { runIdFrom, tempDir } from './support/cli.js';
import { runCli } from './support/cli-here.js';
import { attemptsOf, readJournal } from './support/journal.js';
import { simHarness } from './support/sim.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const FAST = ['--dry-run', '--sim-lb-delay', '0', '-q'];
const DAY = 86_400_000;

function extension<T extends x509.Extension>(cert: x509.X509Certificate, type: new (raw: ArrayBuffer) => T): T {
  const found = cert.getExtension(type);
  if (!found) throw new Error(`certificate lacks ${type.name}`);
  return found;
}

// Every file's bytes in the database and its WAL, where a leaked key would sit.
function databaseBytes(db: string): Buffer {
  const dir = join(db, '..');
  const base = db.split('/').pop() as string;
  return Buffer.concat(
    readdirSync(dir)
      .filter((f) => f.startsWith(base))
      .map((f) => readFileSync(join(dir, f))),
  );
}

function expectNoKey(db: string, keyPem: string): void {
  const bytes = databaseBytes(db);
  const lines = keyPem.split('\n').filter((l) => l.length === 64);
  expect(lines.length).toBeGreaterThan(10);
  for (const line of [lines[1], lines[Math.floor(lines.length / 2)], lines[lines.length - 2]]) expect(bytes.includes(line as string)).toBe(false);
  // The secret's data is the PEM base64-encoded once more.
  expect(bytes.includes(Buffer.from(keyPem).toString('base64').slice(0, 80))).toBe(false);
}

describe('certificates', () => {
  it("have the properties of Istio's tools/certs and verify as a chain with the root", async () => {
    const options = { keySize: 4096 as const, rootDays: 3650, intermediateDays: 730 };
    const root = await generateRoot(options);
    const bundle = await generateIntermediate(root, 'cluster1', options);
    const rootCert = new X509Certificate(bundle['root-cert.pem']);
    const caCert = new X509Certificate(bundle['ca-cert.pem']);

    expect(rootCert.verify(rootCert.publicKey)).toBe(true);
    expect(caCert.checkIssued(rootCert)).toBe(true);
    expect(caCert.verify(rootCert.publicKey)).toBe(true);
    expect(caCert.checkPrivateKey((await import('node:crypto')).createPrivateKey(bundle['ca-key.pem']))).toBe(true);
    expect(bundle['cert-chain.pem']).toBe(`${bundle['ca-cert.pem']}${bundle['root-cert.pem']}`);
    expect(rootCert.subject).toBe('O=Istio\nCN=Root CA');
    expect(caCert.subject).toBe('O=Istio\nCN=Intermediate CA\nL=cluster1');
    expect(caCert.subjectAltName).toBe('DNS:istiod.istio-system.svc');
    expect(rootCert.publicKey.asymmetricKeyDetails?.modulusLength).toBe(4096);
    expect(caCert.publicKey.asymmetricKeyDetails?.modulusLength).toBe(4096);
    const days = (c: X509Certificate) => Math.round((Date.parse(c.validTo) - Date.parse(c.validFrom)) / DAY);
    expect(days(rootCert)).toBe(3650);
    expect(days(caCert)).toBe(730);

    const usages =
      x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation | x509.KeyUsageFlags.keyEncipherment | x509.KeyUsageFlags.keyCertSign;
    for (const [pem, pathLength] of [
      [bundle['root-cert.pem'], undefined],
      [bundle['ca-cert.pem'], 0],
    ] as const) {
      const cert = new x509.X509Certificate(pem);
      const basic = extension(cert, x509.BasicConstraintsExtension);
      expect(basic.ca).toBe(true);
      expect(basic.critical).toBe(true);
      expect(basic.pathLength).toBe(pathLength);
      const keyUsage = extension(cert, x509.KeyUsagesExtension);
      expect(keyUsage.critical).toBe(true);
      expect(keyUsage.usages).toBe(usages);
    }

    // A second, independent verifier: OpenSSL.
    const dir = join(tmp.dir, 'openssl-check');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'root.pem'), bundle['root-cert.pem']);
    writeFileSync(join(dir, 'ca.pem'), bundle['ca-cert.pem']);
    expect(execFileSync('openssl', ['verify', '-CAfile', join(dir, 'root.pem'), join(dir, 'ca.pem')], { encoding: 'utf8' })).toContain('ca.pem: OK');
    expect(execFileSync('openssl', ['x509', '-in', join(dir, 'ca.pem'), '-noout', '-text'], { encoding: 'utf8' })).toMatch(
      /X509v3 Basic Constraints: critical\s+CA:TRUE, pathlen:0/,
    );
  });
});

describe('install with trust:', () => {
  it('creates cacerts before istiod, writes keys 0600 only into outputDir, and journals no key', async () => {
    const dir = join(tmp.dir, 'generated');
    mkdirSync(dir);
    writeFileSync(join(dir, 'mesh.yaml'), 'trust:\n  outputDir: ./certs\n');
    const db = join(dir, 'run.db');
    const result = await runCli(['install', ...FAST, '--config', join(dir, 'mesh.yaml'), '--db', db]);
    expect(result.code, result.stderr).toBe(0);
    const journal = await readJournal(db, runIdFrom(result));
    const order = journal.attempts.map((a) => a.step);
    expect(order.indexOf('establish-trust')).toBeLessThan(order.indexOf('install-primary'));
    expect(attemptsOf(journal, 'establish-trust', 'cluster1').map((a) => a.outcome)).toEqual(['succeeded']);

    const mode = (p: string) => statSync(p).mode & 0o777;
    expect(mode(join(dir, 'certs'))).toBe(0o700);
    expect(mode(join(dir, 'certs', 'root-key.pem'))).toBe(0o600);
    expect(mode(join(dir, 'certs', 'cluster1', 'ca-key.pem'))).toBe(0o600);
    expect(existsSync(join(dir, 'certs', 'cluster2'))).toBe(false);

    const caCert = new X509Certificate(readFileSync(join(dir, 'certs', 'cluster1', 'ca-cert.pem')));
    const fingerprint = caCert.fingerprint256.replace(/:/g, '').toLowerCase();
    const secret = (journal.cluster.cluster1 ?? []).find((o) => o.includes('"name":"cacerts"')) ?? '';
    expect(secret).toContain(`"mesh-run.io/ca-fingerprint":"${fingerprint}"`);
    expect(secret).toContain('"ca-key.pem"');
    expectNoKey(db, readFileSync(join(dir, 'certs', 'cluster1', 'ca-key.pem'), 'utf8'));
    expectNoKey(db, readFileSync(join(dir, 'certs', 'root-key.pem'), 'utf8'));
    expect(journal.commands.some((c) => c.argv.includes('create') && c.argv.includes('-f'))).toBe(true);

    // The plan shows where the keys go, never the keys.
    const plan = await runCli(['plan', '--config', join(dir, 'mesh.yaml'), '--format', 'sh']);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain('"$CA_DIR"/cluster1/ca-key.pem | tr -d');
    expect(plan.stdout).toContain('kubectl --context=cluster1 create -f -');
    expect(plan.stdout).not.toContain('PRIVATE KEY');
    const planJson = await runCli(['plan', '--config', join(dir, 'mesh.yaml'), '--format', 'json']);
    expect(planJson.stdout).not.toContain(Buffer.from('-----BEGIN PRIVATE KEY-----').toString('base64').slice(0, 20));
  });

  it('uses CA files made by OpenSSL in the tools/certs layout, and refuses incomplete ones with exit 2', async () => {
    const dir = join(tmp.dir, 'openssl-ca');
    const ca = join(dir, 'ca', 'cluster1');
    mkdirSync(ca, { recursive: true });
    const sh = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    sh([
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'root-key.pem',
      '-out',
      join(ca, 'root-cert.pem'),
      '-days',
      '30',
      '-subj',
      '/O=Test/CN=Root CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign',
    ]);
    sh(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(ca, 'ca-key.pem'), '-out', 'ca.csr', '-subj', '/O=Test/CN=Intermediate CA']);
    writeFileSync(join(dir, 'ext.cnf'), 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,digitalSignature\n');
    sh([
      'x509',
      '-req',
      '-in',
      'ca.csr',
      '-CA',
      join(ca, 'root-cert.pem'),
      '-CAkey',
      'root-key.pem',
      '-CAcreateserial',
      '-out',
      join(ca, 'ca-cert.pem'),
      '-days',
      '20',
      '-extfile',
      'ext.cnf',
    ]);
    writeFileSync(join(ca, 'cert-chain.pem'), `${readFileSync(join(ca, 'ca-cert.pem'), 'utf8')}${readFileSync(join(ca, 'root-cert.pem'), 'utf8')}`);
    writeFileSync(join(dir, 'mesh.yaml'), 'trust:\n  caDir: ./ca\n');
    const db = join(dir, 'run.db');
    const result = await runCli(['install', ...FAST, '--config', join(dir, 'mesh.yaml'), '--db', db]);
    expect(result.code, result.stderr).toBe(0);
    const expected = execFileSync('openssl', ['x509', '-in', join(ca, 'ca-cert.pem'), '-noout', '-fingerprint', '-sha256'], { encoding: 'utf8' })
      .split('=')[1]
      ?.trim()
      .replace(/:/g, '')
      .toLowerCase();
    const journal = await readJournal(db, runIdFrom(result));
    expect((journal.cluster.cluster1 ?? []).find((o) => o.includes('"name":"cacerts"'))).toContain(`"mesh-run.io/ca-fingerprint":"${expected}"`);
    expectNoKey(db, readFileSync(join(ca, 'ca-key.pem'), 'utf8'));

    // Without its key the directory is not a CA: one line naming the field, exit 2, no run.
    const broken = join(dir, 'broken', 'cluster1');
    mkdirSync(broken, { recursive: true });
    for (const f of ['ca-cert.pem', 'root-cert.pem', 'cert-chain.pem']) writeFileSync(join(broken, f), readFileSync(join(ca, f)));
    writeFileSync(join(dir, 'broken.yaml'), 'trust:\n  caDir: ./broken\n');
    const fresh = join(dir, 'fresh.db');
    const refused = await runCli(['install', ...FAST, '--config', join(dir, 'broken.yaml'), '--db', fresh]);
    expect(refused.code).toBe(2);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toContain('trust.caDir:');
    expect(refused.stderr).toContain('lacks ca-key.pem');
    expect(existsSync(fresh)).toBe(false);
  });

  it('fails at establish-trust when told to, and resume converges on the same CA', async () => {
    const dir = join(tmp.dir, 'resume-trust');
    mkdirSync(dir);
    writeFileSync(join(dir, 'mesh.yaml'), 'trust:\n  outputDir: ./certs\n  keySize: 2048\n');
    const db = join(dir, 'run.db');
    const failed = await runCli(['install', ...FAST, '--config', join(dir, 'mesh.yaml'), '--inject-failure', 'establish-trust', '--db', db]);
    expect(failed.code).toBe(1);
    const id = runIdFrom(failed);
    expect(failed.stderr).toContain('failed at establish-trust');
    const resumed = await runCli(['resume', id, '--db', db, '-q']);
    expect(resumed.code, resumed.stderr).toBe(0);
    const journal = await readJournal(db, id);
    expect(attemptsOf(journal, 'establish-trust', 'cluster1').map((a) => a.outcome)).toEqual(['failed', 'succeeded']);
    expect(attemptsOf(journal, 'install-primary', 'cluster1').map((a) => a.outcome)).toEqual(['succeeded']);
    const fingerprint = new X509Certificate(readFileSync(join(dir, 'certs', 'cluster1', 'ca-cert.pem'))).fingerprint256.replace(/:/g, '').toLowerCase();
    expect((journal.cluster.cluster1 ?? []).find((o) => o.includes('"name":"cacerts"'))).toContain(fingerprint);
  });

  it('refuses a cacerts secret that mesh-run did not create, and keeps its own on a re-run', async () => {
    const sim = await simHarness();
    try {
      const signal = new AbortController().signal;
      const rt: StepRuntime = {
        signal,
        now: Date.now,
        note: () => {},
        observe: async () => {},
        report: async () => {},
        run: (command) => sim.tools.run(command, { signal, timeoutMs: 10_000, step: 'establish-trust', cluster: 'cluster1' }),
        pipe: () => Promise.reject(new Error('no pipes here')),
        presentToken: () => Promise.reject(new Error('no tokens here')),
      };
      const config = loadConfig(undefined).config;
      const deps = { config: { ...config, trust: { source: 'generate' as const, keySize: 2048 as const, rootDays: 10, intermediateDays: 5 } } };
      const input = {
        runId: 'r',
        step: 'establish-trust' as const,
        cluster: 'cluster1',
        context: 'cluster1',
        meshID: 'mesh1',
        network: 'network1',
        external: true,
      };
      const first = await establishTrust(rt, input, deps);
      const again = await establishTrust(rt, input, deps);
      expect(again.fingerprint).toBe(first.fingerprint);

      await sim.run('kubectl', ['--context=cluster1', '-n', 'istio-system', 'delete', 'secret', 'cacerts']);
      const theirs = await sim.run(
        'kubectl',
        ['--context=cluster1', 'create', '-f', '-'],
        JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'cacerts', namespace: 'istio-system' }, data: { 'ca-cert.pem': 'eA==' } }),
      );
      expect(theirs.exitCode, theirs.stderr).toBe(0);
      await expect(establishTrust(rt, input, deps)).rejects.toMatchObject({
        message: expect.stringContaining('already exists on cluster1 and was not created by mesh-run'),
      });
    } finally {
      await sim.close();
    }
  });
});
