// mesh-run config: what a config file means (check) and what a config may say (schema).
import { Command } from 'commander';
import type { Streams } from '../output.js';
import { meshText } from '../render/mesh.js';

export function configCommand(streams: Streams): Command {
  const config = new Command('config').description('check a config and show the mesh it describes, or print the config schema');
  config
    .command('check')
    .description('validate a config and show the topology, each cluster’s role, network, gateway and install steps')
    .option('-c, --config <file>', 'YAML config (default: the Istio page: cluster1 primary, cluster2 remote)')
    .option('--json', 'one JSON document on stdout')
    .addHelpText('after', '\nExample:\n  mesh-run config check -c examples/mixed-fleet.yaml\n\nExit codes: 0 valid, 2 invalid (every problem is listed).')
    .action(async (options: { config?: string; json?: boolean }) => {
      const [{ loadConfig }, { meshView }] = await Promise.all([import('../../engine/config/mesh-config.js'), import('../../engine/views/mesh-view.js')]);
      const view = meshView(loadConfig(options.config).config);
      streams.stdout.write(options.json ? `${JSON.stringify(view, null, 2)}\n` : meshText(view));
    });
  config
    .command('schema')
    .description('print the config schema as JSON Schema (for editors: # yaml-language-server: $schema=<file>)')
    .addHelpText('after', '\nExample:\n  mesh-run config schema > mesh-run.schema.json')
    .action(async () => {
      const { configJsonSchema } = await import('../../engine/config/schema.js');
      streams.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
    });
  return config;
}
