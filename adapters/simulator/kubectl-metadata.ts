// kubectl annotate and kubectl label: the same edit of an object's metadata, each in its own words.
import type { CommandResult } from '../cluster-tools.js';
import { fail, notFound, ok } from './kubectl-result.js';
import { nameOf, resourceType } from './objects.js';
import type { SimCluster } from './sim-cluster.js';

// What kubectl annotate and kubectl label say, each in its own words.
const METADATA_VERBS = {
  annotations: {
    verb: 'annotate',
    done: 'annotated',
    badPair: (pair: string) => `error: invalid annotation format: ${pair}`,
    taken: (key: string, old: string) => `error: --overwrite is false but found the following declared annotation(s): '${key}' already has a value (${old})`,
  },
  labels: {
    verb: 'label',
    done: 'labeled',
    badPair: (pair: string) => `error: invalid label spec: ${pair}`,
    taken: (key: string, old: string) => `error: '${key}' already has a value (${old}), and --overwrite is false`,
  },
} as const;

// kubectl annotate / label <type> <name> k=v...: both refuse to replace a different value without --overwrite
// (older kubectl refused even an equal one).
export function setMetadata(field: 'annotations' | 'labels', cluster: SimCluster, positionals: string[], namespace: string, overwrite: boolean): CommandResult {
  const words = METADATA_VERBS[field];
  const [typeName, name, ...pairs] = positionals;
  const type = typeName ? resourceType(typeName) : undefined;
  if (!type || !name) return fail(`error: you must specify the type and name of the resource to ${words.verb}`);
  const obj = cluster.get(type, namespace, name);
  if (!obj) return fail(notFound(type, name));
  const values = { ...(obj.metadata[field] ?? {}) };
  for (const pair of pairs) {
    // key- removes the key; a missing key is not an error.
    if (/^[^=]+-$/.test(pair)) {
      delete values[pair.slice(0, -1)];
      continue;
    }
    const eq = pair.indexOf('=');
    if (eq <= 0) return fail(words.badPair(pair));
    const key = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    if (!overwrite && key in values && values[key] !== value) return fail(words.taken(key, values[key] as string));
    values[key] = value;
  }
  const metadata = { ...obj.metadata, [field]: values };
  if (Object.keys(values).length === 0) delete metadata[field];
  cluster.replace({ ...obj, metadata });
  return ok(`${nameOf(type, name)} ${words.done}\n`);
}
