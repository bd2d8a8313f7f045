// Where the CA of a cluster comes from: the user's files, or a root and intermediate mesh-run generates.
// Generated keys stay in memory unless trust.outputDir names a directory (the config loader names mesh-run's
// own per-user one when several primaries need the root kept); there they are written 0600 in directories
// made 0700, and a re-run (or a resumed run) reuses them instead of minting a different CA.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { TrustConfig } from '../../../shared/model.js';
import { bundleProblem, type CaBundle, type RootCa } from './ca-files.js';

// The generator (and its X.509 library) loads only when a CA is generated.
const generator = () => import('./ca.js');

export const BUNDLE_FILES = ['ca-cert.pem', 'ca-key.pem', 'root-cert.pem', 'cert-chain.pem'] as const;

export class TrustMaterialError extends Error {}

// Istio's tools/certs layout: <dir>/<cluster>/{ca-cert,ca-key,root-cert,cert-chain}.pem.
export function readBundle(dir: string): CaBundle | undefined {
  if (!BUNDLE_FILES.every((f) => existsSync(join(dir, f)))) return undefined;
  const read = (file: keyof CaBundle) => readFileSync(join(dir, file), 'utf8');
  return {
    'ca-cert.pem': read('ca-cert.pem'),
    'ca-key.pem': read('ca-key.pem'),
    'root-cert.pem': read('root-cert.pem'),
    'cert-chain.pem': read('cert-chain.pem'),
  };
}

// The CA files the user pointed at; checked before anything runs.
export function bundleFromFiles(caDir: string, cluster: string): CaBundle {
  const dir = join(caDir, cluster);
  const bundle = readBundle(dir);
  if (!bundle) {
    const missing = BUNDLE_FILES.filter((f) => !existsSync(join(dir, f)));
    throw new TrustMaterialError(
      `trust.caDir: ${dir} lacks ${missing.join(', ')}; it needs the four files Istio's "make -f Makefile.selfsigned.mk ${cluster}-cacerts" writes`,
    );
  }
  const problem = bundleProblem(bundle);
  if (problem) throw new TrustMaterialError(`trust.caDir: ${dir}: ${problem}`);
  return bundle;
}

export function writePrivate(path: string, text: string, mode: number): void {
  // Written whole or not at all: a crash never leaves half a key that a re-run would trust. The temporary file
  // is new ('wx'): a link planted at its name is not followed, and the mode is the file's from its first byte.
  const tmp = `${path}.${process.pid}.tmp`;
  rmSync(tmp, { force: true });
  writeFileSync(tmp, text, { mode, flag: 'wx' });
  renameSync(tmp, path);
}

// Several primaries of one run ask for the root at once: they must all get the same one, made once.
const rootsMaking = new Map<string, Promise<RootCa>>();

function rootIn(dir: string, trust: Extract<TrustConfig, { source: 'generate' }>): Promise<RootCa> {
  const key = resolve(dir);
  let making = rootsMaking.get(key);
  if (!making) {
    making = loadOrMakeRoot(dir, trust).finally(() => rootsMaking.delete(key));
    rootsMaking.set(key, making);
  }
  return making;
}

async function loadOrMakeRoot(dir: string, trust: Extract<TrustConfig, { source: 'generate' }>): Promise<RootCa> {
  const certPath = join(dir, 'root-cert.pem');
  const keyPath = join(dir, 'root-key.pem');
  if (existsSync(certPath) && existsSync(keyPath)) return { certPem: readFileSync(certPath, 'utf8'), keyPem: readFileSync(keyPath, 'utf8') };
  const root = await (await generator()).generateRoot(trust);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writePrivate(keyPath, root.keyPem, 0o600);
  writePrivate(certPath, root.certPem, 0o644);
  return root;
}

// A bundle an earlier run generated into outputDir, if there is one; refused when it is unusable.
export function checkReusableBundle(outputDir: string, cluster: string): CaBundle | undefined {
  const dir = join(outputDir, cluster);
  const existing = readBundle(dir);
  if (!existing) return undefined;
  const problem = bundleProblem(existing);
  if (problem) throw new TrustMaterialError(`trust.outputDir: ${dir} holds a CA mesh-run cannot use: ${problem}; move it away to generate a new one`);
  return existing;
}

// The cacerts bundle for one cluster, per the trust config.
export async function bundleFor(trust: TrustConfig, cluster: string): Promise<{ bundle: CaBundle; origin: string }> {
  if (trust.source === 'files') return { bundle: bundleFromFiles(trust.caDir, cluster), origin: `files in ${join(trust.caDir, cluster)}` };
  if (!trust.outputDir) {
    const { generateRoot, generateIntermediate } = await generator();
    const root = await generateRoot(trust);
    return { bundle: await generateIntermediate(root, cluster, trust), origin: 'generated in memory (keys not kept)' };
  }
  const dir = join(trust.outputDir, cluster);
  const existing = checkReusableBundle(trust.outputDir, cluster);
  if (existing) return { bundle: existing, origin: `reused from ${dir}` };
  const root = await rootIn(trust.outputDir, trust);
  const bundle = await (await generator()).generateIntermediate(root, cluster, trust);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const file of BUNDLE_FILES) writePrivate(join(dir, file), bundle[file], file === 'ca-key.pem' ? 0o600 : 0o644);
  return { bundle, origin: `generated into ${dir}` };
}
