// `mesh-run plan`: the commands a run with this config would issue, obtained by rehearsing the real
// workflow (same machine, same step activities) against fresh simulated clusters in memory.
// Plan and execution therefore cannot drift: they are one code path.
import type { ClusterTools, Command } from '../adapters/cluster-tools.js';
import { createSimulatedTools } from '../adapters/simulator/simulated-tools.js';
import { createWorld } from '../adapters/simulator/world.js';
import { MACHINE_VERSION } from '../machines/install-machine.js';
import { stepSlots, type StepId } from '../machines/steps.js';
import { openDb } from '../store/open-db.js';
import { createSimStore } from '../store/sim-store.js';
import { createSqliteRunStore } from '../store/sqlite-run-store.js';
import type { RunRecord } from '../store/types.js';
import type { MeshConfig } from './config.js';
import { RunDriver } from './run-driver.js';

export interface PlannedCommand {
  step: StepId;
  cluster: string;
  command: Command;
  // Set for a pipe: the command the first one's stdout is streamed into.
  pipeTo?: Command;
}

export interface Plan {
  commands: PlannedCommand[];
  // The gateway address the rehearsal saw; a script refers to it as ${DISCOVERY_ADDRESS} instead.
  rehearsedAddress?: string;
}

const PLAN_RUN = 'mr-plan';

function recording(inner: ClusterTools, out: PlannedCommand[], plan: Plan): ClusterTools {
  return {
    mode: inner.mode,
    async run(command, options) {
      out.push({ step: options.step, cluster: options.cluster, command });
      const result = await inner.run(command, options);
      if (command.waitFor && result.exitCode === 0) {
        const ip = (JSON.parse(result.stdout) as { status?: { loadBalancer?: { ingress?: Array<{ ip?: string }> } } }).status?.loadBalancer?.ingress?.[0]?.ip;
        if (ip) plan.rehearsedAddress = ip;
      }
      return result;
    },
    pipe(source, sink, options) {
      out.push({ step: options.step, cluster: options.cluster, command: source, pipeTo: sink });
      return inner.pipe(source, sink, options);
    },
  };
}

export async function planInstall(config: MeshConfig): Promise<Plan> {
  const db = openDb(':memory:');
  try {
    const store = createSqliteRunStore(db);
    const sim = createSimStore(db);
    const now = Date.now();
    store.createRun({ id: PLAN_RUN, kind: 'install', topology: 'primary-remote', mode: 'dry-run', configJson: JSON.stringify(config), configHash: 'plan', configPath: null, createdAt: now, machineVersion: MACHINE_VERSION }, { user: 'plan', host: 'plan', pid: process.pid });
    createWorld(sim, PLAN_RUN, [config.primary, ...config.remotes], { loadBalancer: { mode: 'ip', delayMs: 0 } }, now);
    const plan: Plan = { commands: [] };
    const tools = recording(createSimulatedTools({ store: sim, world: PLAN_RUN }), plan.commands, plan);
    const driver = new RunDriver({ store, tools, config, run: store.getRun(PLAN_RUN) as RunRecord });
    const outcome = await driver.start();
    if (outcome.status !== 'succeeded') throw new Error(`the rehearsal of this config did not succeed: ${outcome.error?.message ?? outcome.status}`);
    // Regions ran side by side; a plan reads best in page order, per step and cluster (a stable sort).
    const order = stepSlots(config.primary.name, config.remotes.map((r) => r.name)).map((s) => `${s.step}@${s.cluster}`);
    plan.commands.sort((a, b) => order.indexOf(`${a.step}@${a.cluster}`) - order.indexOf(`${b.step}@${b.cluster}`));
    return plan;
  } finally {
    db.close();
  }
}
