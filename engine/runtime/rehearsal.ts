// A run driven against simulated clusters and journaled nowhere that lasts: its journal is a scratch store
// (in memory), its clusters a simulated world that may live elsewhere. `plan` rehearses what a run follows
// this way, and a dry run of a day-2 verb on a real mesh rebuilds the mesh's recorded state like this.
import type { ClusterTools } from '../../adapters/cluster-tools.js';
import type { RunKind } from '../../machines/steps.js';
import { InternalError } from '../../shared/errors.js';
import type { MeshConfig } from '../../shared/model.js';
import type { Store, WorldSeed } from '../../store/contract.js';
import { Inventory } from '../activities/inventory.js';
import { meshTopology } from '../config/mesh-shape.js';
import { workflowOf } from '../kinds/workflows.js';
import { LEASE_STALE_MS } from './lease.js';
import { leaseFor, RunDriver } from './run-driver.js';

const OPERATOR = { user: 'rehearsal', host: 'rehearsal', pid: process.pid };

// Drives a run of `kind` with `config` to success on `tools`, journaled in `scratch` as run `id`; `seed`
// creates its world in `scratch` when the tools act on a world kept there.
export async function driveUnrecorded(
  scratch: Store,
  id: string,
  kind: RunKind,
  config: MeshConfig,
  tools: ClusterTools,
  world: string,
  seed?: WorldSeed,
  // What a rollback puts back: the observations of the run it reverses (in `scratch` too).
  reverses?: string,
): Promise<void> {
  const now = Date.now();
  const leaseToken = `${id}-lease`;
  const claim = { lease: leaseFor(OPERATOR, leaseToken, now), keys: [], staleAfterMs: LEASE_STALE_MS, isAlive: () => true };
  await scratch.runs.createRun(
    {
      id,
      kind,
      topology: meshTopology(config),
      mode: 'dry-run',
      config,
      configHash: 'rehearsal',
      configPath: null,
      createdAt: now,
      machineVersion: workflowOf(kind).version,
      simWorld: world,
    },
    OPERATOR,
    claim,
    seed,
  );
  const run = await scratch.runs.getRun(id);
  if (!run) throw new InternalError(`the rehearsal run ${id} does not read back`);
  const inventory = reverses ? new Inventory(await scratch.runs.listObservations([reverses]), [reverses]) : undefined;
  const driver = new RunDriver({
    store: scratch.runs,
    tools: unfenced(tools),
    config,
    run,
    operator: OPERATOR,
    leaseToken,
    rehearsal: true,
    ...(inventory ? { inventory } : {}),
  });
  const outcome = await driver.start();
  if (outcome.status !== 'succeeded')
    throw new InternalError(`the rehearsal of ${kind} with this config did not succeed: ${outcome.error?.message ?? outcome.status}`);
}

// A rehearsal's journal is a scratch store this process alone holds; its world may live in another store, where
// the rehearsal's run has no row a lease could be checked against. Its commands go to the world unfenced.
function unfenced(tools: ClusterTools): ClusterTools {
  const strip = <T extends { leaseToken?: string }>(options: T): T => {
    const { leaseToken: _, ...rest } = options;
    return rest as T;
  };
  return {
    mode: tools.mode,
    run: (command, options) => tools.run(command, strip(options)),
    pipe: (source, sink, options) => tools.pipe(source, sink, strip(options)),
    presentToken: (probe, options) => tools.presentToken(probe, strip(options)),
  };
}
