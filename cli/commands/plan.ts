// mesh-run plan: the commands a run with this config would issue, without touching any cluster.
import { Command, Option } from 'commander';
import { storeLocation } from '../../engine/composition.js';
import type { Plan, PlanChange, PlanRequest, RepairPlan, StepId } from '../../engine/types.js';
import { isRunKind, RUN_KINDS, type RunKind, slotLabel } from '../../engine/types.js';
import { UsageError } from '../../shared/errors.js';
import type { MeshConfig } from '../../shared/model.js';
import { addClusterOptions, type ClusterFlags, collect, dbOption, overridesOf } from '../common.js';
import { painter, type Streams } from '../output.js';
import { formatOf, formatOption, type OutputFlags, renderDocument } from '../output-format.js';

const PLAN_FORMATS = ['text', 'sh', 'json', 'yaml'] as const;

import { planJson, planScript, planText } from '../render/plan.js';
import { repairLeftText } from '../render/repair.js';

export function planCommand(streams: Streams): Command {
  return addClusterOptions(
    new Command('plan')
      .description('the commands a run with this config would issue, in order, per cluster; touches no cluster')
      .argument('[kind]', `what to plan: ${RUN_KINDS.join(', ')}`, 'install')
      .option('-c, --config <file>', 'YAML config (default: the Istio page defaults)')
      .option('--mesh <mesh>', 'a mesh of the journal, as it stands (instead of --config)')
      .option('--name <cluster>', 'cluster-add, cluster-remove: the cluster joining or leaving')
      .addOption(new Option('--role <role>', 'cluster-add: its role (default remote)').choices(['remote', 'primary']))
      .option('--network <network>', "cluster-add: its network (default: its control plane's)")
      .option('--control-plane <primary>', 'cluster-add: the primary that serves it')
      .option('--api-server <url>', 'cluster-add: the API server address its remote secret carries')
      .option('--cluster <cluster>', "secrets-rotate: only this cluster's secret")
      .option('--revision <rev>', 'upgrade, upgrade-rollback: the new revision')
      .option('--namespaces <selector>', 'upgrade: the namespaces to move (default: every one the old revision injects)')
      .option('--wave-size <n>', 'upgrade: namespaces per wave (default 5)')
      .option('--keep-old', 'upgrade: keep the old revision installed')
      .option('--only <kind>', 'repair: only this drift kind (repeatable, or comma-separated)', collect)
      .option('--force', "repair: as repair --force, a cacerts that holds another CA replaced with the mesh's")
      .addOption(dbOption()),
  )
    .addOption(formatOption('-o, --output <format>', 'text, sh (a bash script to run by hand), json or yaml (default text)', PLAN_FORMATS))
    .option('--json', 'the same as -o json')
    .addOption(formatOption('--format <format>', 'the same as -o', PLAN_FORMATS).hideHelp())
    .addHelpText(
      'after',
      `
verify and uninstall are rehearsed on simulated clusters that first went through install (and verify).
repair checks the mesh for drift first (as "mesh-run drift" reads it), then rehearses the repair on a copy
with that drift: a dry-run mesh's simulated clusters as they are now, or a simulated copy of a real mesh with
its drift made again there. Nothing drifted: "nothing to repair". No cluster and no journal is changed.

Examples:
  mesh-run plan                                   the Istio page's install, step by step
  mesh-run plan uninstall -c examples/multi-primary.yaml
  mesh-run plan verify --mesh mesh1                     what verify runs on a mesh of the journal
  mesh-run plan -o sh -c mesh.yaml > install.sh        the same commands as a script to run by hand
  mesh-run plan cluster-add --mesh mesh1 --name cluster3 --context kind-cluster3
  mesh-run plan cluster-remove -c mesh.yaml --name cluster2
  mesh-run plan secrets-rotate --mesh mesh1 --cluster cluster2
  mesh-run plan upgrade --mesh mesh1 --revision 1-31-0 -o sh
  mesh-run plan upgrade-rollback --mesh mesh1 --revision 1-31-0   what undoing that upgrade runs
  mesh-run plan repair --mesh mesh1 --only network-label          what repairing one drift kind runs
  mesh-run plan repair --mesh mesh1 --only cacerts-changed --force   putting the mesh's CA back over another

Exit codes: 0 planned (or nothing to repair), 2 bad input (an unknown kind, a config problem), 3 store problem,
--mesh not installed, or (repair) a cluster could not be read, 4 no such mesh.`,
    )
    .action(async (kind: string, options: PlanOptions) => {
      const format = formatOf(options, PLAN_FORMATS);
      if (!isRunKind(kind)) throw new UsageError(`plan ${kind.slice(0, 40)}: unknown run kind; choose one of ${RUN_KINDS.join(', ')}`);
      const { planRepair, planRun, plannedConfig } = await import('../../engine/run-api.js');
      const request = planRequest(kind, options);
      let plan: Plan;
      let config: MeshConfig;
      let stopped: RepairPlan['stopped'];
      if (kind === 'repair') {
        const repair = await planRepair(request);
        streams.stderr.write(repairLeftText(repair.decision, painter(streams.stderr)));
        if (!repair.plan || !repair.config) return nothingToRepair(streams, repair.decision.mesh, format);
        plan = repair.plan;
        config = repair.config;
        stopped = repair.stopped;
      } else {
        config = await plannedConfig(request);
        plan = await planRun(kind, config);
      }
      streams.stdout.write(
        format === 'json'
          ? planJson(plan)
          : format === 'yaml'
            ? renderDocument(JSON.parse(planJson(plan)), 'yaml')
            : format === 'sh'
              ? planScript(plan, config)
              : planText(plan),
      );
      if (stopped) {
        const at = slotLabel(stopped.step as StepId, stopped.cluster);
        const warn = painter(streams.stderr)('yellow', '!');
        streams.stderr.write(`${warn} a repair would stop at ${at}: the rehearsal (its checks given 5s on the copy) stopped there: ${stopped.message}\n`);
      }
    });
}

// Nothing drifted (or only what this version does not repair, listed): said in the format asked for.
function nothingToRepair(streams: Streams, mesh: string, format: string): void {
  const line = `mesh ${mesh}: nothing to repair`;
  if (format === 'text') streams.stdout.write(`${line}\n`);
  else if (format === 'sh') streams.stdout.write(`#!/usr/bin/env bash\n# ${line}\n`);
  else {
    streams.stderr.write(`${line}\n`);
    streams.stdout.write(format === 'json' ? '[]\n' : renderDocument([], 'yaml'));
  }
}

// The flags: where the mesh comes from, and what a kind changes (as the engine's request names them).
interface PlanOptions extends ClusterFlags, OutputFlags, PlanChange {
  config?: string;
  mesh?: string;
  db?: string;
  store?: string;
}

const CHANGE_FIELDS = [
  'name',
  'role',
  'network',
  'controlPlane',
  'apiServer',
  'cluster',
  'revision',
  'namespaces',
  'waveSize',
  'keepOld',
  'only',
  'force',
] as const;

// The flags as the engine's plan request: the mesh (-c or --mesh), the overrides, what the kind changes.
function planRequest(kind: RunKind, options: PlanOptions): PlanRequest {
  const change: PlanChange = {};
  for (const field of CHANGE_FIELDS) {
    if (options[field] !== undefined) Object.assign(change, { [field]: options[field] });
  }
  return {
    kind,
    ...(options.config !== undefined ? { configPath: options.config } : {}),
    ...(options.mesh !== undefined ? { meshRef: options.mesh } : {}),
    overrides: overridesOf(options),
    change,
    store: storeLocation(options),
  };
}
