// mesh-run verify and mesh-run uninstall: resumable runs that act on the mesh an install made (verify --links-only:
// a verify-links run, the links alone).
import { Command } from 'commander';
import { storeLocation } from '../../engine/composition.js';
import { addClusterOptions, type ClusterFlags, CONTEXT_PRECEDENCE, collect, dbOption, overridesOf } from '../common.js';
import { confirm } from '../confirm.js';
import type { Streams } from '../output.js';
import { runVerb } from '../run-session.js';

interface FollowUpOptions extends ClusterFlags {
  linksOnly?: boolean;
  run?: string;
  mesh?: string;
  config?: string;
  dryRun?: boolean;
  injectFailure?: string[];
  force?: boolean;
  yes?: boolean;
  db?: string;
  json?: boolean;
  quiet?: boolean;
}

const ABOUT = {
  verify: {
    description: 'verify the mesh as the Istio verify page does (remotes synced, helloworld v1/v2 and curl, cross-cluster requests), as a resumable run',
    examples: `  mesh-run verify --run mr-k3x9p2qa                  the clusters of that install run (dry or real)
  mesh-run verify --config mesh.yaml                 real clusters from your kubeconfig
  mesh-run verify --dry-run                           the simulated clusters of the latest dry-run install
  mesh-run verify --mesh prod --links-only           only the links: nothing deployed, safe on production clusters`,
    exits: '0 verified',
    badInput: '',
    environment: '',
    removal: undefined,
    // A narrower run of its own kind, started with a flag.
    variant: {
      flag: '--links-only',
      help: 'check only the links between the clusters (every other cluster synced, remote injectors have a CA): deploys no sample (a verify-links run)',
      kind: 'verify-links',
    },
  },
  uninstall: {
    description: 'remove what install (and verify) created: istioctl uninstall --purge and istio-system on every cluster, remotes first, as a resumable run',
    examples: `  mesh-run uninstall --run mr-k3x9p2qa               the clusters of that install run (dry or real)
  mesh-run uninstall --config mesh.yaml              real clusters from your kubeconfig (asks first)
  mesh-run uninstall --config mesh.yaml --yes        the same without asking (CI; required without a terminal)
  mesh-run uninstall --config mesh.yaml --force      also purge an Istio that mesh-run did not install`,
    exits: '0 removed',
    badInput: ' or a real uninstall not confirmed (nothing changed)',
    environment: ', an Istio mesh-run did not install',
    // It deletes: --force and --yes, and a real run asks first.
    removal: { refusal: 'uninstall of real clusters deletes Istio from them: confirm on a terminal, or pass --yes' },
    variant: undefined,
  },
} as const;

export function followUpCommand(kind: 'verify' | 'uninstall', streams: Streams): Command {
  const about = ABOUT[kind];
  const command = new Command(kind)
    .description(about.description)
    .option('--run <id>', 'act on the clusters and config of this install run (or a unique prefix of its id)')
    .option('--mesh <mesh>', 'act on this mesh of the journal (see "mesh-run meshes"): its latest successful install')
    .option('-c, --config <file>', 'YAML config (default: the Istio page: cluster1 primary, cluster2 remote)')
    .option('--dry-run', 'act on simulated clusters (those of the latest dry-run install with the same clusters)')
    .option('--inject-failure <spec>', 'dry run: make <step>[@cluster][:count][:transient] fail (repeatable)', collect);
  if (about.variant) command.option(about.variant.flag, about.variant.help);
  addClusterOptions(command);
  if (about.removal) {
    command
      .option('--force', 'remove Istio even where mesh-run did not install it (the ownership check is skipped, and journaled)')
      .option('-y, --yes', 'real clusters: do not ask before deleting (required without a terminal); dry runs never ask');
  }
  return command
    .addOption(dbOption())
    .option('--json', 'one JSON document on stdout; NDJSON progress events on stderr')
    .option('-q, --quiet', 'no progress output, only the result')
    .addHelpText(
      'after',
      `\nExamples:\n${about.examples}\n\n${CONTEXT_PRECEDENCE}\n--context and --kubeconfig go with --config; --run uses what that run recorded.\n\nExit codes: ${about.exits}, 1 run failed (resumable with "mesh-run resume"), 2 bad input${about.badInput},\n3 environment or store problem (clusters another live run is using${about.environment}),\n130/143 interrupted by SIGINT/SIGTERM (resumable).`,
    )
    .action(async (options: FollowUpOptions) => {
      const { prepareFollowUp } = await import('../../engine/run-api.js');
      const runKind = options.linksOnly && about.variant ? about.variant.kind : kind;
      const request = {
        kind: runKind,
        ...(options.run !== undefined ? { runRef: options.run } : {}),
        ...(options.mesh !== undefined ? { meshRef: options.mesh } : {}),
        ...(options.config !== undefined ? { configPath: options.config } : {}),
        dryRun: Boolean(options.dryRun),
        injections: options.injectFailure ?? [],
        overrides: overridesOf(options),
        force: Boolean(options.force),
        store: storeLocation(options),
        ...(about.removal
          ? {
              confirm: (summary: string[]) =>
                confirm(`${summary.join('\n')}\nDelete these?`, streams, { yes: Boolean(options.yes), refusal: about.removal.refusal }),
            }
          : {}),
      };
      await runVerb(
        streams,
        options,
        (listener) => prepareFollowUp(request, listener),
        (run) => `run ${run.id}${run.targetRun ? ` (${runKind} of ${run.targetRun})` : ''}`,
      );
    });
}
