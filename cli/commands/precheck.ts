// mesh-run precheck: every problem an install would meet, found in one pass, one line each with a hint.
import { Command } from 'commander';
import { ExitCode } from '../../shared/errors.js';
import { addClusterOptions, type ClusterFlags, CONTEXT_PRECEDENCE, overridesOf } from '../common.js';
import { ExitRequest } from '../exit.js';
import { painter, type Streams } from '../output.js';
import { addOutputOption, formatOf, type OutputFlags, renderDocument } from '../output-format.js';

const FORMATS = ['text', 'json', 'yaml'] as const;

export function precheckCommand(streams: Streams): Command {
  return addOutputOption(
    addClusterOptions(
      new Command('precheck')
        .description('check the clusters and tools before an install and report every problem at once (reads only)')
        .option('-c, --config <file>', 'YAML config (default: the Istio page: cluster1 primary, cluster2 remote)'),
    ),
    FORMATS,
  )
    .addHelpText(
      'after',
      `
It checks: kube contexts exist and answer; kubectl and istioctl versions and their skew with the clusters;
istioctl x precheck on each cluster; an Istio already present, and whose; the API server address each
primary would dial (loopback), and kubeconfigs that authenticate through a plugin istiod cannot run; roots
of trust that differ between clusters; a load-balancer provider where a gateway needs one.

Examples:
  mesh-run precheck -c mesh.yaml
  mesh-run precheck -c mesh.yaml --context cluster2=kind-west -o json

${CONTEXT_PRECEDENCE}

Exit codes: 0 nothing blocks an install (warnings may remain), 2 bad input, 3 a problem blocks an install.`,
    )
    .action(async (options: ClusterFlags & OutputFlags & { config?: string }) => {
      const format = formatOf(options, FORMATS);
      const [{ loadConfig, applyOverrides, precheck }, { realTools }] = await Promise.all([
        import('../../engine/run-api.js'),
        import('../../engine/composition.js'),
      ]);
      const { config } = applyOverrides(loadConfig(options.config), overridesOf(options));
      const report = await precheck(config, await realTools(config));
      const problems = report.findings.filter((f) => f.level === 'problem').length;
      const warnings = report.findings.length - problems;
      if (format !== 'text')
        streams.stdout.write(renderDocument({ ok: problems === 0, problems, warnings, findings: report.findings, checked: report.checked }, format));
      else {
        const paint = painter(streams.stdout);
        const lines = report.findings.map((f) => {
          const mark = f.level === 'problem' ? paint('red', '✖') : paint('yellow', '!');
          return `${mark} ${f.cluster ? `${f.cluster}: ` : ''}${f.message}${f.hint ? `\n    hint: ${f.hint}` : ''}`;
        });
        const total =
          report.findings.length === 0
            ? `${paint('green', '✔')} no problems found (${report.checked.join(', ')}) on ${config.clusters.map((c) => c.name).join(', ')}`
            : `${problems} problem${problems === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}${problems > 0 ? ': an install would fail or do harm' : ': an install can go ahead'}`;
        streams.stdout.write(`${[...lines, total].join('\n')}\n`);
      }
      if (problems > 0) throw new ExitRequest(ExitCode.precondition);
    });
}
