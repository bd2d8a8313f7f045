// mesh-run init: write a commented starting config (the Istio page's topology by default).
import { existsSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import { Command, Option } from 'commander';
import { PreconditionError, UsageError } from '../../shared/errors.js';
import { type ClusterFlags, collect } from '../common.js';
import type { Streams } from '../output.js';

interface InitOptions extends ClusterFlags {
  topology: string;
  output: string;
  force?: boolean;
}

const TOPOLOGIES = ['primary-remote', 'primary-remote-multi-network', 'multi-primary', 'multi-primary-multi-network', 'mixed-fleet'];

export function initCommand(streams: Streams): Command {
  return new Command('init')
    .description('write a commented starting config for a topology; asks for each cluster’s kube context on a terminal')
    .addOption(new Option('--topology <name>', 'which topology').choices(TOPOLOGIES).default('primary-remote'))
    .option('-o, --output <file>', 'where to write it', 'mesh.yaml')
    .option('--context <cluster=context>', 'the kube context of a cluster (repeatable); without it, a terminal asks', collect)
    .option('--force', 'overwrite the file if it exists')
    .addHelpText(
      'after',
      `
Examples:
  mesh-run init                                         mesh.yaml for the Istio page (cluster1 primary, cluster2 remote)
  mesh-run init --topology multi-primary --context cluster1=kind-east --context cluster2=kind-west -o east-west.yaml
  mesh-run init && mesh-run install --dry-run -c mesh.yaml

Exit codes: 0 written, 2 bad input, 3 the file exists (and no --force) or cannot be written.`,
    )
    .action(async (options: InitOptions) => {
      const { STARTER_TOPOLOGIES, starterClusters, starterConfig, parseContextFlags } = await import('../../engine/run-api.js');
      const topology = STARTER_TOPOLOGIES.find((t) => t === options.topology);
      if (!topology) throw new UsageError(`--topology ${options.topology}: choose one of ${STARTER_TOPOLOGIES.join(', ')}`);
      if (existsSync(options.output) && !options.force) {
        throw new PreconditionError('file-exists', `${options.output} exists; mesh-run init never overwrites a file`, {
          hint: 'pass --force to replace it, or -o to write another file',
        });
      }
      const clusters = starterClusters(topology);
      const contexts = parseContextFlags(
        options.context ?? [],
        clusters.map((c) => c.name),
        `the ${topology} starter`,
      );
      if (contexts.size === 0 && process.stdin.isTTY) {
        const prompt = createInterface({ input: process.stdin, output: streams.stderr });
        try {
          for (const c of clusters) {
            const answer = (await prompt.question(`kube context of ${c.name} (${c.role}) [${c.context}]: `)).trim();
            if (answer) contexts.set(c.name, answer);
          }
        } finally {
          prompt.close();
        }
      }
      const text = starterConfig(topology, contexts);
      try {
        writeFileSync(options.output, text, { flag: options.force ? 'w' : 'wx' });
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? 'error';
        throw new PreconditionError('unwritable', `${options.output}: cannot write the file (${code})`, { hint: 'choose another path with -o' });
      }
      streams.stdout.write(
        `wrote ${options.output} (${topology}); check it with "mesh-run config check -c ${options.output}", rehearse with "mesh-run install --dry-run -c ${options.output}"\n`,
      );
    });
}
