// `mesh-run plan`: the commands a run with this config would issue, obtained by rehearsing the real
// workflow (same machine, same step activities) against fresh simulated clusters in memory.
// Plan and execution therefore cannot drift: they are one code path.
import type { ClusterTools, Command } from '../adapters/cluster-tools.js';
import type { RunKind, StepId } from '../machines/steps.js';
import type { MeshConfig } from '../shared/model.js';
import { configuredRevision } from '../shared/revisions.js';
import { newWorldSeed, openStore, toolsFor } from './composition.js';
import { KINDS, reversalOf } from './kinds/registry.js';
import { driveUnrecorded } from './runtime/rehearsal.js';
import { slotsFor } from './views/run-slots.js';

export interface PlannedCommand {
  step: StepId;
  cluster: string;
  command: Command;
  // Set for a pipe: the command the first one's stdout is streamed into.
  pipeTo?: Command;
  // The rehearsal found the object missing (NotFound): for a check after a delete, that is the point.
  absent?: boolean;
}

export interface Plan {
  kind: RunKind;
  // The run removes the mesh: its script first checks that mesh-run installed what it deletes.
  removesMesh: boolean;
  commands: PlannedCommand[];
  // The gateway addresses the rehearsal saw, each with the shell variable a script reads it from instead.
  rehearsedAddresses: Record<string, string>;
}

const PLAN_RUN = 'mr-plan';

// What a plan shows instead of the rehearsal's pod names, which mean nothing on real clusters.
export const POD_PLACEHOLDER = (selector: string) => `<pod of ${selector}>`;

// kubectl exec into a pod the step looked up first: the pod becomes a placeholder naming how it is found.
function withoutRehearsedPod(command: Command, lookups: ReadonlyMap<string, string>): Command {
  const dash = command.args.indexOf('--');
  if (command.tool !== 'kubectl' || !command.args.includes('exec') || dash < 1) return command;
  const pod = command.args[dash - 1] as string;
  const selector = lookups.get(pod);
  if (!selector) return command;
  return { ...command, args: command.args.map((a, i) => (i === dash - 1 ? POD_PLACEHOLDER(selector) : a)) };
}

// The tools a plan rehearses on, each command recorded (in `out`) as it is run.
export function recording(inner: ClusterTools, out: PlannedCommand[], plan: Plan): ClusterTools {
  // Pods the rehearsal looked up by label (kubectl get pods -l ... -o jsonpath=...name): name -> selector.
  const lookups = new Map<string, string>();
  return {
    mode: inner.mode,
    async run(command, options) {
      const planned: PlannedCommand = { step: options.step, cluster: options.cluster, command: withoutRehearsedPod(command, lookups) };
      out.push(planned);
      const result = await inner.run(command, options);
      if (result.exitCode !== 0 && /\(NotFound\)|not found/i.test(result.stderr)) planned.absent = true;
      const selector = command.args[command.args.indexOf('-l') + 1];
      if (command.args.includes('pods') && command.args.includes('-l') && selector && result.exitCode === 0) lookups.set(result.stdout.trim(), selector);
      if (command.waitFor && result.exitCode === 0) {
        const ip = (JSON.parse(result.stdout) as { status?: { loadBalancer?: { ingress?: Array<{ ip?: string }> } } }).status?.loadBalancer?.ingress?.[0]?.ip;
        if (ip) plan.rehearsedAddresses[ip] = command.waitFor.variable;
      }
      return result;
    },
    pipe(source, sink, options) {
      out.push({ step: options.step, cluster: options.cluster, command: source, pipeTo: sink });
      return inner.pipe(source, sink, options);
    },
    presentToken: (probe, options) => inner.presentToken(probe, options),
  };
}

// The mesh a cluster add or remove starts from, before the change (a cluster add's config is the mesh it grows
// into, so the cluster joining is not there yet).
function baseOf(config: MeshConfig, kind: RunKind): MeshConfig {
  const role = KINDS[kind].mesh;
  if (role !== 'joins' && role !== 'leaves') return config;
  const { subject, ...rest } = config;
  return role === 'joins' ? { ...rest, clusters: rest.clusters.filter((c) => c.name !== subject) } : rest;
}

// The config of a rehearsed step before an upgrade or its rollback: the mesh on the old revision, then the
// upgrade (keeping the old revision, which a rollback needs).
function upgradeStepConfig(changed: MeshConfig, step: RunKind): MeshConfig {
  const spec = changed.upgrade;
  if (!spec) return changed;
  const { upgrade: _upgrade, ...base } = changed;
  const { revision: _revision, ...mesh } = base;
  if (reversalOf(step)) return { ...mesh, revision: spec.to, upgrade: { ...spec, keepOld: true } };
  return { ...mesh, ...configuredRevision(spec.from) };
}

export async function planRun(kind: RunKind, changed: MeshConfig): Promise<Plan> {
  const store = await openStore({ kind: 'sqlite', path: ':memory:' }, 'create');
  try {
    const now = Date.now();
    const plan: Plan = { kind, removesMesh: KINDS[kind].removesMesh === true, commands: [], rehearsedAddresses: {} };
    // Each kind first rehearses what it follows (its plan's `after`), unrecorded, so it meets the mesh it would
    // meet for real.
    for (const [i, step] of [...KINDS[kind].plan.after, kind].entries()) {
      // A cluster add or remove acts on the mesh installed before it: without the cluster joining.
      const config = step === kind ? changed : changed.upgrade ? upgradeStepConfig(changed, step) : baseOf(changed, kind);
      // The first rehearsal creates the simulated clusters; the ones after it act on them.
      const seed = i === 0 ? newWorldSeed(PLAN_RUN, upgradeStepConfig(changed, 'install'), { loadBalancerDelayMs: 0 }, [], now) : undefined;
      const inner = await toolsFor('dry-run', config, store, PLAN_RUN);
      const tools = step === kind ? recording(inner, plan.commands, plan) : inner;
      await driveUnrecorded(store, `${PLAN_RUN}-${i}`, step, config, tools, PLAN_RUN, seed, KINDS[step].reverses ? `${PLAN_RUN}-${i - 1}` : undefined);
    }
    inPageOrder(plan, changed);
    return plan;
  } finally {
    await store.close();
  }
}

// Regions ran side by side; a plan reads best in page order, per step and cluster (a stable sort).
export function inPageOrder(plan: Plan, config: MeshConfig): void {
  const order = slotsFor(plan.kind, config, plan.commands).map((s) => `${s.step}@${s.cluster}`);
  plan.commands.sort((a, b) => order.indexOf(`${a.step}@${a.cluster}`) - order.indexOf(`${b.step}@${b.cluster}`));
}

export function planInstall(config: MeshConfig): Promise<Plan> {
  return planRun('install', config);
}
