// Flags that override the config file: --context <cluster>=<context> (repeatable) and --kubeconfig.
// Precedence, highest first: these flags, the config file, CTX_CLUSTER1/CTX_CLUSTER2, the defaults.
import { UsageError } from '../../shared/errors.js';
import { isPathLike, type LoadedConfig } from './mesh-config.js';

export interface ConfigOverrides {
  contexts?: readonly string[];
  kubeconfig?: string;
}

export function hasOverrides(overrides: ConfigOverrides): boolean {
  return (overrides.contexts?.length ?? 0) > 0 || overrides.kubeconfig !== undefined;
}

// --context values as cluster -> context, each well formed and given once; `known` names the clusters there
// are (with `where` saying whose they are, for the message).
export function parseContextFlags(flags: readonly string[], known: readonly string[], where = 'the config'): Map<string, string> {
  const contexts = new Map<string, string>();
  for (const flag of flags) {
    const at = flag.indexOf('=');
    const name = flag.slice(0, at);
    const context = flag.slice(at + 1);
    if (at <= 0 || !isPathLike(context)) {
      throw new UsageError(`--context "${flag}": expected <cluster>=<kube context>, e.g. --context cluster2=kind-east`);
    }
    if (!known.includes(name)) throw new UsageError(`--context ${name}=${context}: ${where} has no cluster "${name}"; its clusters: ${known.join(', ')}`);
    if (contexts.has(name)) throw new UsageError(`--context ${name}: given twice (${contexts.get(name)}, ${context}); give each cluster one context`);
    contexts.set(name, context);
  }
  return contexts;
}

export function applyOverrides(loaded: LoadedConfig, overrides: ConfigOverrides): LoadedConfig {
  if (!hasOverrides(overrides)) return loaded;
  const contexts = parseContextFlags(
    overrides.contexts ?? [],
    loaded.config.clusters.map((c) => c.name),
  );
  if (overrides.kubeconfig !== undefined && !isPathLike(overrides.kubeconfig)) {
    throw new UsageError(`--kubeconfig "${overrides.kubeconfig}": expected the path of a kubeconfig file`);
  }
  const clusters = loaded.config.clusters.map((c) => (contexts.has(c.name) ? { ...c, context: contexts.get(c.name) as string } : c));
  const seen = new Map<string, string>();
  for (const c of clusters) {
    const other = seen.get(c.context);
    if (other) throw new UsageError(`--context: clusters ${other} and ${c.name} would both use context "${c.context}"; give each cluster its own`);
    seen.set(c.context, c.name);
  }
  const tools = overrides.kubeconfig !== undefined ? { ...loaded.config.tools, kubeconfig: overrides.kubeconfig } : loaded.config.tools;
  const config = { ...loaded.config, clusters, tools };
  // The run records the config it acts with, flags applied; the hash stays the file's (resume compares the
  // file with it to see whether the file changed since).
  return { ...loaded, config };
}
