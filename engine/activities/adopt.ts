// record-existing: an adoption's one step on each cluster. It reads what the cluster runs and journals all
// of it as there before mesh-run (owner: nobody), so uninstall keeps it unless --force and then names it.
// Reads only. Secrets are looked at by name (cacerts: and its public certificates); a re-run records the same
// again (the first record stands).
import type { ClusterStepInput, StepDone } from '../../machines/types.js';
import { StepError } from '../../shared/errors.js';
import { ISTIO_SYSTEM, READER_TOKEN } from './install.js';
import { SUBJECTS, touchedMetadata } from './inventory.js';
import { exists, getJson, type NamespaceJson } from './kube-ops.js';
import { istiodConfigMaps, istioLeftovers, istioSystemWorkloads } from './mesh-inventory.js';
import { SAMPLE_NAMESPACE } from './sample-manifests.js';
import type { StepRuntime } from './step-runtime.js';
import { printsDetail, readCacerts } from './trust/cacerts-prints.js';

interface DeploymentList {
  items?: Array<{ metadata?: { name?: string; labels?: Record<string, string> } }>;
}

// The cluster still runs what adoption found: a primary its istiod, a remote its istio-system.
async function checkRole(rt: StepRuntime, input: ClusterStepInput): Promise<void> {
  const again = `run "mesh-run mesh discover" to see the mesh as it is now, then adopt it again`;
  if (input.role === 'remote') return;
  const deployments = await getJson<DeploymentList>(rt, input.context, ['deployments', '-n', ISTIO_SYSTEM], `deployments in ${ISTIO_SYSTEM}`);
  const istiod = (deployments?.items ?? []).some((d) => d.metadata?.labels?.app === 'istiod' || /^istiod(-|$)/.test(d.metadata?.name ?? ''));
  if (!istiod) throw new StepError(`primary ${input.cluster} runs no istiod any more (it did when the mesh was discovered)`, { retryable: false, hint: again });
}

export async function recordExisting(rt: StepRuntime, input: ClusterStepInput): Promise<StepDone> {
  const { cluster, context } = input;
  const ns = await getJson<NamespaceJson>(rt, context, ['namespace', ISTIO_SYSTEM], `namespace ${ISTIO_SYSTEM}`);
  if (!ns) {
    throw new StepError(`${cluster} has no ${ISTIO_SYSTEM} any more (it had when the mesh was discovered)`, {
      retryable: false,
      hint: 'run "mesh-run mesh discover" to see the mesh as it is now, then adopt it again',
    });
  }
  await checkRole(rt, input);
  // Whatever label says whose it is, an adopted namespace was there before this journal: nobody's.
  await rt.observe({ cluster, subject: SUBJECTS.istioSystem, present: true, owner: null, detail: touchedMetadata(ns.metadata) });
  const configMaps = await istiodConfigMaps(rt, context, 'observe');
  await rt.observe({
    cluster,
    subject: SUBJECTS.istiodConfigMaps,
    present: configMaps.length > 0,
    owner: null,
    detail: configMaps.length > 0 ? Object.fromEntries(configMaps.map((name) => [name, 'present'])) : null,
  });
  const secret = (name: string) => exists(rt, context, ['secret', name, '-n', ISTIO_SYSTEM], `secret ${name}`);
  if (input.role === 'primary') {
    // With the fingerprints of its root and intermediate, what drift compares cacerts with (never its key).
    const ca = await readCacerts(rt, context);
    await rt.observe({ cluster, subject: SUBJECTS.cacerts, present: ca.exists, owner: null, detail: printsDetail(ca.prints) });
  }
  await rt.observe({ cluster, subject: SUBJECTS.readerToken, present: await secret(READER_TOKEN), owner: null, detail: null });
  const sample = await getJson<NamespaceJson>(rt, context, ['namespace', SAMPLE_NAMESPACE], `namespace ${SAMPLE_NAMESPACE}`);
  await rt.observe({ cluster, subject: SUBJECTS.sample, present: sample !== undefined, owner: null, detail: sample ? touchedMetadata(sample.metadata) : null });
  // Every Istio object, whoever made it: what "uninstall --force" of this mesh would delete.
  const found = [...(await istioLeftovers(rt, context, 'observe', { owns: () => true })), ...(await istioSystemWorkloads(rt, context, 'observe'))];
  await rt.observe({
    cluster,
    subject: SUBJECTS.adoptedIstio,
    present: found.length > 0,
    owner: null,
    detail: Object.fromEntries(found.map((item) => [item, 'present'])),
  });
  rt.note(`${cluster}: ${found.length} Istio object${found.length === 1 ? '' : 's'} recorded as there before mesh-run`, 'info');
  return { finishedAt: rt.now() };
}
