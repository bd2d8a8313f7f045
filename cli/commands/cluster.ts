// mesh-run cluster add | remove: one cluster joins or leaves a mesh of the journal, as a resumable run.
import { Command, Option } from 'commander';
import { storeLocation } from '../../engine/composition.js';
import { dayTwoRunOptions } from '../common.js';
import { confirm } from '../confirm.js';
import type { Streams } from '../output.js';
import { runVerb } from '../run-session.js';

interface ChangeOptions {
  mesh: string;
  name: string;
  context?: string;
  role?: 'primary' | 'remote';
  network?: string;
  controlPlane?: string;
  apiServer?: string;
  injectFailure?: string[];
  dryRun?: boolean;
  force?: boolean;
  yes?: boolean;
  db?: string;
  store?: string;
  json?: boolean;
  quiet?: boolean;
}

const EXITS = `Exit codes: 0 done, 1 run failed (resumable with "mesh-run resume"), 2 bad input (nothing changed),
3 the mesh cannot take the change (not installed, a primary still serving remotes) or clusters another live run is using,
130/143 interrupted by SIGINT/SIGTERM (resumable).`;

// The headline's note for a rehearsal: --dry-run on a mesh of real clusters.
export function rehearsed(run: { mode: string }, options: { dryRun?: boolean }): string {
  return options.dryRun && run.mode === 'dry-run' ? '; a rehearsal on simulated clusters' : '';
}

function common(command: Command): Command {
  return dayTwoRunOptions(
    command
      .requiredOption('--mesh <mesh>', 'the mesh (see "mesh-run meshes")')
      .requiredOption('--name <cluster>', 'the cluster (its clusterName in Istio)')
      .option('--dry-run', 'a real mesh: rehearse on a simulated copy of it as the journal records it (no real cluster is touched)'),
  );
}

function addCommand(streams: Streams): Command {
  return common(
    new Command('add').description(
      "bring one cluster into an installed mesh: only the steps it needs (namespace, annotation, network label, install, gateway) and its secrets in every direction the topology requires; the mesh's record changes when the run succeeds",
    ),
  )
    .requiredOption('--context <context>', 'its kube context (a dry-run mesh gains a simulated cluster of that name)')
    .addOption(new Option('--role <role>', 'its role').choices(['remote', 'primary']).default('remote'))
    .option('--network <network>', "its network (default: its control plane's)")
    .option('--control-plane <primary>', 'a remote: the primary that serves it (default: the only primary)')
    .option('--api-server <url>', 'the API server address its remote secret carries (when the kubeconfig one is unreachable from the primaries)')
    .addHelpText(
      'after',
      `\nExamples:\n  mesh-run cluster add --mesh mesh1 --name cluster3 --context kind-cluster3\n  mesh-run cluster add --mesh fleet --name east-2 --context east-2 --role primary --network east\n  mesh-run cluster add --mesh prod --name cluster3 --context c3 --dry-run     rehearse on a simulated copy of real mesh prod\n  mesh-run plan cluster-add --mesh mesh1 --name cluster3 --context kind-cluster3   the commands, without running them\n\n${EXITS}`,
    )
    .action(async (options: ChangeOptions) => {
      const { prepareClusterAdd } = await import('../../engine/run-api.js');
      const request = {
        meshRef: options.mesh,
        cluster: {
          name: options.name,
          context: options.context as string,
          role: options.role ?? 'remote',
          ...(options.network !== undefined ? { network: options.network } : {}),
          ...(options.controlPlane !== undefined ? { controlPlane: options.controlPlane } : {}),
          ...(options.apiServer !== undefined ? { apiServer: options.apiServer } : {}),
        },
        injections: options.injectFailure ?? [],
        dryRun: Boolean(options.dryRun),
        store: storeLocation(options),
      };
      await runVerb(
        streams,
        options,
        (listener) => prepareClusterAdd(request, listener),
        (run) => `run ${run.id} (cluster add of ${options.name} to mesh ${options.mesh}${rehearsed(run, options)})`,
      );
    });
}

function removeCommand(streams: Streams): Command {
  return common(
    new Command('remove').description(
      'take one cluster out of an installed mesh: its secret off every primary first (nobody routes to it), then its Istio, removing only what mesh-run created; refuses the last primary, and a primary that still serves remotes',
    ),
  )
    .option('--force', 'remove its Istio even where mesh-run did not install it (the ownership check is skipped, and journaled)')
    .option('-y, --yes', 'real clusters: do not ask before deleting (required without a terminal); dry runs never ask')
    .addHelpText(
      'after',
      `\nExamples:\n  mesh-run cluster remove --mesh mesh1 --name cluster3\n  mesh-run cluster remove --mesh mesh1 --name cluster3 --yes     no question (CI)\n\n${EXITS}`,
    )
    .action(async (options: ChangeOptions) => {
      const { prepareClusterRemove } = await import('../../engine/run-api.js');
      const request = {
        meshRef: options.mesh,
        name: options.name,
        injections: options.injectFailure ?? [],
        dryRun: Boolean(options.dryRun),
        force: Boolean(options.force),
        store: storeLocation(options),
        confirm: (summary: string[]) =>
          confirm(`${summary.join('\n')}\nRemove it?`, streams, {
            yes: Boolean(options.yes),
            refusal: 'cluster remove of a real cluster deletes Istio from it: confirm on a terminal, or pass --yes',
          }),
      };
      await runVerb(
        streams,
        options,
        (listener) => prepareClusterRemove(request, listener),
        (run) => `run ${run.id} (cluster remove of ${options.name} from mesh ${options.mesh}${rehearsed(run, options)})`,
      );
    });
}

export function clusterCommand(streams: Streams): Command {
  return new Command('cluster')
    .description('day 2: add a cluster to an installed mesh, or remove one, each as a resumable run')
    .addHelpText(
      'after',
      `\nExamples:\n  mesh-run cluster add --mesh mesh1 --name cluster3 --context kind-cluster3\n  mesh-run cluster remove --mesh mesh1 --name cluster3\n\n${EXITS}`,
    )
    .addCommand(addCommand(streams))
    .addCommand(removeCommand(streams));
}
