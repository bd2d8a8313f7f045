// mesh-run plan: the commands a run with this config would issue, without touching any cluster.
import { Command, Option } from 'commander';
import { isRunKind, RUN_KINDS } from '../../machines/steps.js';
import { UsageError } from '../../shared/errors.js';
import { addClusterOptions, type ClusterFlags, overridesOf } from '../common.js';
import type { Streams } from '../output.js';
import { formatOf, type OutputFlags, renderDocument } from '../output-format.js';

const PLAN_FORMATS = ['text', 'sh', 'json', 'yaml'] as const;

import { planJson, planScript, planText } from '../render/plan.js';

export function planCommand(streams: Streams): Command {
  return addClusterOptions(
    new Command('plan')
      .description('the commands a run with this config would issue, in order, per cluster; touches no cluster')
      .argument('[kind]', `what to plan: ${RUN_KINDS.join(', ')}`, 'install')
      .option('-c, --config <file>', 'YAML config (default: the Istio page defaults)'),
  )
    .addOption(new Option('-o, --output <format>', 'text, sh (a bash script to run by hand), json or yaml (default text)').choices(PLAN_FORMATS))
    .option('--json', 'the same as -o json')
    .addOption(new Option('--format <format>', 'the same as -o').choices(PLAN_FORMATS).hideHelp())
    .addHelpText(
      'after',
      `
verify and uninstall are rehearsed on simulated clusters that first went through install (and verify).

Examples:
  mesh-run plan                                   the Istio page's install, step by step
  mesh-run plan uninstall -c examples/multi-primary.yaml
  mesh-run plan -o sh -c mesh.yaml > install.sh        the same commands as a script to run by hand

Exit codes: 0 planned, 2 bad input (an unknown kind, a config problem).`,
    )
    .action(async (kind: string, options: ClusterFlags & OutputFlags & { config?: string }) => {
      const format = formatOf(options, PLAN_FORMATS);
      if (!isRunKind(kind)) throw new UsageError(`plan ${kind.slice(0, 40)}: unknown run kind; choose one of ${RUN_KINDS.join(', ')}`);
      const [{ loadConfig }, { applyOverrides }, { planRun }] = await Promise.all([
        import('../../engine/config/mesh-config.js'),
        import('../../engine/config/overrides.js'),
        import('../../engine/views/plan.js'),
      ]);
      const { config } = applyOverrides(loadConfig(options.config), overridesOf(options));
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
