// kubectl apply -f - and create -f -: manifests from stdin, client-side or server-side.
import { parseAllDocuments } from 'yaml';
import type { CommandResult } from '../cluster-tools.js';
import { fail, ok } from './kubectl-result.js';
import { invalidReason, type KubeObject, nameOf, pluralOf, type ResourceType, resourceType, typeOfKind } from './objects.js';
import { LAST_APPLIED } from './secret-data.js';
import type { SimCluster } from './sim-cluster.js';

function parseManifest(manifest: string): KubeObject[] | CommandResult {
  try {
    return parseAllDocuments(manifest)
      .map((d) => {
        if (d.errors.length > 0) throw new Error(d.errors[0]?.message ?? 'invalid YAML');
        return d.toJS() as KubeObject | null;
      })
      .filter((d): d is KubeObject => d !== null && typeof d === 'object');
  } catch (error) {
    return fail(`error: error parsing STDIN: ${(error as Error).message.split('\n')[0]}`);
  }
}

// kubectl create -f -: like apply, but an object that exists is an AlreadyExists error.
export function create(cluster: SimCluster, manifest: string, namespace: string | undefined): CommandResult {
  const docs = parseManifest(manifest);
  if (!Array.isArray(docs)) return docs;
  const lines: string[] = [];
  for (const doc of docs) {
    const type = typeOfKind(doc.kind, doc.apiVersion);
    if (!type || !doc.metadata?.name)
      return {
        exitCode: 1,
        stdout: lines.join(''),
        stderr: `error: unable to recognize "STDIN": no matches for kind "${doc.kind}" in version "${doc.apiVersion}"\n`,
      };
    const target = type.namespaced ? (doc.metadata.namespace ?? namespace ?? 'default') : '';
    if (cluster.get(type, target, doc.metadata.name)) {
      return {
        exitCode: 1,
        stdout: lines.join(''),
        stderr: `Error from server (AlreadyExists): error when creating "STDIN": ${pluralOf(type)} "${doc.metadata.name}" already exists\n`,
      };
    }
    if (type.namespaced && !cluster.get(resourceType('namespace') as ResourceType, '', target)) {
      return { exitCode: 1, stdout: lines.join(''), stderr: `Error from server (NotFound): error when creating "STDIN": namespaces "${target}" not found\n` };
    }
    const invalid = invalidReason(doc);
    if (invalid) return { exitCode: 1, stdout: lines.join(''), stderr: `Error from server (Invalid): error when creating "STDIN": ${invalid}\n` };
    cluster.put(type.namespaced ? { ...doc, metadata: { ...doc.metadata, namespace: target } } : doc);
    lines.push(`${nameOf(type, doc.metadata.name)} created\n`);
  }
  return ok(lines.join(''));
}

export interface ApplyMode {
  serverSide: boolean;
  manager?: string;
}

// Labels and annotations set by others survive an apply: client-side apply drops only the keys its
// previous apply set (recorded in the last-applied annotation), server-side apply only those it owns.
function mergeMetadata(doc: KubeObject, existing: KubeObject | undefined, mode: ApplyMode): KubeObject['metadata'] {
  const meta = { ...doc.metadata };
  if (!existing) return meta;
  let previous: KubeObject['metadata'] | undefined;
  try {
    previous = (JSON.parse(existing.metadata.annotations?.[LAST_APPLIED] ?? 'null') as KubeObject | null)?.metadata;
  } catch {
    previous = undefined;
  }
  for (const field of ['labels', 'annotations'] as const) {
    const kept: Record<string, string> = {};
    for (const [k, v] of Object.entries(existing.metadata[field] ?? {})) {
      const setBefore = !mode.serverSide && previous?.[field]?.[k] !== undefined;
      if (!setBefore) kept[k] = v;
    }
    const merged = { ...kept, ...(doc.metadata[field] ?? {}) };
    if (Object.keys(merged).length > 0) meta[field] = merged;
  }
  return meta;
}

export function apply(cluster: SimCluster, manifest: string, namespace: string | undefined, mode: ApplyMode): CommandResult {
  const docs = parseManifest(manifest);
  if (!Array.isArray(docs)) return docs;
  if (docs.length === 0) return fail('error: no objects passed to apply');
  const lines: string[] = [];
  for (const doc of docs) {
    const type = typeOfKind(doc.kind, doc.apiVersion);
    if (!type || !doc.metadata?.name) {
      return {
        exitCode: 1,
        stdout: lines.join(''),
        stderr: `error: resource mapping not found for name: "${doc.metadata?.name ?? ''}" namespace: "${namespace ?? ''}" from "STDIN": no matches for kind "${doc.kind}" in version "${doc.apiVersion}"\nensure CRDs are installed first\n`,
      };
    }
    if (type.namespaced) {
      const target = doc.metadata.namespace ?? namespace ?? 'default';
      if (namespace && doc.metadata.namespace && doc.metadata.namespace !== namespace) {
        return fail(
          `error: the namespace from the provided object "${doc.metadata.namespace}" does not match the namespace "${namespace}". You must pass '--namespace=${doc.metadata.namespace}' to perform this operation.`,
        );
      }
      if (!cluster.get(resourceType('namespace') as ResourceType, '', target)) {
        return { exitCode: 1, stdout: lines.join(''), stderr: `Error from server (NotFound): error when creating "STDIN": namespaces "${target}" not found\n` };
      }
      doc.metadata = { ...doc.metadata, namespace: target };
    }
    const invalid = invalidReason(doc);
    if (invalid) return { exitCode: 1, stdout: lines.join(''), stderr: `Error from server (Invalid): error when creating "STDIN": ${invalid}\n` };
    const existing = cluster.get(type, doc.metadata.namespace ?? '', doc.metadata.name);
    const applied: KubeObject = { ...doc, metadata: mergeMetadata(doc, existing, mode) };
    const annotations = { ...(applied.metadata.annotations ?? {}) };
    if (!mode.serverSide) {
      // Client-side apply keeps a copy of the whole object it applied, as kubectl does.
      annotations[LAST_APPLIED] = `${JSON.stringify(doc)}\n`;
    } else if (existing?.metadata.annotations?.[LAST_APPLIED] !== undefined && mode.manager === 'kubectl') {
      // The API server keeps an existing copy up to date only for kubectl's own field manager.
      annotations[LAST_APPLIED] = `${JSON.stringify(doc)}\n`;
    }
    if (Object.keys(annotations).length > 0) applied.metadata.annotations = annotations;
    const outcome = cluster.put(applied);
    lines.push(`${nameOf(type, doc.metadata.name)} ${mode.serverSide ? 'serverside-applied' : outcome}\n`);
  }
  return ok(lines.join(''));
}
