// Before a run against real clusters is recorded: the preflight step, run once without a journal.
// Whatever it finds wrong (missing tools, unknown or silent contexts, a loopback API server) is an
// environment problem: exit 3, no run created, nothing changed in any cluster.
import { setMaxListeners } from 'node:events';
import type { ClusterTools } from '../adapters/cluster-tools.js';
import { ToolError } from '../adapters/cluster-tools.js';
import { preflight } from './activities.js';
import type { MeshConfig } from './config.js';
import { PreconditionError, StepError } from './errors.js';

export async function checkEnvironment(config: MeshConfig, tools: ClusterTools): Promise<void> {
  const signal = new AbortController().signal;
  // Preflight asks every cluster at once, all under this one signal.
  setMaxListeners(0, signal);
  const options = { signal, timeoutMs: Math.min(config.timeouts.commandMs, 60_000), step: 'preflight' as const, cluster: '*' };
  try {
    await preflight(
      {
        signal,
        now: Date.now,
        note: () => {},
        run: (command) => tools.run(command, options),
        pipe: (source, sink) => tools.pipe(source, sink, options),
      },
      { runId: '', step: 'preflight', cluster: '*', context: config.primary.context, clusters: [config.primary, ...config.remotes] },
      { config },
    );
  } catch (error) {
    if (error instanceof StepError) throw new PreconditionError('preflight', error.message, error.hint ? { hint: error.hint } : {});
    if (error instanceof ToolError) throw new PreconditionError('preflight', error.message);
    throw error;
  }
}
