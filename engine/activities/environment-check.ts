// Before a run against real clusters is recorded: the preflight step, run once without a journal.
// Whatever it finds wrong (missing tools, unknown or silent contexts, a loopback API server) is an
// environment problem: exit 3, no run created, nothing changed in any cluster.
import { setMaxListeners } from 'node:events';
import type { ClusterTools, Command, CommandResult } from '../../adapters/cluster-tools.js';
import { PreconditionError, StepError } from '../../shared/errors.js';
import type { MeshConfig } from '../../shared/model.js';
import { type AnswerBook, askOnce } from './answer-book.js';
import { preflight } from './install.js';
import { istioOwners, MESH_RUN_OWNER } from './mesh-inventory.js';
import type { StepRuntime } from './step-runtime.js';

// A step runtime that journals nothing: checks made before any run is recorded. `book` keeps their answers
// for the run's own preflight; the same check asked twice gets one process.
export function directRuntime(config: MeshConfig, tools: ClusterTools, book?: AnswerBook): StepRuntime {
  const signal = new AbortController().signal;
  // Preflight asks every cluster at once, all under this one signal.
  setMaxListeners(0, signal);
  const options = { signal, timeoutMs: Math.min(config.timeouts.commandMs, 60_000), step: 'preflight' as const, cluster: '*' };
  return {
    signal,
    now: Date.now,
    note: () => {},
    observe: async () => {},
    report: async () => {},
    run: askOnce(async (command) => {
      const startedAt = Date.now();
      const result = await tools.run(command, options);
      book?.record(command, { result, startedAt, endedAt: Date.now() });
      return result;
    }),
    pipe: (source, sink) => tools.pipe(source, sink, options),
    presentToken: (probe) => tools.presentToken(probe, options),
  };
}

// A probe that cannot run (a tool missing, a timeout) answers like a failed command, for checks that report
// what they could not learn rather than stop at it.
export function probing(rt: StepRuntime): (command: Command) => Promise<CommandResult> {
  return async (command) => {
    try {
      return await rt.run(command);
    } catch (error) {
      if (error instanceof StepError) return { exitCode: -1, stdout: '', stderr: error.message };
      throw error;
    }
  };
}

// `checkRemoteServers`: install only; verify and uninstall do not create remote secrets.
export async function checkEnvironment(config: MeshConfig, tools: ClusterTools, checkRemoteServers = true): Promise<void> {
  try {
    await preflight(
      directRuntime(config, tools),
      {
        runId: '',
        step: 'preflight',
        cluster: '*',
        context: config.clusters[0]?.context ?? '',
        clusters: config.clusters.map((c) => ({ name: c.name, context: c.context })),
        checkRemoteServers,
      },
      { config },
    );
  } catch (error) {
    if (error instanceof StepError) throw new PreconditionError('preflight', error.message, error.hint ? { hint: error.hint } : {});
    throw error;
  }
}

// Uninstall removes every Istio on its clusters (--purge): refuse clusters whose Istio mesh-run did not install.
export async function checkOwnership(config: MeshConfig, tools: ClusterTools): Promise<void> {
  const rt = directRuntime(config, tools);
  for (const cluster of config.clusters) {
    let owners: string[];
    try {
      owners = await istioOwners(rt, cluster.context);
    } catch (error) {
      if (error instanceof StepError) throw new PreconditionError('preflight', `cannot read what is installed on ${cluster.name}: ${error.message}`);
      throw error;
    }
    const foreign = owners.filter((o) => !MESH_RUN_OWNER.test(o));
    if (foreign.length > 0) {
      throw new PreconditionError(
        'foreign-mesh',
        `cluster ${cluster.name} (context "${cluster.context}") holds an Istio install that mesh-run did not make (owner: ${foreign.join(', ')}); uninstall refuses to purge it`,
        {
          hint: 'check the contexts in the config; add --force to remove that Istio anyway',
        },
      );
    }
  }
}
