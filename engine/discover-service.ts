// mesh-run mesh discover: which clusters to read (a config file's, --context flags alone, or a journal mesh's,
// simulated for a dry-run install), then the reads (activities/mesh-discovery.ts) and what they mean
// (activities/discovered-mesh.ts). Reads only; records nothing.
import { UsageError } from '../shared/errors.js';
import type { MeshConfig, RunMode } from '../shared/model.js';
import { type DiscoveryReport, deriveMesh } from './activities/discovered-mesh.js';
import { discoverClusters } from './activities/mesh-discovery.js';
import { openStore, openStoreToRead, realTools, type StoreLocation, toolsFor } from './composition.js';
import { isPathLike, loadConfig } from './config/mesh-config.js';
import { applyOverrides, type ConfigOverrides, parseContextFlags } from './config/overrides.js';
import { meshInstall } from './run-queries.js';
import { membershipConfig } from './views/run-config.js';
import { installRunOf } from './views/run-lookup.js';

export type { DiscoveryFinding, DiscoveryReport } from './activities/discovered-mesh.js';

export interface DiscoverRequest {
  configPath?: string;
  meshRef?: string;
  overrides?: ConfigOverrides;
  store: StoreLocation;
}

// --context flags alone: they name the clusters (roles are what discovery is for, so none is assumed).
function contextsConfig(overrides: ConfigOverrides): MeshConfig {
  const flags = overrides.contexts ?? [];
  const names = flags.map((f) => f.slice(0, Math.max(f.indexOf('='), 0)));
  const contexts = parseContextFlags(flags, names, 'the --context flags');
  if (overrides.kubeconfig !== undefined && !isPathLike(overrides.kubeconfig))
    throw new UsageError(`--kubeconfig "${overrides.kubeconfig}": expected the path of a kubeconfig file`);
  const base = loadConfig(undefined).config;
  const seen = new Map<string, string>();
  for (const [name, context] of contexts) {
    const other = seen.get(context);
    if (other) throw new UsageError(`--context: clusters ${other} and ${name} would both use context "${context}"; give each cluster its own`);
    seen.set(context, name);
  }
  return {
    ...base,
    clusters: [...contexts].map(([name, context]) => ({ name, context, role: 'primary', network: '' })),
    tools: overrides.kubeconfig !== undefined ? { ...base.tools, kubeconfig: overrides.kubeconfig } : base.tools,
  };
}

// The clusters a config file (its roles are not taken from it) or --context flags alone name, and how to say so.
export function clustersToRead(request: Pick<DiscoverRequest, 'configPath' | 'overrides'>, orElse = ''): { config: MeshConfig; target: string } {
  const contexts = request.overrides?.contexts?.length ?? 0;
  if (request.configPath === undefined && contexts === 0)
    throw new UsageError(`no clusters: give -c <config>, --context <cluster>=<context> (repeatable)${orElse ? `, ${orElse}` : ''}`);
  const config =
    request.configPath !== undefined ? applyOverrides(loadConfig(request.configPath), request.overrides ?? {}).config : contextsConfig(request.overrides ?? {});
  return { config, target: request.configPath ?? config.clusters.map((c) => `${c.name}=${c.context}`).join(', ') };
}

export async function discoverMesh(request: DiscoverRequest): Promise<DiscoveryReport & { target: string }> {
  const contexts = request.overrides?.contexts?.length ?? 0;
  if (request.meshRef !== undefined && (request.configPath !== undefined || contexts > 0))
    throw new UsageError('--mesh and --config/--context: give the clusters one way (a journal mesh, or a config and contexts)');
  if (request.meshRef === undefined) {
    const { config, target } = clustersToRead(request, 'or --mesh <a journal mesh>');
    const facts = await discoverClusters(config, await realTools(config));
    return { target, ...deriveMesh(facts) };
  }
  const mode = await meshMode(request.store, request.meshRef);
  const store = await openStoreToRead(request.store, mode);
  try {
    const run = await installRunOf(store.runs, await meshInstall(store.runs, request.meshRef));
    const config = membershipConfig(run);
    const tools = await toolsFor(run.mode, config, store, run.simWorld);
    const facts = await discoverClusters(config, tools);
    return { target: `the ${run.mode === 'dry-run' ? 'simulated ' : ''}clusters of mesh ${request.meshRef}`, ...deriveMesh(facts) };
  } finally {
    await store.close();
  }
}

async function meshMode(location: StoreLocation, ref: string): Promise<RunMode> {
  const store = await openStore(location, 'read-only');
  try {
    return (await installRunOf(store.runs, await meshInstall(store.runs, ref))).mode;
  } finally {
    await store.close();
  }
}
