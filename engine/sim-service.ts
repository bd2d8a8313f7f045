// mesh-run sim kubectl|istioctl: one command, typed by hand, against a simulated cluster of a journal mesh (a
// dry-run install or adoption), so an operator (or a test) can change a rehearsal mesh as they would a real
// one: delete a secret, remove a label, move a gateway. It changes the world only: no run, nothing journaled.
import type { CommandResult, Tool } from '../adapters/cluster-tools.js';
import { PreconditionError, UsageError } from '../shared/errors.js';
import type { MeshCluster, MeshConfig } from '../shared/model.js';
import { listOf, nearest } from '../shared/words.js';
import type { RunRecord } from '../store/contract.js';
import { openStore, type StoreLocation, toolsFor, worldSettings } from './composition.js';
import { meshInstall } from './run-queries.js';
import { membershipConfig } from './views/run-config.js';
import { installRunOf } from './views/run-lookup.js';

export interface SimCommandRequest {
  tool: Tool;
  meshRef: string;
  // A cluster of the mesh, by its name or its kube context.
  context: string;
  // The tool's own arguments, passed on untouched (after the --context mesh-run puts first).
  args: readonly string[];
  stdin?: string;
  store: StoreLocation;
}

// The mesh's run and cluster the request names, read from a store opened read-only: a real mesh, a cluster
// not of the mesh or no arguments are refused before anything is opened for writing.
async function target(request: SimCommandRequest): Promise<{ run: RunRecord; config: MeshConfig; cluster: MeshCluster }> {
  if (request.args.length === 0)
    throw new UsageError(
      `no ${request.tool} arguments: give them after --, e.g. mesh-run sim ${request.tool} --mesh <mesh> --context <cluster> -- ${example(request.tool)}`,
    );
  const store = await openStore(request.store, 'read-only');
  try {
    const run = await installRunOf(store.runs, await meshInstall(store.runs, request.meshRef));
    if (run.mode !== 'dry-run') throw new UsageError(`mesh ${request.meshRef} runs on real clusters: use ${request.tool} itself`);
    const config = membershipConfig(run);
    return { run, config, cluster: clusterNamed(config, request.meshRef, request.context) };
  } finally {
    await store.close();
  }
}

const example = (tool: Tool) => (tool === 'kubectl' ? 'get pods -A' : 'remote-clusters');

// A member of the mesh by its name or its context; the error says which there are.
function clusterNamed(config: MeshConfig, mesh: string, given: string): MeshCluster {
  const found = config.clusters.find((c) => c.name === given) ?? config.clusters.find((c) => c.context === given);
  if (found) return found;
  const valid = config.clusters.map((c) => (c.context === c.name ? c.name : `${c.name} (context ${c.context})`));
  const near = nearest(
    given,
    config.clusters.flatMap((c) => [c.name, c.context]),
  );
  throw new UsageError(
    `--context "${given}": mesh ${mesh} has no such cluster or context${near ? ` (did you mean ${near}?)` : ''}; its clusters: ${listOf(valid)}`,
  );
}

export async function simCommand(request: SimCommandRequest): Promise<CommandResult> {
  const { run, config, cluster } = await target(request);
  const store = await openStore(request.store, 'existing');
  try {
    if (!(await worldSettings(store, run.simWorld)))
      throw new PreconditionError('no-world', `mesh ${request.meshRef}: its simulated clusters (world ${run.simWorld}) are not in this store`);
    const tools = await toolsFor('dry-run', config, store, run.simWorld);
    // mesh-run's --context first: a --context among the user's own arguments comes later and wins, as kubectl's
    // last flag does.
    const args = [`--context=${cluster.context}`, ...request.args];
    // No run, so no runId or leaseToken: the world takes the command unfenced, as a real API server takes
    // kubectl typed by hand while a run is going. A run's driver is fenced against other drivers, not against
    // the operator; it finds what the command changed as it would find a person's change on a real cluster.
    // Without a runId the command also takes none of the failures injected for a run's steps.
    return await tools.run(
      { tool: request.tool, args, context: cluster.context, ...(request.stdin !== undefined ? { stdin: request.stdin } : {}) },
      { signal: new AbortController().signal, timeoutMs: config.timeouts.commandMs, step: 'preflight', cluster: cluster.name },
    );
  } finally {
    await store.close();
  }
}
