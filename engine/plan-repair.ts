// mesh-run plan repair: the commands a repair of a mesh of the journal would run, rehearsed on a simulated copy
// of the mesh with its drift there. The drift check decides the repairs, as repair decides them; a dry-run
// mesh's simulated world is copied as it is now, a real mesh's membership is installed on a new simulated copy
// and its drift made again there (plan-drift.ts). The copy lives in memory: nothing is recorded, no cluster
// and no world of the journal changes.
import type { ClusterTools } from '../adapters/cluster-tools.js';
import { PreconditionError, UsageError } from '../shared/errors.js';
import type { MeshConfig } from '../shared/model.js';
import type { Store, WorldExport } from '../store/contract.js';
import { openStore, toolsFor } from './composition.js';
import { hasOverrides } from './config/overrides.js';
import { installedMesh, rehearsalOf, type Target } from './day2-service.js';
import { inPageOrder, type Plan, type PlannedCommand, recording } from './plan.js';
import { driftCopy } from './plan-drift.js';
import { checkChangeFlags, type PlanRequest } from './plan-request.js';
import { type RehearsalTrust, removeRehearsalTrust, withRehearsalTrust } from './rehearsal-trust.js';
import { checkRepair, type RepairDecision } from './repair-service.js';
import { driveUnrecorded } from './runtime/rehearsal.js';

export interface RepairPlan {
  decision: RepairDecision;
  // Absent when there is nothing to repair.
  plan?: Plan;
  // The repair run's config: the mesh's membership with the repair list.
  config?: MeshConfig;
  // The rehearsal failed here (drift left out by --only, or one this version does not repair, breaks the links
  // the repair checks): the plan lists the commands up to it, and a repair would stop there too.
  stopped?: { step: string; cluster: string; message: string };
}

// The link checks poll until the verify timeout; on the copy they pass at once or not at all (drift left in
// place), so the rehearsal gives up sooner. The plan's commands keep the mesh's own timeout.
const REHEARSAL_VERIFY_MS = 5_000;

const PLAN_RUN = 'mr-plan-repair';

export async function planRepair(request: PlanRequest): Promise<RepairPlan> {
  checkChangeFlags(request);
  if (request.meshRef === undefined || request.configPath !== undefined) {
    throw new UsageError('plan repair: --mesh is required (a repair puts back what drifted on a mesh of the journal; a config file has no clusters)');
  }
  if (hasOverrides(request.overrides)) throw new UsageError('--context and --kubeconfig: plan repair uses the contexts the journal recorded for --mesh');
  const { only, force } = request.change;
  const decision = await checkRepair({ meshRef: request.meshRef, ...(only ? { only } : {}), force: Boolean(force), store: request.store, injections: [] });
  if (decision.repairs.length === 0) return { decision };
  const { config, world } = await meshAsItIs(request);
  const repaired: MeshConfig = { ...config, repair: decision.repairs };
  const scratch = await openStore({ kind: 'sqlite', path: ':memory:' }, 'create');
  let own: Target['trust'];
  try {
    let copy: string;
    if (world) copy = await copied(scratch, world);
    else ({ world: copy, trust: own } = await drifted(scratch, config, decision));
    const plan: Plan = { kind: 'repair', removesMesh: false, commands: [], rehearsedAddresses: {} };
    // The copy's throwaway CA, not the real trust directory, is what the rehearsed repair reads and writes.
    const onCopy = withRehearsalTrust(repaired, own);
    const tools = recording(await toolsFor('dry-run', onCopy, scratch, copy), plan.commands, plan);
    const hurried: MeshConfig = { ...onCopy, verify: { ...onCopy.verify, timeoutMs: Math.min(onCopy.verify.timeoutMs, REHEARSAL_VERIFY_MS) } };
    const stopped = await rehearse(scratch, hurried, tools, copy);
    inPageOrder(plan, repaired);
    plan.commands = asConfigured(plan.commands, repaired);
    return { decision, plan, config: repaired, ...(stopped ? { stopped } : {}) };
  } finally {
    removeRehearsalTrust(own);
    await scratch.close();
  }
}

// The checks as the mesh's verify timeout has them, each polled check once (a check that never passed on the
// copy was asked again until the rehearsal gave up: the plan's script loops on it instead).
function asConfigured(commands: PlannedCommand[], config: MeshConfig): PlannedCommand[] {
  const seconds = Math.max(1, Math.round(config.verify.timeoutMs / 1000));
  const key = (p: PlannedCommand) => JSON.stringify([p.step, p.cluster, p.command.args]);
  return commands.flatMap((p, i) => {
    if (!p.command.check) return [p];
    const previous = commands[i - 1];
    if (previous && key(previous) === key(p)) return [];
    return [{ ...p, command: { ...p.command, check: { ...p.command.check, seconds } } }];
  });
}

// Drives the repair on the copy; where a step of it failed, that step (any other failure is thrown).
async function rehearse(scratch: Store, config: MeshConfig, tools: ClusterTools, world: string): Promise<RepairPlan['stopped']> {
  try {
    await driveUnrecorded(scratch, PLAN_RUN, 'repair', config, tools, world);
    return undefined;
  } catch (error) {
    const run = await scratch.runs.getRun(PLAN_RUN);
    if (run?.status !== 'failed' || !run.error?.step) throw error;
    return { step: run.error.step, cluster: run.error.cluster ?? '*', message: run.error.message };
  }
}

// The mesh's membership, and for a dry-run mesh its simulated world as it is now (read, not changed).
async function meshAsItIs(request: PlanRequest): Promise<{ config: MeshConfig; world?: WorldExport }> {
  const store = await openStore(request.store, 'read-only');
  try {
    const { mesh, run, config } = await installedMesh(store, request.meshRef as string, 'plan a repair of');
    if (run.mode !== 'dry-run') return { config };
    const world = await store.worlds.exportWorld(run.simWorld);
    if (!world) throw new PreconditionError('sim-missing', `the simulated clusters of mesh ${mesh.name} are missing from the database`);
    return { config, world };
  } finally {
    await store.close();
  }
}

// A dry-run mesh: its world copied into the scratch store, without its injected failures (a plan shows the
// commands of a repair that succeeds).
async function copied(scratch: Store, world: WorldExport): Promise<string> {
  await scratch.worlds.importWorld({ ...world, faults: [] });
  return world.id;
}

// A real mesh: a simulated copy of it as its journal records it, with the drift the check found there.
async function drifted(scratch: Store, config: MeshConfig, decision: RepairDecision): Promise<{ world: string; trust?: RehearsalTrust }> {
  const target = await rehearsalOf(scratch, config, config.clusters);
  const world = target.world as string;
  try {
    const onCopy = withRehearsalTrust(config, target.trust);
    await driftCopy(await toolsFor('dry-run', onCopy, scratch, world), onCopy, decision.repairs, [...decision.unrepairable, ...decision.skipped]);
  } catch (error) {
    removeRehearsalTrust(target.trust);
    throw error;
  }
  return { world, ...(target.trust ? { trust: target.trust } : {}) };
}
