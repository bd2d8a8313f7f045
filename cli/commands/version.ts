// mesh-run version: this mesh-run, and the kubectl and istioctl it would run (found on PATH or in the config).
import { Command } from 'commander';
import type { Streams } from '../output.js';

export function versionCommand(streams: Streams, version: string): Command {
  return new Command('version')
    .description('print the versions of mesh-run and of the kubectl and istioctl it would use')
    .option('-c, --config <file>', 'YAML config whose tools: section names the binaries')
    .option('--json', 'one JSON document on stdout')
    .addHelpText('after', '\nExample:\n  mesh-run version --json\n\nExit codes: 0 (a tool that is missing is reported, not an error), 2 bad input.')
    .action(async (options: { config?: string; json?: boolean }) => {
      const [{ loadConfig }, { toolVersions }] = await Promise.all([
        import('../../engine/config/mesh-config.js'),
        import('../../engine/activities/tool-versions.js'),
      ]);
      const tools = await toolVersions(loadConfig(options.config).config.tools);
      const doc = { meshRun: version, node: process.version, tools };
      if (options.json) {
        streams.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
        return;
      }
      const lines = [`mesh-run ${version} (node ${process.version})`];
      for (const t of tools) lines.push(`${t.tool.padEnd(9)} ${t.version ?? 'not found'}${t.path ? `  (${t.path})` : ''}${t.error ? `  ${t.error}` : ''}`);
      streams.stdout.write(`${lines.join('\n')}\n`);
    });
}
