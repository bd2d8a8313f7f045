// mesh-run plan: the commands a run with this config would issue, without touching any cluster.
import { Command, Option } from 'commander';
import { storeLocation } from '../../engine/composition.js';
import { isRunKind, RUN_KINDS } from '../../machines/steps.js';
import { UsageError } from '../../shared/errors.js';
import type { MeshConfig } from '../../shared/model.js';
import { addClusterOptions, type ClusterFlags, dbOption, overridesOf } from '../common.js';
import type { Streams } from '../output.js';
import { formatOf, formatOption, type OutputFlags, renderDocument } from '../output-format.js';

const PLAN_FORMATS = ['text', 'sh', 'json', 'yaml'] as const;

import { planJson, planScript, planText } from '../render/plan.js';

export function planCommand(streams: Streams): Command {
  return addClusterOptions(
    new Command('plan')
      .description('the commands a run with this config would issue, in order, per cluster; touches no cluster')
      .argument('[kind]', `what to plan: ${RUN_KINDS.join(', ')}`, 'install')
      .option('-c, --config <file>', 'YAML config (default: the Istio page defaults)')
      .option('--mesh <mesh>', 'cluster-add, cluster-remove: the mesh of the journal to change (instead of --config)')
      .option('--name <cluster>', 'cluster-add, cluster-remove: the cluster joining or leaving')
      .addOption(new Option('--role <role>', 'cluster-add: its role (default remote)').choices(['remote', 'primary']))
      .option('--network <network>', "cluster-add: its network (default: its control plane's)")
      .option('--control-plane <primary>', 'cluster-add: the primary that serves it')
      .option('--api-server <url>', 'cluster-add: the API server address its remote secret carries')
      .option('--revision <rev>', 'upgrade, upgrade-rollback: the new revision')
      .option('--namespaces <selector>', 'upgrade: the namespaces to move (default: every one the old revision injects)')
      .option('--wave-size <n>', 'upgrade: namespaces per wave (default 5)')
      .option('--keep-old', 'upgrade: keep the old revision installed')
      .addOption(dbOption()),
  )
    .addOption(formatOption('-o, --output <format>', 'text, sh (a bash script to run by hand), json or yaml (default text)', PLAN_FORMATS))
    .option('--json', 'the same as -o json')
    .addOption(formatOption('--format <format>', 'the same as -o', PLAN_FORMATS).hideHelp())
    .addHelpText(
      'after',
      `
verify and uninstall are rehearsed on simulated clusters that first went through install (and verify).

Examples:
  mesh-run plan                                   the Istio page's install, step by step
  mesh-run plan uninstall -c examples/multi-primary.yaml
  mesh-run plan -o sh -c mesh.yaml > install.sh        the same commands as a script to run by hand
  mesh-run plan cluster-add --mesh mesh1 --name cluster3 --context kind-cluster3
  mesh-run plan cluster-remove -c mesh.yaml --name cluster2
  mesh-run plan upgrade --mesh mesh1 --revision 1-31-0 -o sh
  mesh-run plan upgrade-rollback --mesh mesh1 --revision 1-31-0   what undoing that upgrade runs

Exit codes: 0 planned, 2 bad input (an unknown kind, a config problem).`,
    )
    .action(async (kind: string, options: PlanOptions) => {
      const format = formatOf(options, PLAN_FORMATS);
      if (!isRunKind(kind)) throw new UsageError(`plan ${kind.slice(0, 40)}: unknown run kind; choose one of ${RUN_KINDS.join(', ')}`);
      const { planRun } = await import('../../engine/views/plan.js');
      const config = await plannedConfig(kind, options);
      const plan = await planRun(kind, config);
      streams.stdout.write(
        format === 'json'
          ? planJson(plan)
          : format === 'yaml'
            ? renderDocument(JSON.parse(planJson(plan)), 'yaml')
            : format === 'sh'
              ? planScript(plan, config)
              : planText(plan),
      );
    });
}

interface PlanOptions extends ClusterFlags, OutputFlags {
  config?: string;
  mesh?: string;
  name?: string;
  role?: 'primary' | 'remote';
  network?: string;
  controlPlane?: string;
  apiServer?: string;
  revision?: string;
  namespaces?: string;
  waveSize?: string;
  keepOld?: boolean;
  db?: string;
  store?: string;
}

// The config the plan rehearses: the file (or the page's defaults) with the flags applied; for a cluster add
// or remove, the mesh (the file, or --mesh from the journal) with the change. A cluster add's own context is
// --context <context>, or --context <name>=<context>.
async function plannedConfig(kind: string, options: PlanOptions) {
  if (kind === 'upgrade' || kind === 'upgrade-rollback') return plannedUpgrade(kind, options);
  const upgradeFlags = (['revision', 'namespaces', 'waveSize', 'keepOld'] as const).filter((f) => options[f] !== undefined);
  if (upgradeFlags.length > 0) throw new UsageError(`--${upgradeFlags[0]?.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: goes with plan upgrade`);
  const membership = kind === 'cluster-add' || kind === 'cluster-remove';
  const changeFlags = ['mesh', 'name', 'role', 'network', 'controlPlane', 'apiServer'] as const;

  const given = changeFlags.filter((f) => options[f] !== undefined);
  if (!membership && given.length > 0) throw new UsageError(`--${given[0]}: goes with plan cluster-add or plan cluster-remove`);
  if (!membership) {
    const [{ loadConfig }, { applyOverrides }] = await Promise.all([import('../../engine/config/mesh-config.js'), import('../../engine/config/overrides.js')]);
    return applyOverrides(loadConfig(options.config), overridesOf(options)).config;
  }
  if (options.name === undefined)
    throw new UsageError(`plan ${kind}: --name <cluster> is required (the cluster ${kind === 'cluster-add' ? 'joining' : 'leaving'})`);
  if (options.mesh !== undefined && options.config !== undefined) throw new UsageError('--mesh and --config: give one of them');
  const name = options.name;
  const flags = overridesOf(options);
  const own = flags.contexts.filter((c) => !c.includes('=') || c.startsWith(`${name}=`));
  const rest = { ...flags, contexts: flags.contexts.filter((c) => !own.includes(c)) };
  const { joinedConfig, leavingConfig, meshConfigOf } = await import('../../engine/day2-service.js');
  let base: MeshConfig;
  if (options.mesh !== undefined) {
    if (rest.contexts.length > 0 || rest.kubeconfig !== undefined)
      throw new UsageError('--context <cluster>=<context> and --kubeconfig go with --config; --mesh uses what the journal recorded');
    base = await meshConfigOf(options.mesh, storeLocation(options));
  } else {
    const [{ loadConfig }, { applyOverrides }] = await Promise.all([import('../../engine/config/mesh-config.js'), import('../../engine/config/overrides.js')]);
    base = applyOverrides(loadConfig(options.config), rest).config;
  }
  if (kind === 'cluster-remove') {
    if (own.length > 0) throw new UsageError(`--context ${own[0]}: plan cluster-remove takes the contexts of the mesh as they are`);
    return leavingConfig(base, name);
  }
  if (own.length > 1) throw new UsageError(`--context: ${name} is given ${own.length} contexts; give it one`);
  const context = own[0]?.replace(`${name}=`, '') ?? name;
  return joinedConfig(base, {
    name,
    context,
    role: options.role ?? 'remote',
    ...(options.network !== undefined ? { network: options.network } : {}),
    ...(options.controlPlane !== undefined ? { controlPlane: options.controlPlane } : {}),
    ...(options.apiServer !== undefined ? { apiServer: options.apiServer } : {}),
  });
}

// plan upgrade | upgrade-rollback: the mesh (--mesh from the journal, or the config file) moving to --revision.
async function plannedUpgrade(kind: 'upgrade' | 'upgrade-rollback', options: PlanOptions): Promise<MeshConfig> {
  if (options.revision === undefined) throw new UsageError(`plan ${kind}: --revision <rev> is required (the revision upgraded to)`);
  if (options.mesh !== undefined && options.config !== undefined) throw new UsageError('--mesh and --config: give one of them');
  const { plannedUpgradeConfig, DEFAULT_WAVE_SIZE } = await import('../../engine/upgrade-service.js');
  let base: MeshConfig;
  if (options.mesh !== undefined) {
    const { meshConfigOf } = await import('../../engine/day2-service.js');
    base = await meshConfigOf(options.mesh, storeLocation(options));
  } else {
    const [{ loadConfig }, { applyOverrides }] = await Promise.all([import('../../engine/config/mesh-config.js'), import('../../engine/config/overrides.js')]);
    base = applyOverrides(loadConfig(options.config), overridesOf(options)).config;
  }
  const waveSize = options.waveSize === undefined ? DEFAULT_WAVE_SIZE : /^\d+$/.test(options.waveSize) ? Number(options.waveSize) : Number.NaN;
  return plannedUpgradeConfig(base, kind, {
    revision: options.revision,
    ...(options.namespaces !== undefined ? { namespaces: options.namespaces } : {}),
    waveSize,
    keepOld: Boolean(options.keepOld),
  });
}
