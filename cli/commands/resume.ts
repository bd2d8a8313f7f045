// mesh-run resume <id>: continue a failed, interrupted or killed run where it stopped.
import { Command, Option } from 'commander';
import { storeLocation } from '../../engine/composition.js';
import { slotsOfRun } from '../../engine/run-slots.js';
import { dbOption, LB_MODES, parseDelayOption, resumeHint } from '../common.js';
import type { Streams } from '../output.js';
import { createProgressRenderer, progressMode } from '../render/progress.js';
import { runSession } from '../run-session.js';

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
      let progress: ReturnType<typeof createProgressRenderer> | undefined;
      const mode = progressMode(streams.stderr, Boolean(options.json), Boolean(options.quiet));
      const prepared = await prepareResume(
        {
          id,
          store: storeLocation(options),
          force: Boolean(options.force),
          simulation: { ...(options.simLb ? { loadBalancer: options.simLb } : {}), ...(lbDelay !== undefined ? { loadBalancerDelayMs: lbDelay } : {}) },
        },
        (event) => progress?.listener(event),
      );
      progress = createProgressRenderer(streams.stderr, mode, slotsOfRun(prepared.run));
      if (!options.json) streams.stdout.write(`run ${prepared.run.id} (resuming from ${prepared.run.status})\n`);
      try {
        await runSession(prepared, {
          json: Boolean(options.json),
          streams,
          progress,
          resumeHint: resumeHint(options),
        });
      } finally {
        await prepared.close();
      }
    });
}
