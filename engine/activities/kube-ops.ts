// Small kubectl idioms the step activities share: get as JSON (undefined when NotFound), run or fail.

import { stringify } from 'yaml';
import type { Command, CommandPurpose, CommandResult } from '../../adapters/cluster-tools.js';
import { StepError } from '../../shared/errors.js';
import type { MeshConfig } from '../../shared/model.js';
import { commandFailed } from './failures.js';
import { MANAGED_BY, MESH_RUN } from './inventory.js';
import { kubectl, type StepRuntime } from './step-runtime.js';

export const ISTIO_SYSTEM = 'istio-system';

// A namespace as the steps read it.
export interface NamespaceJson {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  status?: { phase?: string };
}

// The timeout (whole seconds) a single kubectl wait or delete may take: timeouts.command.
export function commandTimeoutSeconds(config: MeshConfig): number {
  return Math.max(1, Math.round(config.timeouts.commandMs / 1000));
}

const NOT_FOUND = /\(NotFound\)|not found/i;

export function isNotFound(result: CommandResult): boolean {
  return result.exitCode !== 0 && NOT_FOUND.test(result.stderr);
}

export async function getJson<T>(rt: StepRuntime, context: string, args: string[], what: string, purpose: CommandPurpose = 'observe'): Promise<T | undefined> {
  const result = await rt.run(kubectl(context, ['get', ...args, '-o', 'json'], purpose));
  if (isNotFound(result)) return undefined;
  if (result.exitCode !== 0) throw commandFailed(`kubectl get ${what}`, result);
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new StepError(`kubectl get ${what} printed output that is not JSON`, { retryable: true });
  }
}

// Whether an object exists, asked with -o name: the answer never carries the object's data (for
// Secrets, the only safe way to look).
export async function exists(rt: StepRuntime, context: string, args: string[], what: string, purpose: CommandPurpose = 'observe'): Promise<boolean> {
  const result = await rt.run(kubectl(context, ['get', ...args, '-o', 'name'], purpose));
  if (isNotFound(result)) return false;
  if (result.exitCode !== 0) throw commandFailed(`kubectl get ${what}`, result);
  return result.stdout.trim().length > 0;
}

// The keys of an object's annotations, never their values (a Secret's last-applied copy holds its data);
// undefined when the object does not exist.
export async function annotationKeys(
  rt: StepRuntime,
  context: string,
  args: string[],
  what: string,
  purpose: CommandPurpose = 'observe',
): Promise<string[] | undefined> {
  const template = '{{range $k, $v := .metadata.annotations}}{{$k}}{{"\\n"}}{{end}}';
  const result = await rt.run(kubectl(context, ['get', ...args, '-o', `go-template=${template}`], purpose));
  if (isNotFound(result)) return undefined;
  if (result.exitCode !== 0) throw commandFailed(`kubectl get ${what}`, result);
  return result.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
}

// One annotation's value, selected by key (jsonpath with the key's dots escaped).
export async function annotationValue(
  rt: StepRuntime,
  context: string,
  args: string[],
  key: string,
  what: string,
  purpose: CommandPurpose = 'observe',
): Promise<{ exists: boolean; value: string }> {
  return metadataValue(rt, context, args, 'annotations', key, what, purpose);
}

// One label's value, selected by key.
export async function labelValue(
  rt: StepRuntime,
  context: string,
  args: string[],
  key: string,
  what: string,
  purpose: CommandPurpose = 'observe',
): Promise<{ exists: boolean; value: string }> {
  return metadataValue(rt, context, args, 'labels', key, what, purpose);
}

async function metadataValue(
  rt: StepRuntime,
  context: string,
  args: string[],
  field: 'labels' | 'annotations',
  key: string,
  what: string,
  purpose: CommandPurpose,
): Promise<{ exists: boolean; value: string }> {
  const path = `{.metadata.${field}.${key.replace(/\./g, '\\.')}}`;
  const result = await rt.run(kubectl(context, ['get', ...args, '-o', `jsonpath=${path}`], purpose));
  if (isNotFound(result)) return { exists: false, value: '' };
  if (result.exitCode !== 0) throw commandFailed(`kubectl get ${what}`, result);
  return { exists: true, value: result.stdout.trim() };
}

export async function mustSucceed(rt: StepRuntime, command: Parameters<StepRuntime['run']>[0], what: string, hint?: string): Promise<CommandResult> {
  const result = await rt.run(command);
  if (result.exitCode !== 0) throw commandFailed(what, result, hint);
  return result;
}

// Creates a namespace only when it is missing, labelled as mesh-run's (so uninstall knows it may delete
// it); AlreadyExists (a racing creator) is success. Returns whether this call created it.
export async function createNamespaceIfMissing(
  rt: StepRuntime,
  context: string,
  name: string,
  cluster: string,
  labels: Record<string, string> = {},
): Promise<boolean> {
  if (await getJson<NamespaceJson>(rt, context, ['namespace', name], `namespace ${name}`)) return false;
  const manifest = stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { [MANAGED_BY]: MESH_RUN, ...labels } } });
  const created = await rt.run(kubectl(context, ['create', '-f', '-'], 'act-if-missing', manifest));
  if (created.exitCode !== 0 && !/AlreadyExists/.test(created.stderr)) throw commandFailed(`kubectl create namespace ${name} on ${cluster}`, created);
  return created.exitCode === 0;
}

// A probe that prints mesh-run's label of a namespace: what a script checks before deleting it.
export function ownerProbe(context: string, namespace: string): Command {
  return kubectl(context, ['get', 'namespace', namespace, '-o', `jsonpath={.metadata.labels.${MANAGED_BY.replace(/\./g, '\\.')}}`], 'check');
}

// Whether a namespace (as read) carries mesh-run's label.
export function isMeshRuns(ns: NamespaceJson | undefined): boolean {
  return ns?.metadata?.labels?.[MANAGED_BY] === MESH_RUN;
}
