// repair-trust: the mesh's CA plugged into a primary again through install's establish-trust (the CA read from
// the mesh's trust directory: the files it was given, or what mesh-run generated and kept there), then istiod
// restarted only if the root it publishes is not the mesh's: istiod reloads a changed intermediate by itself but
// never a new root (lifecycle-next.md §4). The keys travel only on kubectl's stdin, never to the journal.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { RepairStepInput } from '../../machines/repair-machine.js';
import type { StepDone } from '../../machines/types.js';
import { StepError } from '../../shared/errors.js';
import type { TrustConfig } from '../../shared/model.js';
import { rootFingerprint } from './discovery-reads.js';
import { type ActivityDeps, CACERTS, waitForDeployment } from './install-common.js';
import { publishedRoot } from './istiod-chain.js';
import { ISTIO_SYSTEM, mustSucceed } from './kube-ops.js';
import { istiodName } from './revision-ops.js';
import { kubectl, type StepRuntime } from './step-runtime.js';
import type { CaBundle } from './trust/ca-files.js';
import { printsOf, readCacerts } from './trust/cacerts-prints.js';
import { bundleFor, bundleFromFiles, checkReusableBundle, TrustMaterialError } from './trust/material.js';
import { establishTrust } from './trust/trust-activity.js';

// Why the mesh's CA cannot be plugged into `cluster` again, before a run is recorded (undefined: it can). Only
// the mesh's own CA is put back: the files it was given, or what mesh-run generated and kept (its intermediate,
// or the root to sign a new one under); never a new root, and never a CA of the user's it holds no copy of.
export function caMaterialProblem(trust: TrustConfig | undefined, cluster: string): string | undefined {
  if (!trust)
    return `the journal saw cacerts on ${cluster} before mesh-run acted (your own CA: the mesh has no trust: section), and mesh-run keeps no copy of it to put back`;
  try {
    if (trust.source === 'files') {
      // Read and checked (in memory only), as install checks them before it starts.
      bundleFromFiles(trust.caDir, cluster);
      return undefined;
    }
    if (!trust.outputDir)
      return `the mesh's CA was generated in memory and not kept (trust: has no outputDir): a new one would not be the root the mesh trusts; "mesh-run trust" moves a mesh to a new root`;
    if (checkReusableBundle(trust.outputDir, cluster)) return undefined;
    if (existsSync(join(trust.outputDir, 'root-cert.pem')) && existsSync(join(trust.outputDir, 'root-key.pem'))) return undefined;
    return `trust.outputDir ${trust.outputDir} holds neither ${cluster}'s CA nor the mesh's root (root-cert.pem, root-key.pem): put them back there, then repair again`;
  } catch (error) {
    if (error instanceof TrustMaterialError) return error.message;
    throw error;
  }
}

async function meshBundle(deps: ActivityDeps, cluster: string): Promise<CaBundle> {
  const trust = deps.config.trust;
  if (!trust) throw new StepError(`repair-trust on ${cluster} ran without a trust: section (internal error)`);
  try {
    return (await bundleFor(trust, cluster)).bundle;
  } catch (error) {
    if (error instanceof TrustMaterialError) throw new StepError(error.message, { hint: 'fix the files named, then resume' });
    throw error;
  }
}

export async function repairTrust(rt: StepRuntime, input: RepairStepInput, deps: ActivityDeps): Promise<StepDone> {
  const bundle = await meshBundle(deps, input.cluster);
  const wanted = printsOf({ rootCert: bundle['root-cert.pem'], caCert: bundle['ca-cert.pem'] });
  // What cacerts carries now, by its public certificates (never its key): a fingerprint annotation left on
  // replaced data would say nothing.
  const seen = await readCacerts(rt, input.context);
  if (seen.exists && (seen.prints.root !== wanted.root || seen.prints.intermediate !== wanted.intermediate)) {
    const held = `root ${seen.prints.root?.slice(0, 16) ?? '(unreadable)'}, intermediate ${seen.prints.intermediate?.slice(0, 16) ?? '(unreadable)'}${seen.managedBy ? '' : ', not made by mesh-run'}`;
    const mesh = `the mesh's CA (root ${wanted.root?.slice(0, 16)}, intermediate ${wanted.intermediate?.slice(0, 16)})`;
    if (!input.forceCacerts)
      throw new StepError(`secret ${ISTIO_SYSTEM}/${CACERTS} on ${input.cluster} holds ${held}, not ${mesh}`, {
        hint: `"mesh-run repair --force" replaces it with the mesh's CA (the replacement is journaled); to keep it, make it the mesh's CA ("mesh-run trust")`,
      });
    // Journaled before acting: the secret replaced is on record even if the run dies right after.
    await rt.report('overwrote', `secret ${ISTIO_SYSTEM}/${CACERTS} on ${input.cluster}: ${held} -> ${mesh} (repair --force)`);
    await mustSucceed(
      rt,
      kubectl(input.context, ['-n', ISTIO_SYSTEM, 'delete', 'secret', CACERTS, '--ignore-not-found'], 'act'),
      `kubectl delete secret ${CACERTS} on ${input.cluster}`,
    );
  }
  await establishTrust(rt, input, deps, true);
  const root = rootFingerprint(bundle['root-cert.pem']);
  const before = await publishedRoot(rt, input.context, 'observe');
  if (before === root) {
    rt.note(`istiod on ${input.cluster} already signs under the mesh's root ${root?.slice(0, 16)}: not restarted`, 'info');
    return { finishedAt: rt.now() };
  }
  // istiod reads a new root only when it starts.
  rt.note(`istiod on ${input.cluster} publishes root ${before?.slice(0, 16) ?? 'none'}, not the mesh's ${root?.slice(0, 16)}: restarting it`, 'info');
  const istiod = istiodName(input.revision ?? 'default');
  await mustSucceed(
    rt,
    kubectl(input.context, ['-n', ISTIO_SYSTEM, 'rollout', 'restart', `deployment/${istiod}`], 'act'),
    `kubectl rollout restart deployment/${istiod} on ${input.cluster}`,
  );
  await waitForDeployment(rt, input.context, istiod, deps);
  const after = await publishedRoot(rt, input.context, 'verify');
  if (after !== root)
    throw new StepError(`istiod on ${input.cluster} publishes root ${after?.slice(0, 16) ?? 'none'} after its restart, not the mesh's ${root?.slice(0, 16)}`, {
      retryable: true,
    });
  return { finishedAt: rt.now() };
}
