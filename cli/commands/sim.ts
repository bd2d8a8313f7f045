// mesh-run sim kubectl|istioctl --mesh <mesh> --context <cluster> -- <args>: the simulated tool on one simulated
// cluster of a dry-run mesh, its output and exit code passed through, so a rehearsal mesh can be changed by hand.
import { Command } from 'commander';
import { storeLocation } from '../../engine/composition.js';
import { dbOption } from '../common.js';
import { ExitRequest } from '../exit.js';
import type { Streams } from '../output.js';

type Tool = 'kubectl' | 'istioctl';

interface SimOptions {
  mesh: string;
  context: string;
  db?: string;
  store?: string;
}

const EXAMPLES: Record<Tool, string> = {
  kubectl: `  mesh-run sim kubectl --mesh mesh1 --context cluster1 -- -n istio-system get secrets
  mesh-run sim kubectl --mesh mesh1 --context cluster1 -- -n istio-system delete secret istio-remote-secret-cluster2
  mesh-run sim kubectl --mesh mesh1 --context cluster2 -- label namespace istio-system topology.istio.io/network-
  mesh-run sim kubectl --mesh mesh1 --context cluster1 -- apply -f - < gateway.yaml`,
  istioctl: `  mesh-run sim istioctl --mesh mesh1 --context cluster1 -- remote-clusters
  mesh-run sim istioctl --mesh mesh1 --context cluster1 -- proxy-status`,
};

const EXIT_CODES = `Exit codes: the simulated tool's own (kubectl: 0 done, 1 failed, as kubectl's are), its stdout and stderr
passed through. mesh-run's own refusals print "mesh-run: error:" first (so a 2, 3 or 4 is known to be
mesh-run's, not the tool's): 2 bad input (no arguments, a context not of the mesh, a mesh on real clusters),
3 store problem (or the mesh's simulated clusters are not in it), 4 no such mesh.`;

// kubectl apply -f - and create -f - read a manifest from stdin, as they would from a real shell.
function readsStdin(args: readonly string[]): boolean {
  return args.some((a, i) => a === '--filename=-' || a === '-f=-' || (a === '-' && (args[i - 1] === '-f' || args[i - 1] === '--filename')));
}

async function stdinText(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

function toolCommand(tool: Tool, streams: Streams): Command {
  return (
    new Command(tool)
      .description(`${tool} on one simulated cluster of a dry-run mesh: output and exit code are the simulated ${tool}'s`)
      .argument('[args...]', `${tool}'s arguments, after -- (untouched: -n, -o, even --context=…)`)
      .requiredOption('--mesh <mesh>', 'a dry-run mesh of the journal (see "mesh-run meshes")')
      .requiredOption('--context <cluster>', "one of the mesh's clusters, by name or by kube context")
      .addOption(dbOption())
      // Options after the first argument are the tool's: commander stops at it (or at --) and passes the rest on.
      .passThroughOptions()
      .addHelpText(
        'after',
        `
mesh-run puts --context=<the cluster's context> before the arguments; a --context among them wins, as
kubectl's last flag does. The command changes the simulated clusters only: it starts no run and writes nothing
to the journal (a later "mesh-run mesh discover --mesh <mesh>", verify or resume sees what it changed). A
Secret's data it prints is the simulated cluster's, as kubectl would print a real one's.

Examples:
${EXAMPLES[tool]}

${EXIT_CODES}`,
      )
      .action(async (args: string[], options: SimOptions) => {
        const { simCommand } = await import('../../engine/run-api.js');
        const result = await simCommand({
          tool,
          meshRef: options.mesh,
          context: options.context,
          args,
          ...(readsStdin(args) ? { stdin: await stdinText() } : {}),
          store: storeLocation(options),
        });
        streams.stdout.write(result.stdout);
        streams.stderr.write(result.stderr);
        if (result.exitCode !== 0) throw new ExitRequest(result.exitCode);
      })
  );
}

export function simCommand(streams: Streams): Command {
  return (
    new Command('sim')
      .description('kubectl or istioctl against the simulated clusters of a dry-run mesh: change a rehearsal mesh by hand')
      // The tool's arguments belong to kubectl or istioctl, not to sim: they pass through to it untouched.
      .enablePositionalOptions()
      .addCommand(toolCommand('kubectl', streams))
      .addCommand(toolCommand('istioctl', streams))
      .addHelpText(
        'after',
        `
A dry run (install --dry-run, mesh adopt --dry-run) keeps its clusters in the journal's store. These commands
reach them as an operator's kubectl reaches a real cluster, to make what a rehearsal should meet: a deleted
remote secret, a missing network label, a gateway moved. A mesh on real clusters is refused: use kubectl itself.

Examples:
${EXAMPLES.kubectl.split('\n').slice(0, 2).join('\n')}
${EXAMPLES.istioctl.split('\n')[0]}

${EXIT_CODES}`,
      )
  );
}
