// The files of trust rotate --intermediate, in the mesh's trust directory (Istio's tools/certs layout,
// <dir>/<cluster>/{ca-cert,ca-key,root-cert,cert-chain}.pem): the root the new intermediates are signed with,
// the new bundle staged in <dir>/<cluster>/next/ until cacerts holds it, then promoted into <dir>/<cluster>/
// with the bundle it replaces kept in <dir>/<cluster>/retired/<fingerprint>/. Every directory made here is
// 0700 and every key 0600; a stopped rotation leaves next/ where the resumed step finds and reuses it.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { TrustConfig, TrustRotateSpec } from '../../../shared/model.js';
import { bundleProblem, type CaBundle, fingerprint, type RootCa } from './ca-files.js';
import { BUNDLE_FILES, readBundle, TrustMaterialError, writePrivate } from './material.js';

const STAGED = 'next';
const RETIRED = 'retired';

// The directory the mesh keeps its CA files in: the generated root's outputDir, or the user's caDir.
export function trustDirOf(trust: TrustConfig | undefined): string | undefined {
  if (trust?.source === 'generate') return trust.outputDir;
  if (trust?.source === 'files') return trust.caDir;
  return undefined;
}

function readText(path: string, field: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new TrustMaterialError(`${field}: ${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
}

// The root the new intermediates are signed with: --root-cert/--root-key, else root-cert.pem and root-key.pem
// of the trust directory (where mesh-run and Istio's Makefile.selfsigned.mk write them). Checked whole: a CA
// certificate, still valid, and the key that belongs to it.
export function rootFor(spec: Pick<TrustRotateSpec, 'rootCert' | 'rootKey'>, trustDir: string | undefined): RootCa {
  const certPath = spec.rootCert ?? (trustDir ? join(trustDir, 'root-cert.pem') : undefined);
  const keyPath = spec.rootKey ?? (trustDir ? join(trustDir, 'root-key.pem') : undefined);
  const certField = spec.rootCert ? '--root-cert' : 'trust directory';
  const keyField = spec.rootKey ? '--root-key' : 'trust directory';
  if (!certPath || !keyPath) throw new TrustMaterialError('--root-cert and --root-key: the mesh keeps no CA files; name the root to sign with');
  if (!existsSync(certPath)) throw new TrustMaterialError(`${certField}: ${certPath} does not exist; give --root-cert and --root-key`);
  if (!existsSync(keyPath)) throw new TrustMaterialError(`${keyField}: ${keyPath} does not exist (the root's key); give --root-key`);
  const root = { certPem: readText(certPath, certField), keyPem: readText(keyPath, keyField) };
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(root.certPem);
  } catch (error) {
    throw new TrustMaterialError(`${certField}: ${certPath} is not a PEM certificate (${(error as Error).message})`);
  }
  if (!cert.ca) throw new TrustMaterialError(`${certField}: ${certPath} is not a CA certificate (basicConstraints CA:false)`);
  if (Date.parse(cert.validTo) < Date.now())
    throw new TrustMaterialError(`${certField}: ${certPath} expired on ${cert.validTo}; a new root is trust rotate --root`);
  try {
    if (!cert.checkPrivateKey(createPrivateKey(root.keyPem))) throw new TrustMaterialError(`${keyField}: ${keyPath} is not the key of ${certPath}`);
  } catch (error) {
    if (error instanceof TrustMaterialError) throw error;
    throw new TrustMaterialError(`${keyField}: ${keyPath} is not a private key (${(error as Error).message})`);
  }
  return root;
}

// A usable bundle under `root` in `dir`, with its intermediate's fingerprint (undefined: none there, or not one).
function usableBundle(dir: string, rootPem: string): { bundle: CaBundle; fingerprint: string } | undefined {
  const bundle = readBundle(dir);
  if (!bundle || bundleProblem(bundle) !== undefined) return undefined;
  if (fingerprint(bundle['root-cert.pem']) !== fingerprint(rootPem)) return undefined;
  return { bundle, fingerprint: fingerprint(bundle['ca-cert.pem']) };
}

// A directory for keys: made 0700 when mesh-run makes it; one that is already there is never chmod-ed (it may
// be the user's), and is refused when others may enter it.
export function privateDir(path: string): void {
  if (!existsSync(path)) {
    mkdirSync(path, { recursive: true, mode: 0o700 });
    return;
  }
  const mode = statSync(path).mode & 0o777;
  if (mode & 0o077)
    throw new TrustMaterialError(
      `${path} is open to others (mode ${mode.toString(8)}): CA keys are written only into a private directory; chmod 700 it or move the keys elsewhere`,
    );
}

const modeOf = (file: keyof CaBundle) => (file === 'ca-key.pem' ? 0o600 : 0o644);

function writeBundle(dir: string, bundle: CaBundle): void {
  privateDir(dir);
  for (const file of BUNDLE_FILES) writePrivate(join(dir, file), bundle[file], modeOf(file));
}

// The bundle an earlier attempt staged for `cluster` under this root, if any: the resumed step reuses it.
export function stagedBundle(keysDir: string, cluster: string, rootPem: string): { bundle: CaBundle; fingerprint: string } | undefined {
  return usableBundle(join(keysDir, cluster, STAGED), rootPem);
}

// Stages a new bundle: written into a directory of its own, then renamed to next/ at once, so a crash leaves
// either the whole bundle staged or none of it.
export function stageBundle(keysDir: string, cluster: string, bundle: CaBundle): string {
  // keysDir holds no key of this step's: made (0700) if absent, else left as it is.
  privateDir(join(keysDir, cluster));
  const staged = join(keysDir, cluster, STAGED);
  const tmp = `${staged}.${process.pid}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  writeBundle(tmp, bundle);
  rmSync(staged, { recursive: true, force: true });
  renameSync(tmp, staged);
  return staged;
}

// The bundle whose intermediate has this fingerprint: staged, or already promoted.
export function bundleWithFingerprint(keysDir: string, cluster: string, rootPem: string, fp: string): CaBundle | undefined {
  for (const dir of [join(keysDir, cluster, STAGED), join(keysDir, cluster)]) {
    const found = usableBundle(dir, rootPem);
    if (found?.fingerprint === fp) return found.bundle;
  }
  return undefined;
}

// Once cacerts holds the new intermediate, the cluster's files follow it: the bundle there moves to
// retired/<fingerprint>/, the staged one takes its place, next/ goes. Idempotent: a crash anywhere in it is
// finished by running it again (the retired copy is made whole before the cluster's files are overwritten).
export function promoteBundle(keysDir: string, cluster: string, rootPem: string, fp: string): { retired?: string } {
  const clusterDir = join(keysDir, cluster);
  const stagedDir = join(clusterDir, STAGED);
  const staged = usableBundle(stagedDir, rootPem);
  const current = readBundle(clusterDir);
  const currentFp = current ? safeFingerprint(current['ca-cert.pem']) : undefined;
  if (!staged || staged.fingerprint !== fp) {
    if (currentFp === fp && usableBundle(clusterDir, rootPem)) return {};
    throw new TrustMaterialError(`${stagedDir} no longer holds intermediate ${fp.slice(0, 16)} that cacerts now holds`);
  }
  let retired: string | undefined;
  if (current && currentFp && currentFp !== fp) {
    retired = join(clusterDir, RETIRED, currentFp.slice(0, 16));
    if (!readBundle(retired)) {
      privateDir(join(clusterDir, RETIRED));
      writeBundle(retired, current);
    }
  }
  privateDir(clusterDir);
  for (const file of BUNDLE_FILES) writePrivate(join(clusterDir, file), staged.bundle[file], modeOf(file));
  rmSync(stagedDir, { recursive: true, force: true });
  return retired ? { retired } : {};
}

function safeFingerprint(pem: string): string | undefined {
  try {
    return fingerprint(pem);
  } catch {
    return undefined;
  }
}
