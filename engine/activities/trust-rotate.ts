// The steps of trust rotate --intermediate, on one primary at a time. Keys never leave two places: the mesh's
// trust directory (0600 files in 0700 directories) and kubectl's stdin (marked sensitive: never journaled).
// cacerts is read for its certificates only (ca-key.pem is never requested); the journal gets fingerprints and
// dates: the step outputs, the run's events, and one observation of cacerts per primary.
import { X509Certificate } from 'node:crypto';
import type { MintedIntermediate, TrustRotateStepInput } from '../../machines/trust-rotate-types.js';
import type { StepDone } from '../../machines/types.js';
import { StepError } from '../../shared/errors.js';
import type { TrustRotateSpec } from '../../shared/model.js';
import { sleep } from '../../shared/sleep.js';
import { commandFailed } from './failures.js';
import { type ActivityDeps, CACERTS, waitForDeployment } from './install-common.js';
import { type Inventory, MESH_RUN, SUBJECTS } from './inventory.js';
import { istiodOf, loadingOf, publishedRoot, readIstiod, servedChainExpiry } from './istiod-chain.js';
import { ISTIO_SYSTEM, isNotFound, mustSucceed } from './kube-ops.js';
import { kubectl, type StepRuntime } from './step-runtime.js';
import { type CaBundle, fingerprint, type RootCa } from './trust/ca-files.js';
import { printsDetail } from './trust/cacerts-prints.js';
import { TrustMaterialError } from './trust/material.js';
import { bundleWithFingerprint, promoteBundle, rootFor, stageBundle, stagedBundle, trustDirOf } from './trust/rotation-files.js';
import { cacertsManifest } from './trust/trust-activity.js';
import { CACERTS_JSONPATH, cacertsFromJsonpath } from './trust-audit.js';

const POLL_MS = 1_000;
const short = (fp: string) => fp.slice(0, 16);

function specOf(deps: ActivityDeps): TrustRotateSpec {
  const spec = deps.config.trustRotate;
  if (!spec) throw new StepError('a trust-rotate run without its trustRotate section (internal error)');
  return spec;
}

function material<T>(make: () => T): T {
  try {
    return make();
  } catch (error) {
    if (error instanceof TrustMaterialError) throw new StepError(error.message, { hint: 'fix the files named, then resume' });
    throw error;
  }
}

const rootOf = (deps: ActivityDeps): RootCa => material(() => rootFor(specOf(deps), trustDirOf(deps.config.trust)));

export type HeldCacerts = Awaited<ReturnType<typeof heldCacerts>>;

// cacerts as the primary holds it: its owner label, mesh-run's fingerprint annotation, its certificates.
export async function heldCacerts(rt: StepRuntime, input: { cluster: string; context: string }) {
  const read = { ...kubectl(input.context, ['get', 'secret', CACERTS, '-n', ISTIO_SYSTEM, '-o', CACERTS_JSONPATH], 'observe'), sensitiveStdout: true };
  const result = await rt.run(read);
  if (isNotFound(result)) return undefined;
  if (result.exitCode !== 0) throw commandFailed(`kubectl get secret ${CACERTS} on ${input.cluster}`, result);
  const held = cacertsFromJsonpath(result.stdout);
  const safe = (pem: string | undefined) => {
    try {
      return pem ? fingerprint(pem) : undefined;
    } catch {
      return undefined;
    }
  };
  return { ...held, caFingerprint: safe(held.caCert), rootFingerprint: safe(held.rootCert) };
}

// Whether cacerts is a user's: the journal saw it there before mesh-run acted (an adopted mesh's, one kept by
// install), and mesh-run has not replaced it since (its label, and its annotation naming the intermediate held).
export function usersCacerts(held: NonNullable<HeldCacerts>, inventory: Inventory | undefined, cluster: string): boolean {
  const ours = held.managedBy === MESH_RUN && held.fingerprintAnnotation !== undefined && held.fingerprintAnnotation === held.caFingerprint;
  if (ours) return false;
  return inventory?.preexisting(cluster, SUBJECTS.cacerts, held.managedBy === MESH_RUN) ?? held.managedBy !== MESH_RUN;
}

function minted(bundle: CaBundle, rt: StepRuntime): MintedIntermediate {
  const cert = new X509Certificate(bundle['ca-cert.pem']);
  return {
    fingerprint: fingerprint(bundle['ca-cert.pem']),
    notAfter: new Date(cert.validTo).toISOString(),
    rootFingerprint: fingerprint(bundle['root-cert.pem']),
    finishedAt: rt.now(),
  };
}

// mint-intermediate: a new intermediate for this primary, signed by the root cacerts already holds; staged in
// the trust directory. A bundle an earlier attempt staged is reused: a resumed rotation never mints twice.
export async function mintIntermediate(rt: StepRuntime, input: TrustRotateStepInput, deps: ActivityDeps): Promise<MintedIntermediate> {
  const spec = specOf(deps);
  const root = rootOf(deps);
  const rootFp = fingerprint(root.certPem);
  const held = await heldCacerts(rt, input);
  if (!held?.caFingerprint) {
    throw new StepError(
      `${input.cluster} holds no cacerts with an intermediate in ${ISTIO_SYSTEM}: istiod signs with its own CA, there is no plugged-in intermediate to rotate`,
      {
        hint: 'plug in a common root first (install with trust:), then rotate',
      },
    );
  }
  if (held.rootFingerprint !== rootFp) {
    throw new StepError(
      `cacerts on ${input.cluster} chains to root ${short(held.rootFingerprint ?? 'none')}, not to the root given (${short(rootFp)}): an intermediate rotation keeps the root`,
      { hint: 'give the root cacerts holds (--root-cert/--root-key); a new root is "trust rotate --root" (not supported yet: issue 31, item 3)' },
    );
  }
  const staged = stagedBundle(spec.keysDir, input.cluster, root.certPem);
  if (staged) {
    rt.note(`${input.cluster}: reusing intermediate ${short(staged.fingerprint)} staged by an earlier attempt`, 'info');
    return minted(staged.bundle, rt);
  }
  const { generateIntermediate } = await import('./trust/ca.js');
  const made = await generateIntermediate(root, input.cluster, {
    keySize: spec.keySize,
    rootDays: spec.intermediateDays,
    intermediateDays: spec.intermediateDays,
  });
  // root-cert.pem byte for byte as cacerts holds it: istiod compares the bytes, and a root-cert.pem that differs
  // in any byte (a newline) makes it ignore the whole update as a root change (pilot/pkg/bootstrap/istio_ca.go).
  const heldRoot = held.rootCert as string;
  const bundle: CaBundle = { ...made, 'root-cert.pem': heldRoot, 'cert-chain.pem': `${made['ca-cert.pem']}${heldRoot}` };
  const dir = material(() => stageBundle(spec.keysDir, input.cluster, bundle));
  const out = minted(bundle, rt);
  await rt.report(
    'intermediate-minted',
    `new intermediate ${short(out.fingerprint)} for ${input.cluster} (until ${out.notAfter.slice(0, 10)}), staged in ${dir}`,
  );
  return out;
}

function mintedOf(input: TrustRotateStepInput): MintedIntermediate {
  if (!input.minted) throw new StepError(`${input.step} ran before mint-intermediate on ${input.cluster} (internal error)`);
  return input.minted;
}

// plug-intermediate: cacerts replaced by the staged bundle (server-side apply: no last-applied copy of the
// keys), as mesh-run's own object; then the trust directory follows it, and the journal observes it.
export async function plugIntermediate(rt: StepRuntime, input: TrustRotateStepInput, deps: ActivityDeps): Promise<StepDone> {
  const spec = specOf(deps);
  const next = mintedOf(input);
  const root = rootOf(deps);
  const held = await heldCacerts(rt, input);
  if (held?.fingerprintAnnotation !== next.fingerprint || held.caFingerprint !== next.fingerprint) {
    const users = held !== undefined && usersCacerts(held, deps.inventory, input.cluster);
    if (users && !spec.force) {
      throw new StepError(`secret ${ISTIO_SYSTEM}/${CACERTS} on ${input.cluster} was there before mesh-run: it is not mesh-run's to replace`, {
        hint: 'trust rotate --force replaces it (a new run)',
      });
    }
    const bundle = bundleWithFingerprint(spec.keysDir, input.cluster, root.certPem, next.fingerprint);
    if (!bundle) {
      throw new StepError(`the new intermediate ${short(next.fingerprint)} of ${input.cluster} is no longer in ${spec.keysDir}/${input.cluster}/next`, {
        hint: `mint it again: mesh-run resume <run> --from mint-intermediate@${input.cluster}`,
      });
    }
    if (users) await rt.report('overwrote', `--force: replacing cacerts on ${input.cluster}, which was there before mesh-run`);
    const data = Object.fromEntries(Object.entries(bundle).map(([f, v]) => [f, Buffer.from(v).toString('base64')])) as Record<keyof CaBundle, string>;
    const apply = kubectl(
      input.context,
      ['apply', '--server-side', '--force-conflicts', '--field-manager=mesh-run', '-f', '-'],
      'act-if-missing',
      cacertsManifest(next.fingerprint, data),
    );
    await mustSucceed(rt, { ...apply, sensitiveStdin: true }, `kubectl apply of secret ${CACERTS} on ${input.cluster}`);
    const after = await heldCacerts(rt, input);
    if (after?.caFingerprint !== next.fingerprint)
      throw new StepError(`cacerts on ${input.cluster} does not hold intermediate ${short(next.fingerprint)} after applying it`, { retryable: true });
  }
  const { retired } = material(() => promoteBundle(spec.keysDir, input.cluster, root.certPem, next.fingerprint));
  await rt.observe({
    cluster: input.cluster,
    subject: SUBJECTS.cacerts,
    present: true,
    owner: MESH_RUN,
    detail: { fingerprint: next.fingerprint, notAfter: next.notAfter, rootFingerprint: next.rootFingerprint },
  });
  // What cacerts carries now, as install records it after plugging in: what drift compares cacerts with.
  await rt.observe({
    cluster: input.cluster,
    subject: SUBJECTS.cacertsCerts,
    present: true,
    owner: MESH_RUN,
    detail: printsDetail({ root: next.rootFingerprint, intermediate: next.fingerprint, intermediateNotAfter: new Date(next.notAfter).toISOString() }),
  });
  rt.note(`cacerts on ${input.cluster}: intermediate ${short(next.fingerprint)}${retired ? ` (the one it replaces kept in ${retired})` : ''}`, 'info');
  return { finishedAt: rt.now() };
}

const expiryOf = (m: MintedIntermediate) => Math.round(Date.parse(m.notAfter) / 1000);

// load-intermediate: istiod signs with the new intermediate. One that reloads plugged-in CA files and says so
// is left to do it; any other is restarted, as install would after cacerts changed.
export async function loadIntermediate(rt: StepRuntime, input: TrustRotateStepInput, deps: ActivityDeps): Promise<StepDone> {
  const next = mintedOf(input);
  const served = await servedChainExpiry(rt, input.context, input.revision);
  if (served === expiryOf(next)) {
    rt.note(`istiod on ${input.cluster} already signs with intermediate ${short(next.fingerprint)}`, 'info');
    return { finishedAt: rt.now() };
  }
  const istiod = istiodOf(input.revision);
  const deployment = await readIstiod(rt, input.context, input.revision);
  if (!deployment) throw new StepError(`deployment ${ISTIO_SYSTEM}/${istiod} is missing on ${input.cluster}: no istiod to load the new intermediate`);
  // An istiod that reports no plugged-in chain started without cacerts: it signs with its own CA and watches no
  // cacerts files (pilot/pkg/bootstrap/istio_ca.go sets the watch up only for a plugged-in CA; istio/istio#57853).
  const loading =
    served === undefined
      ? { how: 'restart' as const, why: 'it reports no plugged-in CA chain, so it started without cacerts and watches none' }
      : loadingOf(deployment);
  if (loading.how === 'reload') {
    rt.note(`${input.cluster}: ${loading.why}: no restart`, 'info');
    return { finishedAt: rt.now() };
  }
  await mustSucceed(
    rt,
    kubectl(input.context, ['-n', ISTIO_SYSTEM, 'rollout', 'restart', `deployment/${istiod}`], 'act'),
    `rollout restart of ${istiod} on ${input.cluster}`,
  );
  await rt.report('istiod-restarted', `restarted ${istiod} on ${input.cluster}: ${loading.why}`);
  await waitForDeployment(rt, input.context, istiod, deps);
  return { finishedAt: rt.now() };
}

// await-istiod-chain, the gate before the next primary: istiod reports the new intermediate's expiry as its
// chain's, and still publishes the same root.
export async function awaitIstiodChain(rt: StepRuntime, input: TrustRotateStepInput): Promise<StepDone> {
  const next = mintedOf(input);
  const deadline = rt.now() + input.gateTimeoutMs;
  let served: number | undefined;
  let root: string | undefined;
  for (;;) {
    [served, root] = await Promise.all([servedChainExpiry(rt, input.context, input.revision), publishedRoot(rt, input.context)]);
    if (served === expiryOf(next) && root === next.rootFingerprint) {
      rt.note(`istiod on ${input.cluster} serves intermediate ${short(next.fingerprint)} under root ${short(root)}`, 'info');
      return { finishedAt: rt.now() };
    }
    if (rt.now() >= deadline) break;
    rt.note(`istiod on ${input.cluster} does not serve the new chain yet`, 'wait');
    await sleep(POLL_MS, rt.signal);
  }
  const seen = served === undefined ? 'reports no chain' : `reports a chain expiring ${new Date(served * 1000).toISOString()}`;
  throw new StepError(
    `istiod on ${input.cluster} ${seen}, not the new intermediate's (${next.notAfter})${root === next.rootFingerprint ? '' : `, and publishes root ${short(root ?? 'none')}, not ${short(next.rootFingerprint)}`}`,
    {
      retryable: true,
      hint: `kubectl --context=${input.context} -n ${ISTIO_SYSTEM} rollout restart deployment/${istiodOf(input.revision)}, then mesh-run resume`,
    },
  );
}
