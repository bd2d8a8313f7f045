// mesh-run mesh adopt: a running mesh that mesh-run did not install becomes a mesh of the journal, so every
// day-2 verb works on it. Its clusters are read (as "mesh discover" reads them), then the adoption runs as a
// resumable run that changes nothing on them and records what they run as there before mesh-run.
import { type Command, Option } from 'commander';
import { storeLocation } from '../../engine/composition.js';
import type { DiscoveryReport } from '../../engine/types.js';
import { addClusterOptions, type ClusterFlags, CONTEXT_PRECEDENCE, dayTwoRunOptions, overridesOf } from '../common.js';
import { painter, type Streams } from '../output.js';
import { discoveryText } from '../render/discovery.js';
import { runVerb } from '../run-session.js';

interface AdoptOptions extends ClusterFlags {
  name: string;
  config?: string;
  dryRun?: boolean;
  simWorld?: string;
  acceptFindings?: boolean;
  injectFailure?: string[];
  db?: string;
  store?: string;
  json?: boolean;
  quiet?: boolean;
}

export function addAdoptCommand(mesh: Command, streams: Streams): void {
  const adopt = mesh
    .command('adopt')
    .description(
      'make a running mesh that mesh-run did not install (istioctl, Helm, by hand) a mesh of the journal: read its clusters, check them, record what they run; changes nothing on them',
    )
    .requiredOption('--name <mesh>', "the mesh's name in mesh-run: its meshID (values.global.meshID)")
    .option('-c, --config <file>', 'the clusters of this config, and its tools, timeouts and trust (the roles are discovered, not taken from it)')
    .option('--dry-run', "rehearse on simulated clusters: the config's mesh is built there by hand (Istio's commands, no mesh-run install), then adopted")
    .addOption(new Option('--sim-world <id>', 'with --dry-run: adopt the simulated clusters of this world in the database instead').hideHelp())
    .option('--accept-findings', 'adopt the clusters that fit even with blocking findings, recording each finding in the journal');
  dayTwoRunOptions(addClusterOptions(adopt))
    .addHelpText(
      'after',
      `
What it reads is what "mesh-run mesh discover" shows (kubectl get only; a remote secret's token is never kept).
A blocking finding (a remote secret for a cluster nobody named, two roots, a remote whose primary holds no
secret for it, differing meshIDs, a remote pointing at a gateway address that is gone) refuses the adoption;
--accept-findings adopts what fits and journals every finding.

Adopted, the mesh is in "mesh-run meshes" and every day-2 verb works on it: verify, secrets audit and rotate,
cluster add and remove, upgrade and rollback. Everything adoption found is recorded as there before mesh-run:
"mesh-run uninstall --mesh <mesh>" refuses an adopted mesh, and with --force names every object it deletes.

Examples:
  mesh-run mesh adopt --name mesh1 --context cluster1=kind-east --context cluster2=kind-west
  mesh-run mesh adopt --name mesh1 -c mesh.yaml
  mesh-run mesh adopt --name mesh1 -c mesh.yaml --dry-run       rehearse on simulated clusters

${CONTEXT_PRECEDENCE}

Exit codes: 0 adopted, 1 run failed (resumable with "mesh-run resume"), 2 bad input (nothing recorded),
3 a blocking finding (listed), no mesh on the clusters, or the mesh is in the journal already.`,
    )
    .action(async (options: AdoptOptions) => {
      const { prepareAdopt } = await import('../../engine/run-api.js');
      let report: (DiscoveryReport & { target: string }) | undefined;
      await runVerb(
        streams,
        options,
        async (listener) => {
          const adopted = await prepareAdopt(
            {
              name: options.name,
              ...(options.config !== undefined ? { configPath: options.config } : {}),
              overrides: overridesOf(options),
              dryRun: Boolean(options.dryRun),
              ...(options.simWorld !== undefined ? { world: options.simWorld } : {}),
              acceptFindings: Boolean(options.acceptFindings),
              injections: options.injectFailure ?? [],
              store: storeLocation(options),
            },
            listener,
          );
          report = adopted.report;
          if (!options.json && !options.quiet) streams.stdout.write(discoveryText(adopted.report, painter(streams.stdout)));
          return adopted.prepared;
        },
        (run) =>
          `run ${run.id} (adoption of mesh ${options.name}: ${report?.topology ?? run.topology}${run.mode === 'dry-run' ? ', on simulated clusters' : ''})`,
      );
    });
}
