// ClusterTools over simulated clusters kept in SQLite: the dry run behaves like kubectl and istioctl would.
import { sleep } from '../../shared/sleep.js';
import type { SimStore } from '../../store/sim-store.js';
import type { ClusterTools, Command, CommandResult, RunOptions } from '../cluster-tools.js';
import { faultAppliesEffect, faultResult, isFaultPoint } from './faults.js';
import { runIstioctl } from './istioctl-sim.js';
import { runKubectl } from './kubectl-sim.js';
import { modelledDuration } from './latency-model.js';
import { SimCluster } from './sim-cluster.js';
import { readWorld, type WorldSettings } from './world.js';

export interface SimulatedToolsOptions {
  store: SimStore;
  world: string;
  now?: () => number;
}

function abortIfNeeded(signal: AbortSignal): void {
  if (signal.aborted) throw signal.reason ?? new Error('aborted');
}

// Builds the dry-run adapter for one simulated world.
export function createSimulatedTools({ store, world, now = Date.now }: SimulatedToolsOptions): ClusterTools {
  const settings = (): WorldSettings => {
    const found = readWorld(store, world);
    if (!found) throw new Error(`simulated world ${world} does not exist`);
    return found;
  };

  const execute = (command: Command, options: RunOptions): CommandResult => {
    return store.atomically(() => {
      const current = settings();
      const env = {
        settings: current,
        cluster: (context: string) => {
          const ctx = current.contexts.find((c) => c.name === context);
          return ctx ? new SimCluster(store, world, ctx, current, now) : undefined;
        },
      };
      const run = () => (command.tool === 'kubectl' ? runKubectl(env, command.args, command.stdin) : runIstioctl(env, command.args, command.stdin));
      if (isFaultPoint(options.step, command)) {
        const target = current.contexts.find((c) => c.name === contextOf(command));
        const fault = store.takeFault(world, options.step, target?.cluster ?? options.cluster);
        if (fault) {
          if (faultAppliesEffect(options.step)) run();
          return faultResult(options.step, fault.kind, command);
        }
      }
      return run();
    });
  };

  const settle = async <T>(options: RunOptions, command: Command, fn: () => T): Promise<T> => {
    abortIfNeeded(options.signal);
    // Take time like a real child process would, so signals and the journal get their turn.
    const world = settings();
    const latency = world.latencyModel ? modelledDuration(command, world.latencyModel) : world.commandLatencyMs;
    if (latency > 0) await sleep(latency, options.signal);
    else await new Promise((resolve) => setImmediate(resolve));
    abortIfNeeded(options.signal);
    return fn();
  };

  return {
    mode: 'dry-run',
    run: (command, options) => settle(options, command, () => execute(command, options)),
    pipe: (source, sink, options) =>
      settle(options, source, () => {
        const produced = execute(source, options);
        // Like a shell pipe without pipefail: the sink always runs, on whatever the source wrote.
        const consumed = execute({ ...sink, stdin: produced.stdout }, options);
        return { source: { exitCode: produced.exitCode, stderr: produced.stderr }, sink: consumed };
      }),
  };
}

function contextOf(command: Command): string {
  return command.context;
}
