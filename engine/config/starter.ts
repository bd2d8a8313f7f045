// mesh-run init: a commented starting config for a topology, from the example that ships with mesh-run,
// with the contexts the operator gave. Comments survive where they stand (the text is spliced, not re-dumped).
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isMap, isNode, isScalar, isSeq, parseDocument, type YAMLMap } from 'yaml';
import { UsageError } from '../../shared/errors.js';
import { parseConfigText } from './mesh-config.js';

export const STARTER_TOPOLOGIES = ['primary-remote', 'primary-remote-multi-network', 'multi-primary', 'multi-primary-multi-network', 'mixed-fleet'] as const;
export type StarterTopology = (typeof STARTER_TOPOLOGIES)[number];

// The examples directory of this installation (the package ships it next to dist/).
export function examplesDir(): string {
  return fileURLToPath(new URL('../../../examples/', import.meta.url));
}

export interface StarterCluster {
  name: string;
  role: 'primary' | 'remote';
  context: string;
}

// The clusters of a topology's example, as init asks about them.
export function starterClusters(topology: StarterTopology): StarterCluster[] {
  const text = readExample(topology);
  return parseConfigText(text, {}, topology).clusters.map((c) => ({ name: c.name, role: c.role, context: c.context }));
}

// The example's text with each named cluster's context set, and the schema comment pointing at this
// installation's schema file. The text is spliced, never re-dumped: a re-dump moves comments onto the nearest
// node (a top-level "# revision:" ended up indented under remotes[0]), and the starter promises that every
// commented option works uncommented where it stands.
export function starterConfig(topology: StarterTopology, contexts: ReadonlyMap<string, string>): string {
  // contexts: from parseContextFlags against starterClusters(topology), or asked on a terminal.
  const schema = `${examplesDir()}mesh-run.schema.json`;
  return withContexts(readExample(topology), contexts).replace(/^# yaml-language-server: \$schema=.*$/m, `# yaml-language-server: $schema=${schema}`);
}

// A config's text with these clusters' contexts set, every other byte as it was.
export function withContexts(text: string, contexts: ReadonlyMap<string, string>): string {
  const doc = parseDocument(text);
  const edits: Array<{ at: number; end: number; text: string }> = [];
  const setContext = (cluster: unknown, fallbackName: string) => {
    if (!isMap(cluster)) return;
    const name = String(cluster.get('name') ?? fallbackName);
    const context = contexts.get(name);
    if (context !== undefined) edits.push(contextEdit(text, cluster, yamlScalar(context)));
  };
  const clusters = doc.get('clusters');
  if (isSeq(clusters)) {
    for (const item of clusters.items) setContext(item, '');
  } else {
    // The primary/remotes form of the page's topology.
    setContext(doc.get('primary'), 'cluster1');
    const remotes = doc.get('remotes');
    if (isSeq(remotes)) for (const [i, item] of remotes.items.entries()) setContext(item, `cluster${i + 2}`);
  }
  let out = text;
  for (const edit of edits.sort((a, b) => b.at - a.at)) out = out.slice(0, edit.at) + edit.text + out.slice(edit.end);
  return out;
}

// Where a cluster's context goes in the example's text: over the value it has, else after its name.
function contextEdit(text: string, cluster: YAMLMap, value: string): { at: number; end: number; text: string } {
  const pair = cluster.items.find((p) => isScalar(p.key) && p.key.value === 'context');
  const range = pair && isNode(pair.value) ? pair.value.range : undefined;
  if (range) return { at: range[0], end: range[1], text: value };
  const name = cluster.items.find((p) => isScalar(p.key) && p.key.value === 'name');
  const nameKey = name && isNode(name.key) ? name.key.range : undefined;
  const nameValue = name && isNode(name.value) ? name.value.range : undefined;
  if (!nameKey || !nameValue) throw new Error('a starter example names each cluster with name:');
  if (cluster.flow) return { at: nameValue[1], end: nameValue[1], text: `, context: ${value}` };
  // A block mapping: a line of its own under name:, at name's indentation (after name's comment).
  const lineStart = text.lastIndexOf('\n', nameKey[0]) + 1;
  const lineEnd = text.indexOf('\n', nameValue[1]);
  const at = lineEnd === -1 ? text.length : lineEnd;
  return { at, end: at, text: `\n${' '.repeat(nameKey[0] - lineStart)}context: ${value}` };
}

// A context as a YAML scalar: plain when that reads back the same in a flow or block mapping, else
// double-quoted (JSON's quoting is YAML's). EKS contexts hold colons, some hold spaces.
function yamlScalar(value: string): string {
  return /^[A-Za-z0-9_][A-Za-z0-9_./@-]*$/.test(value) && !/^(true|false|null|yes|no|on|off|~)$/i.test(value) && !/^[0-9.]+$/.test(value)
    ? value
    : JSON.stringify(value);
}

function readExample(topology: StarterTopology): string {
  const file = `${examplesDir()}${topology}.yaml`;
  if (!existsSync(file)) throw new UsageError(`--topology ${topology}: this installation has no ${file}; reinstall mesh-run`);
  return readFileSync(file, 'utf8');
}
