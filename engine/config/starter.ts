// mesh-run init: a commented starting config for a topology, from the example that ships with mesh-run,
// with the contexts the operator gave. Comments survive (the YAML is edited as a document, not re-dumped).
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isMap, isSeq, parseDocument } from 'yaml';
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
// installation's schema file.
export function starterConfig(topology: StarterTopology, contexts: ReadonlyMap<string, string>): string {
  // contexts: from parseContextFlags against starterClusters(topology), or asked on a terminal.
  const doc = parseDocument(readExample(topology));
  const clusters = doc.get('clusters');
  if (isSeq(clusters)) {
    clusters.items.forEach((item, i) => {
      const name = isMap(item) ? String(item.get('name')) : '';
      if (contexts.has(name)) doc.setIn(['clusters', i, 'context'], contexts.get(name));
    });
  } else {
    // The primary/remotes form of the page's topology.
    const primary = doc.get('primary');
    const primaryName = isMap(primary) ? String(primary.get('name') ?? 'cluster1') : 'cluster1';
    if (contexts.has(primaryName)) doc.setIn(['primary', 'context'], contexts.get(primaryName));
    const remotes = doc.get('remotes');
    if (isSeq(remotes)) {
      remotes.items.forEach((item, i) => {
        const name = isMap(item) ? String(item.get('name') ?? `cluster${i + 2}`) : '';
        if (contexts.has(name)) doc.setIn(['remotes', i, 'context'], contexts.get(name));
      });
    }
  }
  const schema = `${examplesDir()}mesh-run.schema.json`;
  return doc.toString({ lineWidth: 0 }).replace(/^# yaml-language-server: \$schema=.*$/m, `# yaml-language-server: $schema=${schema}`);
}

function readExample(topology: StarterTopology): string {
  const file = `${examplesDir()}${topology}.yaml`;
  if (!existsSync(file)) throw new UsageError(`--topology ${topology}: this installation has no ${file}; reinstall mesh-run`);
  return readFileSync(file, 'utf8');
}
