// ClusterTools over simulated clusters kept in the store: the dry run behaves like kubectl and istioctl would.

import { waveNumber } from '../../machines/steps.js';
import { outwaitBusy } from '../../shared/busy-wait.js';
import { sleep } from '../../shared/sleep.js';
import type { WorldLease, WorldObjects, WorldStore } from '../../store/contract.js';
import type { ClusterTools, Command, CommandResult, RunOptions } from '../cluster-tools.js';
import { tokenTransportRefusal } from '../token-probe.js';
import { faultAppliesEffect, faultResult, isFaultPoint } from './faults.js';
import { runIstioctl } from './istioctl-sim.js';
import { runKubectl } from './kubectl-sim.js';
import { modelledDuration } from './latency-model.js';
import { SimCluster } from './sim-cluster.js';
import { parseWorldSettings, type WorldSettings } from './world.js';

export interface SimulatedToolsOptions {
  store: WorldStore;
  world: string;
  now?: () => number;
}

// A driver's command reaches the world only while the driver's lease holds its run (checked atomically
// with the call), as the journal row written before it was.
function leaseOf(options: Pick<RunOptions, 'runId' | 'leaseToken'>): WorldLease | undefined {
  return options.runId && options.leaseToken ? { runId: options.runId, fence: options.leaseToken } : undefined;
}

function abortIfNeeded(signal: AbortSignal): void {
  if (signal.aborted) throw signal.reason ?? new Error('aborted');
}

function settingsOf(json: string | undefined, world: string): WorldSettings {
  const found = parseWorldSettings(json);
  if (!found) throw new Error(`simulated world ${world} does not exist`);
  return found;
}

// Builds the dry-run adapter for one simulated world.
export function createSimulatedTools({ store, world, now = Date.now }: SimulatedToolsOptions): ClusterTools {
  // One command: an atomic call against the world, failures injected where the step's action is.
  const execute = (objects: WorldObjects, command: Command, options: RunOptions): CommandResult => {
    const current = settingsOf(objects.settings(), world);
    const env = {
      settings: current,
      cluster: (context: string) => {
        const ctx = current.contexts.find((c) => c.name === context);
        return ctx ? new SimCluster(objects, world, ctx, current, now) : undefined;
      },
    };
    const run = () => (command.tool === 'kubectl' ? runKubectl(env, command.args, command.stdin) : runIstioctl(env, command.args, command.stdin));
    // Failures are injected into a run's steps: a command of no run (typed by hand, "mesh-run sim kubectl")
    // takes none, whatever step it is filed under.
    if (options.runId !== undefined && isFaultPoint(options.step, command)) {
      const target = current.contexts.find((c) => c.name === command.context);
      // An upgrade's wave steps are named by wave (await-wave@wave-2), whichever clusters their commands reach.
      const fault = objects.takeFault(options.step, waveNumber(options.cluster) !== undefined ? options.cluster : (target?.cluster ?? options.cluster));
      if (fault) {
        if (faultAppliesEffect(options.step)) run();
        return faultResult(options.step, fault.kind, command);
      }
    }
    return run();
  };

  // Takes time like a real child process would, so signals and the journal get their turn.
  const settle = async (options: RunOptions, command: Command): Promise<void> => {
    abortIfNeeded(options.signal);
    const settings = settingsOf(await store.getWorld(world), world);
    const latency = settings.latencyModel ? modelledDuration(command, settings.latencyModel) : settings.commandLatencyMs;
    if (latency > 0) await sleep(latency, options.signal);
    else await new Promise((resolve) => setImmediate(resolve));
    abortIfNeeded(options.signal);
  };

  // One command's effect on the clusters, under the driver's lease. The simulated clusters live in the journal's
  // database: a command waits out another driver's lock there, as a journal write does.
  const transact = <T>(options: RunOptions, fn: (objects: WorldObjects) => T): Promise<T> =>
    outwaitBusy(
      () => store.transact(world, fn, leaseOf(options)),
      () => options.signal?.aborted === true,
    );

  return {
    mode: 'dry-run',
    run: async (command, options) => {
      await settle(options, command);
      return transact(options, (objects) => execute(objects, command, options));
    },
    pipe: async (source, sink, options) => {
      await settle(options, source);
      return transact(options, (objects) => {
        const produced = execute(objects, source, options);
        // Like a shell pipe without pipefail: the sink always runs, on whatever the source wrote.
        const consumed = execute(objects, { ...sink, stdin: produced.stdout }, options);
        return { source: { exitCode: produced.exitCode, stderr: produced.stderr }, sink: consumed };
      });
    },
    // The API server behind `server` authenticates the token as the real one's legacy token authenticator does.
    presentToken: async (probe, options) => {
      abortIfNeeded(options.signal);
      const refused = tokenTransportRefusal(probe.server);
      if (refused) return { refused };
      await new Promise((resolve) => setImmediate(resolve));
      return store.transact(
        world,
        (objects) => {
          const current = settingsOf(objects.settings(), world);
          const ctx = current.contexts.find((c) => c.server === probe.server);
          if (!ctx || ctx.unreachable) return { error: `dial tcp ${probe.server.replace(/^https?:\/\//, '')}: i/o timeout` };
          if (!new SimCluster(objects, world, ctx, current, now).accepts(probe.token)) return { status: 401 };
          // The simulator models no RBAC: a token it accepts may read what istiod reads.
          return probe.access ? { status: 200, allowed: true } : { status: 200 };
        },
        leaseOf(options),
      );
    },
  };
}
