// mesh-run version: this mesh-run, the kubectl and istioctl it would run (found on PATH or in the config),
// and with a config, each cluster's Kubernetes and Istio versions.
import { Command } from 'commander';
import { addClusterOptions, type ClusterFlags, overridesOf } from '../common.js';
import type { Streams } from '../output.js';
import { addOutputOption, formatOf, type OutputFlags, renderDocument } from '../output-format.js';

const FORMATS = ['text', 'json', 'yaml'] as const;

export function versionCommand(streams: Streams, version: string): Command {
  return addOutputOption(
    addClusterOptions(
      new Command('version')
        .description('print the versions of mesh-run and of the kubectl and istioctl it would use; with --config, of each cluster too')
        .option('-c, --config <file>', "YAML config: its tools: section names the binaries, and its clusters' versions are read"),
    ),
    FORMATS,
  )
    .addHelpText(
      'after',
      `
Examples:
  mesh-run version                            mesh-run, kubectl and istioctl (no cluster is contacted)
  mesh-run version -c mesh.yaml -o json       also each cluster's Kubernetes and Istio versions

Exit codes: 0 (a missing tool or an unreachable cluster is reported, not an error), 2 bad input.`,
    )
    .action(async (options: ClusterFlags & OutputFlags & { config?: string }) => {
      const format = formatOf(options, FORMATS);
      const [{ loadConfig, applyOverrides, hasOverrides, clusterVersions, toolVersions }, { realTools }] = await Promise.all([
        import('../../engine/run-api.js'),
        import('../../engine/composition.js'),
      ]);
      const { config } = applyOverrides(loadConfig(options.config), overridesOf(options));
      const withClusters = options.config !== undefined || hasOverrides(overridesOf(options));
      const [tools, clusters] = await Promise.all([
        toolVersions(config.tools),
        withClusters ? clusterVersions(config, await realTools(config)) : Promise.resolve(undefined),
      ]);
      const doc = { meshRun: version, node: process.version, tools, ...(clusters ? { clusters } : {}) };
      if (format !== 'text') {
        streams.stdout.write(renderDocument(doc, format));
        return;
      }
      const lines = [`mesh-run ${version} (node ${process.version})`];
      for (const t of tools) lines.push(`${t.tool.padEnd(9)} ${t.version ?? 'not found'}${t.path ? `  (${t.path})` : ''}${t.error ? `  ${t.error}` : ''}`);
      for (const c of clusters ?? []) {
        const istio = c.istio.length > 0 ? `istio ${c.istio.join(', ')}` : 'no istiod';
        lines.push(`${c.cluster} (context ${c.context})  ${c.kubernetes ? `kubernetes ${c.kubernetes}, ${istio}` : `unreachable: ${c.error ?? ''}`}`);
      }
      streams.stdout.write(`${lines.join('\n')}\n`);
    });
}
