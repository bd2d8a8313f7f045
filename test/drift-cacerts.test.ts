// mesh-run drift and cacerts: the journal keeps the fingerprints of each primary's root and intermediate (install
// after plugging cacerts in, adoption as it finds them), and drift compares cacerts with the newest of them:
// another root (cacerts-changed, and roots-differ beside the other primary), another intermediate of the same
// root (cacerts-changed alone), an intermediate expiring within 30 days (intermediate-expiring, a warning). A mesh
// journaled before the fingerprints were kept falls back to its trust directory's root, or says nothing. Every
// replacement cacerts is made as trust-audit.test.ts makes it; no key reaches the journal or any output.
import { X509Certificate } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareMesh, type DriftItem } from '../engine/activities/drift.js';
import type { DriftFacts } from '../engine/activities/drift-reads.js';
import { type CaBundle, type CaOptions, generateIntermediate, generateRoot, type RootCa } from '../engine/activities/trust/ca.js';
import { fingerprint } from '../engine/activities/trust/ca-files.js';
import { PRINT_KEYS, printsOf, SECRETS_JSONPATH, secretsListing } from '../engine/activities/trust/cacerts-prints.js';
import { loadConfig } from '../engine/config/mesh-config.js';
import { runIdFrom, tempDir } from './support/cli.js';
import { runCli } from './support/cli-here.js';
import { copyDb } from './support/crash-resume.js';
import { copyExamples } from './support/examples.js';
import { readJournal } from './support/journal.js';
import { simCommand } from './support/sim.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const CA: CaOptions = { keySize: 2048, rootDays: 3650, intermediateDays: 365 };
const FAST = ['--dry-run', '--sim-lb-delay', '0', '-q'];
const DAY = 86_400_000;
const CERTS_SUBJECT = 'certs/istio-system/cacerts';
const CACERTS_SUBJECT = 'secret/istio-system/cacerts';

interface Report {
  ok: boolean;
  drift: DriftItem[];
}
interface Mesh {
  db: string;
  world: string;
}

// Every output, and every key a test made or mesh-run wrote, for the scans at the end.
const outputs: string[] = [];
const keys: string[] = [];
const databases: string[] = [];

async function installed(config: string, db: string): Promise<Mesh> {
  const result = await runCli(['install', ...FAST, '-c', config, '--db', db]);
  expect(result.code, result.stderr).toBe(0);
  databases.push(db);
  return { db, world: (await readJournal(db, runIdFrom(result))).run.simWorld };
}

let copies = 0;
function copyOf(mesh: Mesh): Mesh {
  // copyDb copies beside the original (the journal and its -wal file alike).
  const db = join(dirname(mesh.db), `copy-${++copies}.db`);
  copyDb(mesh.db, db);
  databases.push(db);
  return { db, world: mesh.world };
}

async function drift(mesh: Mesh, format = 'json'): Promise<{ code: number; report: Report; stdout: string }> {
  const result = await runCli(['drift', '--mesh', 'mesh1', '--db', mesh.db, '-o', format]);
  outputs.push(result.stdout, result.stderr);
  return { code: result.code ?? -1, report: format === 'json' ? (JSON.parse(result.stdout) as Report) : ({} as Report), stdout: result.stdout };
}

const found = (r: Report) => r.drift.map((d) => `${d.kind}@${d.cluster}`);
const item = (r: Report, kind: string) => r.drift.find((d) => d.kind === kind) as DriftItem;

async function kubectl(mesh: Mesh, context: string, args: string[], stdin?: string): Promise<void> {
  const result = await simCommand(mesh.db, mesh.world, context, args, stdin !== undefined ? { stdin } : {});
  expect(result.exitCode, `kubectl ${args.join(' ')}: ${result.stderr}`).toBe(0);
}

// cacerts replaced by hand, as `kubectl create secret generic cacerts --from-file=...` makes it (no mesh-run label).
async function replaceCacerts(mesh: Mesh, context: string, bundle: CaBundle): Promise<void> {
  keys.push(bundle['ca-key.pem']);
  const secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: { name: 'cacerts', namespace: 'istio-system' },
    data: Object.fromEntries(Object.entries(bundle).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  };
  await kubectl(mesh, context, ['-n', 'istio-system', 'delete', 'secret', 'cacerts']);
  await kubectl(mesh, context, ['create', '-f', '-'], JSON.stringify(secret));
}

interface ObservationRow {
  cluster: string;
  subject: string;
  present: number;
  detail: string | null;
}
function observations(db: string): ObservationRow[] {
  const sqlite = new Database(db, { readonly: true });
  try {
    return sqlite.prepare('SELECT cluster, subject, present, detail FROM observations ORDER BY at, id').all() as ObservationRow[];
  } finally {
    sqlite.close();
  }
}

// The journal as an older mesh-run left it: cacerts observed without fingerprints.
function forgetPrints(db: string): void {
  const sqlite = new Database(db);
  try {
    sqlite.prepare('DELETE FROM observations WHERE subject = ?').run(CERTS_SUBJECT);
    sqlite.prepare('UPDATE observations SET detail = NULL WHERE subject = ?').run(CACERTS_SUBJECT);
  } finally {
    sqlite.close();
  }
}

const short = (pem: string) => fingerprint(pem).slice(0, 12);

describe('drift and cacerts on a multi-primary mesh installed with a generated root', () => {
  const dir = join(tmp.dir, 'mpmn');
  let mesh: Mesh;
  let root: RootCa;
  beforeAll(async () => {
    copyExamples(dir);
    mesh = await installed(join(dir, 'multi-primary-multi-network.yaml'), join(dir, 'journal.db'));
    root = { certPem: readFileSync(join(dir, 'certs', 'root-cert.pem'), 'utf8'), keyPem: readFileSync(join(dir, 'certs', 'root-key.pem'), 'utf8') };
    keys.push(root.keyPem, ...['cluster1', 'cluster2'].map((c) => readFileSync(join(dir, 'certs', c, 'ca-key.pem'), 'utf8')));
  });

  it("journals each primary's root and intermediate fingerprints once cacerts is plugged in, and the intermediate's expiry", () => {
    const rows = observations(mesh.db);
    // Before the install acted: no cacerts, nothing to fingerprint.
    expect(rows.filter((o) => o.subject === CACERTS_SUBJECT).map((o) => [o.cluster, o.present, o.detail])).toEqual([
      ['cluster1', 0, null],
      ['cluster2', 0, null],
    ]);
    const certs = rows.filter((o) => o.subject === CERTS_SUBJECT).sort((a, b) => a.cluster.localeCompare(b.cluster));
    expect(certs.map((o) => o.cluster)).toEqual(['cluster1', 'cluster2']);
    for (const o of certs) {
      const intermediate = readFileSync(join(dir, 'certs', o.cluster, 'ca-cert.pem'), 'utf8');
      expect(JSON.parse(o.detail as string)).toEqual({
        [PRINT_KEYS.root]: fingerprint(root.certPem),
        [PRINT_KEYS.intermediate]: fingerprint(intermediate),
        [PRINT_KEYS.intermediateNotAfter]: printsOf({ caCert: intermediate }).intermediateNotAfter,
      });
    }
  });

  it('finds no drift as installed (exit 0)', async () => {
    const { code, report } = await drift(mesh);
    expect(report.drift).toEqual([]);
    expect(code).toBe(0);
  });

  it("cluster2's cacerts replaced by another root's: cacerts-changed, and roots-differ before istiod even restarts", async () => {
    const other = await generateRoot(CA);
    keys.push(other.keyPem);
    const m = copyOf(mesh);
    await replaceCacerts(m, 'cluster2', await generateIntermediate(other, 'cluster2', CA));
    const { code, report } = await drift(m);
    expect(found(report)).toEqual(['cacerts-changed@cluster2', 'roots-differ@cluster2']);
    expect(code).toBe(5);
    const changed = item(report, 'cacerts-changed');
    expect(changed.what).toMatch(
      new RegExp(
        `^cacerts on cluster2 carries root ${short(other.certPem)}, not ${short(root.certPem)} \\(SHA-256; the journal's, recorded by run mr-\\w+\\)$`,
      ),
    );
    expect(changed.why).toContain('mTLS fails');
    expect(changed.repair).toMatch(
      /^mesh-run repair --mesh mesh1 --only cacerts-changed --force \(re-plugs the mesh's own cacerts from its trust directory \S+certs, then restarts istiod; --force because/,
    );
    expect(item(report, 'roots-differ').what).toBe(
      `cluster2 signs under root ${short(other.certPem)} (its cacerts'; from istiod's next start), the other primaries (cluster1) under ${short(root.certPem)} (SHA-256)`,
    );
  });

  it("the first primary's replaced: with one primary against one, the journal's root says which one drifted", async () => {
    const other = await generateRoot(CA);
    keys.push(other.keyPem);
    const m = copyOf(mesh);
    await replaceCacerts(m, 'cluster1', await generateIntermediate(other, 'cluster1', CA));
    await kubectl(m, 'cluster1', ['-n', 'istio-system', 'rollout', 'restart', 'deployment/istiod']);
    const { report } = await drift(m);
    expect(found(report)).toEqual(['cacerts-changed@cluster1', 'roots-differ@cluster1']);
    expect(item(report, 'roots-differ').what).toMatch(/^cluster1 signs under root \w{12}, the other primaries \(cluster2\) under/);
  });

  it("another intermediate of the mesh's own root: cacerts-changed alone, naming the intermediate", async () => {
    const m = copyOf(mesh);
    const bundle = await generateIntermediate(root, 'cluster2', CA);
    await replaceCacerts(m, 'cluster2', bundle);
    const { code, report } = await drift(m);
    expect(found(report)).toEqual(['cacerts-changed@cluster2']);
    expect(code).toBe(5);
    const journaled = readFileSync(join(dir, 'certs', 'cluster2', 'ca-cert.pem'), 'utf8');
    expect(report.drift[0]?.what).toMatch(
      new RegExp(`^cacerts on cluster2 carries intermediate ${short(bundle['ca-cert.pem'])} under the same root, not ${short(journaled)} \\(SHA-256;`),
    );
  });

  it("a short-lived intermediate of the mesh's root: intermediate-expiring, a warning, beside the change", async () => {
    const m = copyOf(mesh);
    await replaceCacerts(m, 'cluster2', await generateIntermediate(root, 'cluster2', { ...CA, intermediateDays: 20 }));
    const { report } = await drift(m);
    expect(found(report)).toEqual(['cacerts-changed@cluster2', 'intermediate-expiring@cluster2']);
    const expiring = item(report, 'intermediate-expiring');
    expect(expiring).toMatchObject({ severity: 'warning', repair: 'mesh-run trust rotate --mesh mesh1 --intermediate' });
    expect(expiring.what).toMatch(/^the intermediate in cacerts on cluster2 expires on \d{4}-\d\d-\d\d \(19 days left\)$/);
    expect(item(report, 'cacerts-changed').severity).toBeUndefined();
    const text = await drift(m, 'text');
    expect(text.stdout).toMatch(/! intermediate-expiring cluster2: the intermediate in cacerts on cluster2 expires on/);
    expect(text.stdout).toMatch(/✖ cacerts-changed cluster2:/);
  });

  it("a journal from before the fingerprints were kept: the trust directory's root stands in (the root only)", async () => {
    const legacy = copyOf(mesh);
    forgetPrints(legacy.db);
    expect((await drift(legacy)).report.drift).toEqual([]);
    // Another intermediate of the same root: the directory's root cannot tell, so nothing is said.
    const sameRoot = copyOf(legacy);
    await replaceCacerts(sameRoot, 'cluster2', await generateIntermediate(root, 'cluster2', CA));
    expect((await drift(sameRoot)).report.drift).toEqual([]);
    const other = await generateRoot(CA);
    keys.push(other.keyPem);
    const replaced = copyOf(legacy);
    await replaceCacerts(replaced, 'cluster2', await generateIntermediate(other, 'cluster2', CA));
    const { report } = await drift(replaced);
    expect(found(report)).toEqual(['cacerts-changed@cluster2', 'roots-differ@cluster2']);
    expect(item(report, 'cacerts-changed').what).toMatch(/\(SHA-256; the journal's, the root in the trust directory \S+certs\)$/);
  });
});

describe('drift and cacerts on a primary-remote mesh installed with CA files whose intermediate expires soon', () => {
  it('intermediate-expiring on the primary, and nothing else', async () => {
    const dir = join(tmp.dir, 'short-lived');
    const root = await generateRoot(CA);
    const bundle = await generateIntermediate(root, 'cluster1', { ...CA, intermediateDays: 20 });
    keys.push(root.keyPem, bundle['ca-key.pem']);
    mkdirSync(join(dir, 'ca', 'cluster1'), { recursive: true });
    for (const [file, text] of Object.entries(bundle)) writeFileSync(join(dir, 'ca', 'cluster1', file), text, { mode: 0o600 });
    copyExamples(dir);
    const config = join(dir, 'short-lived.yaml');
    writeFileSync(config, `${readFileSync(join(dir, 'primary-remote.yaml'), 'utf8')}\ntrust: {caDir: ./ca}\n`);
    const mesh = await installed(config, join(dir, 'journal.db'));
    const { code, report } = await drift(mesh);
    expect(found(report)).toEqual(['intermediate-expiring@cluster1']);
    expect(report.drift[0]).toMatchObject({ severity: 'warning', repair: 'mesh-run trust rotate --mesh mesh1 --intermediate' });
    expect(report.drift[0]?.what).toMatch(/\(19 days left\)$/);
    // Listed as found, as every item is.
    expect(code).toBe(5);
  });
});

describe('drift and cacerts on an adopted multi-primary mesh (built by hand with a root of its own)', () => {
  let mesh: Mesh;
  beforeAll(async () => {
    const dir = join(tmp.dir, 'adopted');
    copyExamples(dir);
    const db = join(dir, 'journal.db');
    const adopted = await runCli(['mesh', 'adopt', '--name', 'mesh1', '--dry-run', '-q', '-c', join(dir, 'multi-primary-multi-network.yaml'), '--db', db]);
    expect(adopted.code, adopted.stderr).toBe(0);
    databases.push(db);
    mesh = { db, world: (await readJournal(db, runIdFrom(adopted))).run.simWorld };
  });

  it('adoption journals the fingerprints it finds, one root for both primaries; no drift', async () => {
    const rows = observations(mesh.db).filter((o) => o.subject === CACERTS_SUBJECT);
    expect(rows.map((o) => [o.cluster, o.present])).toEqual([
      ['cluster1', 1],
      ['cluster2', 1],
    ]);
    const details = rows.map((o) => JSON.parse(o.detail as string) as Record<string, string>);
    for (const d of details) {
      expect(Object.keys(d).sort()).toEqual(Object.values(PRINT_KEYS).sort());
      expect(d[PRINT_KEYS.root]).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(details[0]?.[PRINT_KEYS.root]).toBe(details[1]?.[PRINT_KEYS.root]);
    expect(details[0]?.[PRINT_KEYS.intermediate]).not.toBe(details[1]?.[PRINT_KEYS.intermediate]);
    const { code, report } = await drift(mesh);
    expect(report.drift).toEqual([]);
    expect(code).toBe(0);
  });

  it("cluster1's cacerts replaced by another root's: cacerts-changed and roots-differ on cluster1", async () => {
    const other = await generateRoot(CA);
    keys.push(other.keyPem);
    const m = copyOf(mesh);
    await replaceCacerts(m, 'cluster1', await generateIntermediate(other, 'cluster1', CA));
    expect(found((await drift(m)).report)).toEqual(['cacerts-changed@cluster1', 'roots-differ@cluster1']);
  });

  it('adopted before the fingerprints were kept, and no trust directory: no cacerts-changed, the roots still compared', async () => {
    const other = await generateRoot(CA);
    keys.push(other.keyPem);
    const m = copyOf(mesh);
    forgetPrints(m.db);
    await replaceCacerts(m, 'cluster2', await generateIntermediate(other, 'cluster2', CA));
    expect(found((await drift(m)).report)).toEqual(['roots-differ@cluster2']);
  });
});

// The comparison alone: the expiry thresholds, against a clock given.
describe('intermediate-expiring (pure)', () => {
  copyExamples(join(tmp.dir, 'pure'));
  const config = loadConfig(join(tmp.dir, 'pure', 'multi-primary-multi-network.yaml'), {}).config;
  const now = Date.parse('2030-01-01T00:00:00Z');
  function primary(name: string, notAfter: number): DriftFacts {
    return {
      name,
      context: name,
      istioSystem: true,
      istiods: [{ name: 'istiod', revision: 'default', meshID: 'mesh1', clusterId: name, externalIstiod: false }],
      injectors: [],
      revisionTags: [],
      remoteSecrets: [],
      cacerts: true,
      cacertsPrints: { root: 'r'.repeat(64), intermediate: name, intermediateNotAfter: new Date(notAfter).toISOString() },
      root: 'r'.repeat(64),
    };
  }
  const expiring = (days: number) =>
    compareMesh({ config, cacerts: new Set(), now }, [primary('cluster1', now + days * DAY), primary('cluster2', now + 400 * DAY)]).items.filter(
      (i) => i.kind === 'intermediate-expiring',
    );

  it('nothing past 30 days; a warning within 30; within 7 it says so; expired, it says when', () => {
    expect(expiring(31)).toEqual([]);
    expect(expiring(20).map((i) => [i.cluster, i.severity, i.what])).toEqual([
      ['cluster1', 'warning', 'the intermediate in cacerts on cluster1 expires on 2030-01-21 (20 days left)'],
    ]);
    expect(expiring(5)[0]?.what).toBe('the intermediate in cacerts on cluster1 expires on 2030-01-06: 5 days left, within 7 days');
    expect(expiring(-2)[0]?.what).toBe('the intermediate in cacerts on cluster1 expired on 2029-12-30');
  });
});

describe('what is read and kept of cacerts', () => {
  it("discovery's secrets listing asks for names and two certificate fields, never a key; only cacerts' prints are kept", async () => {
    expect(SECRETS_JSONPATH).not.toMatch(/key/);
    const root = await generateRoot(CA);
    const bundle = await generateIntermediate(root, 'cluster1', CA);
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const listing = secretsListing(
      [
        `istio-ca-secret\t${b64(root.certPem)}\t${b64(root.certPem)}`,
        'istio-remote-secret-cluster2\t\t',
        `cacerts\t${b64(root.certPem)}\t${b64(bundle['ca-cert.pem'])}`,
        '',
      ].join('\n'),
    );
    expect(listing.names).toEqual(['istio-ca-secret', 'istio-remote-secret-cluster2', 'cacerts']);
    expect(listing.cacerts).toEqual({
      root: fingerprint(root.certPem),
      intermediate: fingerprint(bundle['ca-cert.pem']),
      intermediateNotAfter: new Date(new X509Certificate(bundle['ca-cert.pem']).validTo).toISOString(),
    });
  });

  it('no key reached the journals or any output; observations of cacerts hold fingerprints and a date only', () => {
    expect(keys.length).toBeGreaterThan(8);
    const printed = outputs.join('\n');
    expect(printed).not.toContain('BEGIN');
    for (const db of databases) {
      const dir = join(db, '..');
      const base = db.split('/').pop() as string;
      const bytes = Buffer.concat(
        readdirSync(dir)
          .filter((f) => f.startsWith(base))
          .map((f) => readFileSync(join(dir, f))),
      );
      for (const key of keys) {
        const lines = key.split('\n').filter((l) => l.length === 64);
        for (const line of [lines[1], lines[Math.floor(lines.length / 2)], lines[lines.length - 2]] as string[]) {
          expect(printed.includes(line)).toBe(false);
          expect(bytes.includes(line), `${db}: a key line`).toBe(false);
        }
        expect(bytes.includes(Buffer.from(key).toString('base64').slice(0, 80))).toBe(false);
      }
      for (const o of observations(db).filter((r) => r.subject === CACERTS_SUBJECT || r.subject === CERTS_SUBJECT)) {
        for (const [k, v] of Object.entries(JSON.parse(o.detail ?? '{}') as Record<string, string>)) {
          expect(Object.values(PRINT_KEYS)).toContain(k);
          expect(v).toMatch(/^(?:[0-9a-f]{64}|\d{4}-\d\d-\d\dT[\d:.]+Z)$/);
        }
      }
    }
  });
});
