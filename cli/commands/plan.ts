// mesh-run plan: the commands a run with this config would issue, without touching any cluster.
import { Command, Option } from 'commander';
import { isRunKind, RUN_KINDS } from '../../machines/steps.js';
import { UsageError } from '../../shared/errors.js';
import type { Streams } from '../output.js';
import { planJson, planScript, planText } from '../render/plan.js';

export function planCommand(streams: Streams): Command {
  return new Command('plan')
    .description('the commands a run with this config would issue, in order, per cluster; touches no cluster')
    .argument('[kind]', `what to plan: ${RUN_KINDS.join(', ')}`, 'install')
    .option('-c, --config <file>', 'YAML config (default: the Istio page defaults)')
    .addOption(new Option('--format <format>', 'text, a bash script, or JSON').choices(['text', 'sh', 'json']).default('text'))
    .addHelpText('after', '\nverify and uninstall are rehearsed on simulated clusters that first went through install (and verify).')
    .action(async (kind: string, options: { config?: string; format: 'text' | 'sh' | 'json' }) => {
      if (!isRunKind(kind)) throw new UsageError(`plan ${kind.slice(0, 40)}: unknown run kind; choose one of ${RUN_KINDS.join(', ')}`);
      const [{ loadConfig }, { planRun }] = await Promise.all([import('../../engine/config/mesh-config.js'), import('../../engine/views/plan.js')]);
      const { config } = loadConfig(options.config);
      const plan = await planRun(kind, config);
      streams.stdout.write(options.format === 'json' ? planJson(plan) : options.format === 'sh' ? planScript(plan, config) : planText(plan));
    });
}
