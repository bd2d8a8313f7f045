// mesh-run resume <id>: continue a failed, interrupted or killed run where it stopped.
import { Command, Option } from 'commander';
import { storeLocation } from '../../engine/composition.js';
import { dbOption, LB_MODES, parseDelayOption } from '../common.js';
import type { Streams } from '../output.js';
import { runVerb } from '../run-session.js';

interface ResumeOptions {
  force?: boolean;
  simLb?: 'ip' | 'hostname' | 'none';
  simLbDelay?: string;
  db?: string;
  json?: boolean;
  quiet?: boolean;
}

export function resumeCommand(streams: Streams): Command {
  return new Command('resume')
    .description('continue a failed or interrupted run; finished steps are not run again')
    .argument('<id>', 'run id (or a unique prefix of it)')
    .option('--force', 'resume even though the config file changed (names and contexts must not)')
    .addOption(new Option('--sim-lb <mode>', 'dry run: change what the simulated load balancer gives (e.g. after "installing MetalLB")').choices(LB_MODES))
    .option('--sim-lb-delay <duration>', 'dry run: how long the simulated load balancer takes')
    .addOption(dbOption())
    .option('--json', 'one JSON document on stdout; NDJSON progress events on stderr')
    .option('-q, --quiet', 'no progress output, only the result')
    .action(async (id: string, options: ResumeOptions) => {
      const { prepareResume } = await import('../../engine/run-service.js');
      const lbDelay = parseDelayOption(options.simLbDelay, '--sim-lb-delay');
      const simulation = { ...(options.simLb ? { loadBalancer: options.simLb } : {}), ...(lbDelay !== undefined ? { loadBalancerDelayMs: lbDelay } : {}) };
      await runVerb(
        streams,
        options,
        (listener) => prepareResume({ id, store: storeLocation(options), force: Boolean(options.force), simulation }, listener),
        (run) => `run ${run.id} (resuming from ${run.status})`,
      );
    });
}
