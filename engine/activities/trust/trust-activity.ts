// establish-trust: the cacerts secret in istio-system of the cluster that runs istiod, before istiod starts.
// The secret's data travels only on kubectl's stdin (marked sensitive: never journaled or shown);
// the fingerprint annotation lets a re-run tell whose CA is already there without reading any key.
import type { PrimaryStepInput, TrustOutcome } from '../../../machines/types.js';
import { StepError } from '../../../shared/errors.js';
import { commandFailed } from '../failures.js';
import type { ActivityDeps } from '../install.js';
import { CACERTS, ISTIO_SYSTEM } from '../install.js';
import { MANAGED_BY, MESH_RUN, SUBJECTS } from '../inventory.js';
import { annotationValue, createNamespaceIfMissing, getJson } from '../kube-ops.js';
import { kubectl, type StepRuntime } from '../step-runtime.js';
import { type CaBundle, fingerprint } from './ca-files.js';
import { type CacertsPrints, printsDetail, printsOf, readCacerts } from './cacerts-prints.js';
import { BUNDLE_FILES, bundleFor, bundleFromFiles, TrustMaterialError } from './material.js';

export const FINGERPRINT_ANNOTATION = 'mesh-run.io/ca-fingerprint';

// The cacerts Secret as mesh-run creates it: its label says mesh-run made it (uninstall may delete it), its
// annotation whose CA it holds. `plan -o sh` builds its script's Secret from this same function.
export function cacertsManifest(fp: string, data: Readonly<Record<keyof CaBundle, string>>): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: { name: CACERTS, namespace: ISTIO_SYSTEM, labels: { [MANAGED_BY]: MESH_RUN }, annotations: { [FINGERPRINT_ANNOTATION]: fp } },
    data: Object.fromEntries(BUNDLE_FILES.map((f) => [f, data[f]])),
  });
}

function secretManifest(bundle: CaBundle, fp: string): string {
  const data = Object.fromEntries(BUNDLE_FILES.map((f) => [f, Buffer.from(bundle[f]).toString('base64')])) as Record<keyof CaBundle, string>;
  return cacertsManifest(fp, data);
}

// Whether cacerts exists, and mesh-run's fingerprint annotation on it: asked by name and by that one key,
// so neither the keys nor a last-applied copy of them is ever read.
async function installedFingerprint(rt: StepRuntime, context: string, purpose: 'observe' | 'verify'): Promise<{ exists: boolean; fingerprint?: string }> {
  const found = await annotationValue(rt, context, ['secret', CACERTS, '-n', ISTIO_SYSTEM], FINGERPRINT_ANNOTATION, `secret ${CACERTS}`, purpose);
  if (!found.exists) return { exists: false };
  return found.value ? { exists: true, fingerprint: found.value } : { exists: true };
}

// The fingerprint the config's CA must have, when it can be known without generating anything.
function expectedFingerprint(deps: ActivityDeps, cluster: string): string | undefined {
  const trust = deps.config.trust;
  if (trust?.source !== 'files') return undefined;
  return fingerprint(bundleFromFiles(trust.caDir, cluster)['ca-cert.pem']);
}

function material(error: unknown): never {
  if (error instanceof TrustMaterialError) throw new StepError(error.message, { hint: 'fix the files named, then resume' });
  throw error;
}

// `restarts`: the caller restarts istiod itself when it must (a repair), so no advice to do it is noted.
export async function establishTrust(rt: StepRuntime, input: PrimaryStepInput, deps: ActivityDeps, restarts = false): Promise<TrustOutcome> {
  const trust = deps.config.trust;
  if (!trust) throw new StepError('establish-trust ran without a trust: section (internal error)');
  const before = await installedFingerprint(rt, input.context, 'observe');
  let expected: string | undefined;
  try {
    expected = expectedFingerprint(deps, input.cluster);
  } catch (error) {
    material(error);
  }
  if (before.exists) return recordKept(rt, input, keepExisting(rt, input, before.fingerprint, expected));

  let bundle: CaBundle;
  let origin: string;
  try {
    ({ bundle, origin } = await bundleFor(trust, input.cluster));
  } catch (error) {
    material(error);
  }
  const fp = fingerprint(bundle['ca-cert.pem']);
  await createNamespaceIfMissing(rt, input.context, ISTIO_SYSTEM, input.cluster);
  // create, not apply: apply would copy the keys into a last-applied-configuration annotation.
  const create = { ...kubectl(input.context, ['create', '-f', '-'], 'act-if-missing', secretManifest(bundle, fp)), sensitiveStdin: true };
  const created = await rt.run(create);
  if (created.exitCode !== 0 && !/AlreadyExists/.test(created.stderr)) throw commandFailed(`kubectl create secret ${CACERTS} on ${input.cluster}`, created);
  const after = await installedFingerprint(rt, input.context, 'verify');
  if (!after.exists) throw new StepError(`secret ${ISTIO_SYSTEM}/${CACERTS} is missing on ${input.cluster} after creating it`, { retryable: true });
  if (after.fingerprint !== fp) return recordKept(rt, input, keepExisting(rt, input, after.fingerprint, expected));
  await recordCerts(rt, input.cluster, printsOf({ rootCert: bundle['root-cert.pem'], caCert: bundle['ca-cert.pem'] }));
  rt.note(`cacerts on ${input.cluster}: CA ${fp.slice(0, 16)} (${origin})`, 'info');
  if (!restarts) await warnIfIstiodRunning(rt, input);
  return { fingerprint: fp, finishedAt: rt.now() };
}

// A cacerts secret is already there: keep it when it is mesh-run's and matches the config, refuse otherwise.
function keepExisting(rt: StepRuntime, input: PrimaryStepInput, found: string | undefined, expected: string | undefined): TrustOutcome {
  if (!found) {
    throw new StepError(`secret ${ISTIO_SYSTEM}/${CACERTS} already exists on ${input.cluster} and was not created by mesh-run`, {
      hint: `if it holds the CA you want, remove trust: from the config; otherwise delete it (kubectl --context=${input.context} -n ${ISTIO_SYSTEM} delete secret ${CACERTS}) and resume`,
    });
  }
  if (expected && found !== expected) {
    throw new StepError(
      `secret ${ISTIO_SYSTEM}/${CACERTS} on ${input.cluster} holds CA ${found.slice(0, 16)}, not the configured CA ${expected.slice(0, 16)}; replacing a mesh's CA breaks mTLS until every workload restarts`,
      {
        hint: 'point trust.caDir at the CA in use, or delete the secret and resume to switch CAs deliberately',
      },
    );
  }
  rt.note(`cacerts on ${input.cluster} already holds CA ${found.slice(0, 16)}; kept`, 'info');
  return { fingerprint: found, finishedAt: rt.now() };
}

// The fingerprints of what cacerts now carries, journaled for drift (trust/cacerts-prints.ts). Under a subject
// of their own: this run's first observation of cacerts, made before it was created, is the one that stands.
async function recordCerts(rt: StepRuntime, cluster: string, prints: CacertsPrints): Promise<void> {
  await rt.observe({ cluster, subject: SUBJECTS.cacertsCerts, present: true, owner: MESH_RUN, detail: printsDetail(prints) });
}

// A kept cacerts' fingerprints are read back (its public certificates only): this run did not make them.
async function recordKept(rt: StepRuntime, input: PrimaryStepInput, kept: TrustOutcome): Promise<TrustOutcome> {
  await recordCerts(rt, input.cluster, (await readCacerts(rt, input.context)).prints);
  return kept;
}

async function warnIfIstiodRunning(rt: StepRuntime, input: PrimaryStepInput): Promise<void> {
  const istiod = input.revision ? `istiod-${input.revision}` : 'istiod';
  if (await getJson<object>(rt, input.context, ['deployment', istiod, '-n', ISTIO_SYSTEM], `deployment ${istiod}`)) {
    rt.note(
      `istiod was already running on ${input.cluster}: it reads cacerts at start, so restart it (kubectl -n ${ISTIO_SYSTEM} rollout restart deployment/${istiod})`,
      'info',
    );
  }
}
