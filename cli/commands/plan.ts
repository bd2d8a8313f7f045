// mesh-run plan: the commands a run with this config would issue, without touching any cluster.
import { Command, Option } from 'commander';
import type { Streams } from '../output.js';
import { planJson, planScript, planText } from '../render/plan.js';

export function planCommand(streams: Streams): Command {
  return new Command('plan')
    .description('the commands an install with this config would run, in order, per cluster; touches no cluster')
    .option('-c, --config <file>', 'YAML config (default: the Istio page defaults)')
    .addOption(new Option('--format <format>', 'text, a bash script, or JSON').choices(['text', 'sh', 'json']).default('text'))
    .action(async (options: { config?: string; format: 'text' | 'sh' | 'json' }) => {
      const [{ loadConfig }, { planInstall }] = await Promise.all([import('../../engine/config.js'), import('../../engine/plan.js')]);
      const { config } = loadConfig(options.config);
      const plan = await planInstall(config);
      streams.stdout.write(options.format === 'json' ? planJson(plan) : options.format === 'sh' ? planScript(plan, config) : planText(plan));
    });
}
