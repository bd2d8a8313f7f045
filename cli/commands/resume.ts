// mesh-run resume <id>: continue a failed, interrupted or killed run where it stopped.
import { Command, Option } from 'commander';
import { storeLocation } from '../../engine/composition.js';
import { UsageError } from '../../shared/errors.js';
import { dbOption, LB_MODES, parseDelayOption } from '../common.js';
import type { Streams } from '../output.js';
import { runVerb } from '../run-session.js';

interface ResumeOptions {
  force?: boolean;
  skipSyncGate?: boolean;
  skipProxyGate?: boolean;
  from?: string;
  reason?: string;
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
    .option(
      '--from <step[@cluster]>',
      'run this step (on one cluster, or on every cluster it runs on) and every step after it again, even in a run that succeeded',
    )
    .option('--reason <text>', 'why, for the journal (with --from)')
    .option('--force', 'resume even though the config file changed (names and contexts must not)')
    .option('--skip-sync-gate', 'secrets rotate: go on without istiod reporting synced (where no istiod can be asked); journaled')
    .option('--skip-proxy-gate', 'upgrade: the remaining waves go on without checking their proxies (where no proxy can run); journaled')
    .addOption(new Option('--sim-lb <mode>', 'dry run: change what the simulated load balancer gives (e.g. after "installing MetalLB")').choices(LB_MODES))
    .option('--sim-lb-delay <duration>', 'dry run: how long the simulated load balancer takes')
    .addOption(dbOption())
    .option('--json', 'one JSON document on stdout; NDJSON progress events on stderr')
    .option('-q, --quiet', 'no progress output, only the result')
    .addHelpText(
      'after',
      `
Examples:
  mesh-run resume mr-k3x9p2qa                         continue where the run stopped
  mesh-run resume mr-k3x9p2qa --from install-remote@cluster2 --reason "webhook edited by hand"
                                                      run that step and every later one again
  mesh-run resume mr-k3x9p2qa --force                 continue with the config file as it is now
  mesh-run resume mr-k3x9p2qa --skip-sync-gate        a secrets rotate stopped at its gate where no istiod runs
  mesh-run resume mr-k3x9p2qa --skip-proxy-gate       an upgrade stopped at a wave's gate where no proxy can run

With --from, the steps before the chosen one are not run: the results they recorded are replayed. "After"
is the order the journal recorded; steps are idempotent, so running one again is safe.

Exit codes: 0 the run succeeded, 1 it failed again (resumable), 2 bad input (an unknown step or cluster),
3 environment or store problem (another process drives the run), 4 not resumable (it already succeeded
and no --from was given, or its saved state is unusable), 130/143 interrupted (resumable).`,
    )
    .action(async (id: string, options: ResumeOptions) => {
      const { prepareResume } = await import('../../engine/run-api.js');
      if (options.reason !== undefined && options.from === undefined) throw new UsageError('--reason goes with --from: say which step to run again');
      const lbDelay = parseDelayOption(options.simLbDelay, '--sim-lb-delay');
      const simulation = { ...(options.simLb ? { loadBalancer: options.simLb } : {}), ...(lbDelay !== undefined ? { loadBalancerDelayMs: lbDelay } : {}) };
      await runVerb(
        streams,
        options,
        (listener) =>
          prepareResume(
            {
              id,
              store: storeLocation(options),
              force: Boolean(options.force),
              ...(options.skipSyncGate ? { skipSyncGate: true } : {}),
              ...(options.skipProxyGate ? { skipProxyGate: true } : {}),
              simulation,
              ...(options.from !== undefined ? { from: options.from } : {}),
              ...(options.reason !== undefined ? { reason: options.reason } : {}),
            },
            listener,
          ),
        (run) => `run ${run.id} (${options.from ? `running again from ${options.from}` : `resuming from ${run.status}`})`,
      );
    });
}
