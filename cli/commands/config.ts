// mesh-run config: what a config file means (check) and what a config may say (schema).
import { Command } from 'commander';
import { addClusterOptions, type ClusterFlags, overridesOf } from '../common.js';
import type { Streams } from '../output.js';
import { addOutputOption, formatOf, type OutputFlags, renderDocument } from '../output-format.js';

const CHECK_FORMATS = ['text', 'json', 'yaml', 'csv'] as const;

import { meshCsv, meshText } from '../render/mesh.js';

export function configCommand(streams: Streams): Command {
  const config = new Command('config')
    .description('check a config and show the mesh it describes, or print the config schema')
    .addHelpText(
      'after',
      '\nExamples:\n  mesh-run config check -c mesh.yaml\n  mesh-run config schema > mesh-run.schema.json\n\nExit codes: see each subcommand (mesh-run config check --help).',
    );
  const check = config
    .command('check')
    .description('validate a config and show the topology, each cluster’s role, network, gateway and install steps')
    .option('-c, --config <file>', 'YAML config (default: the Istio page: cluster1 primary, cluster2 remote)');
  addOutputOption(addClusterOptions(check), CHECK_FORMATS)
    .addHelpText(
      'after',
      '\nExamples:\n  mesh-run config check -c examples/mixed-fleet.yaml\n  mesh-run config check -c mesh.yaml -o yaml\n\nExit codes: 0 valid, 2 invalid (every problem is listed).',
    )
    .action(async (options: ClusterFlags & OutputFlags & { config?: string }) => {
      const format = formatOf(options, CHECK_FORMATS);
      const { loadConfig, applyOverrides, meshView } = await import('../../engine/run-api.js');
      const view = meshView(applyOverrides(loadConfig(options.config), overridesOf(options)).config);
      streams.stdout.write(format === 'text' ? meshText(view) : format === 'csv' ? meshCsv(view) : renderDocument(view, format));
    });
  config
    .command('schema')
    .description('print the config schema as JSON Schema (for editors: # yaml-language-server: $schema=<file>)')
    .addHelpText('after', '\nExample:\n  mesh-run config schema > mesh-run.schema.json\n\nExit codes: 0 printed.')
    .action(async () => {
      const { configJsonSchema } = await import('../../engine/run-api.js');
      streams.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
    });
  return config;
}
