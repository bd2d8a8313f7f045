// mesh-run install: start a primary-remote install (real clusters, or simulated ones with --dry-run).
import { Command, Option } from 'commander';
import { storeLocation } from '../../engine/composition.js';
import { UsageError } from '../../shared/errors.js';
import { addClusterOptions, type ClusterFlags, CONTEXT_PRECEDENCE, collect, dbOption, LB_MODES, overridesOf, parseDelayOption } from '../common.js';
import type { Streams } from '../output.js';
import { runVerb } from '../run-session.js';

interface InstallOptions extends ClusterFlags {
  config?: string;
  dryRun?: boolean;
  injectFailure?: string[];
  simLb?: 'ip' | 'hostname' | 'none';
  simLbDelay?: string;
  simLatency?: string;
  timeScale?: string;
  db?: string;
  json?: boolean;
  quiet?: boolean;
}

export function installCommand(streams: Streams): Command {
  return addClusterOptions(
    new Command('install')
      .description('install the configured Istio multicluster mesh (any topology the config describes), as a resumable run')
      .option('-c, --config <file>', 'YAML config (default: the Istio page: cluster1 primary, cluster2 remote, mesh1, network1)')
      .option('--dry-run', 'run against simulated clusters kept in the database; nothing real is touched'),
  )
    .option('--inject-failure <spec>', 'dry run: make <step>[@cluster][:count][:transient] fail (repeatable)', collect)
    .addOption(new Option('--sim-lb <mode>', 'dry run: what the load balancer gives the gateway').choices(LB_MODES))
    .option('--sim-lb-delay <duration>', 'dry run: how long the load balancer takes (default 1.5s)')
    .option('--sim-latency <duration|realistic>', 'dry run: how long each simulated command takes (default 0), or "realistic" (durations of real installs)')
    .option('--time-scale <factor>', 'dry run with --sim-latency realistic: multiply every duration (e.g. 0.01)')
    .addOption(dbOption())
    .option('--json', 'one JSON document on stdout; NDJSON progress events on stderr')
    .option('-q, --quiet', 'no progress output, only the result')
    .addHelpText(
      'after',
      `
Examples:
  mesh-run install --dry-run                          simulated cluster1 + cluster2
  mesh-run install --dry-run --inject-failure install-remote@cluster2
  mesh-run install --config mesh.yaml                 real clusters from your kubeconfig
  mesh-run install -c mesh.yaml --context cluster1=kind-east --context cluster2=kind-west
  mesh-run install --kubeconfig ~/.kube/lab.yaml      every context from that file

${CONTEXT_PRECEDENCE}

Exit codes: 0 installed, 1 run failed (resumable), 2 bad input, 3 environment or store problem,
130/143 interrupted by SIGINT/SIGTERM (resumable).`,
    )
    .action(async (options: InstallOptions) => {
      // The engine (xstate, execa, yaml) loads only when a command needs it: start-up stays light.
      const { loadConfig, applyOverrides, prepareInstall } = await import('../../engine/run-api.js');
      const lbDelay = parseDelayOption(options.simLbDelay, '--sim-lb-delay');
      const realistic = options.simLatency === 'realistic';
      const latency = realistic ? undefined : parseDelayOption(options.simLatency, '--sim-latency');
      const timeScale = options.timeScale === undefined ? 1 : Number(options.timeScale);
      if (!(timeScale > 0 && timeScale <= 100))
        throw new UsageError(`--time-scale "${options.timeScale}": expected a number above 0 and at most 100, e.g. 0.01`);
      if (options.timeScale !== undefined && !realistic) throw new UsageError('--time-scale applies to --sim-latency realistic');
      const simulation = {
        ...(options.simLb ? { loadBalancer: options.simLb } : {}),
        ...(lbDelay !== undefined ? { loadBalancerDelayMs: lbDelay } : {}),
        ...(latency !== undefined ? { commandLatencyMs: latency } : {}),
        ...(realistic ? { realisticLatency: { timeScale } } : {}),
      };
      const loaded = applyOverrides(loadConfig(options.config), overridesOf(options));
      await runVerb(
        streams,
        options,
        (listener) =>
          prepareInstall(
            {
              ...(options.config ? { configPath: options.config } : {}),
              loaded,
              dryRun: Boolean(options.dryRun),
              injections: options.injectFailure ?? [],
              simulation,
              store: storeLocation(options),
            },
            listener,
          ),
        (run) => `run ${run.id}`,
      );
    });
}
