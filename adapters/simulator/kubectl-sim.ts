// kubectl as the simulator answers it: the subset of verbs mesh-run uses, with kubectl's messages and exit codes.
// Each verb is a handler in its own module; this one parses the command line and picks the handler.
import type { CommandResult } from '../cluster-tools.js';
import { isTrue, parseArgs } from './argv.js';
import { istiodRestarted, publishToRemotes, reconcileDeployments, syncRemoteWebhooks } from './controllers.js';
import { cacertsWritten, istiodLoadsCa, rawGet } from './istiod-ca.js';
import { apply, create } from './kubectl-apply.js';
import { CLIENT_VERSION, clientOnly } from './kubectl-client.js';
import { remove } from './kubectl-delete.js';
import { exec } from './kubectl-exec.js';
import { get } from './kubectl-get.js';
import { setMetadata } from './kubectl-metadata.js';
import { fail, type KubectlEnv, ok } from './kubectl-result.js';
import { rolloutRestart, rolloutStatus } from './kubectl-rollout.js';
import { type ResourceType, resourceType } from './objects.js';
import type { SimCluster } from './sim-cluster.js';

export { jsonpath } from './kubectl-printers.js';
export type { KubectlEnv } from './kubectl-result.js';

const VALUED = new Set(['context', 'namespace', 'output', 'filename', 'selector', 'timeout', 'request-timeout', 'kubeconfig', 'container', 'field-manager']);
const ALIASES = { n: 'namespace', o: 'output', f: 'filename', l: 'selector', A: 'all-namespaces', c: 'container' };

// One command against one cluster, as a verb's handler sees it.
interface KubectlCall {
  env: KubectlEnv;
  cluster: SimCluster;
  positionals: string[];
  flags: Map<string, string>;
  rest: string[];
  namespace: string;
  stdin: string | undefined;
}

function serverVersion({ env }: KubectlCall): CommandResult {
  const v = env.settings.kubernetesVersion;
  const [major, minor] = v.replace(/^v/, '').split('.');
  return ok(`${JSON.stringify({ clientVersion: CLIENT_VERSION, serverVersion: { gitVersion: v, major, minor } }, null, 2)}\n`);
}

function getVerb({ env, cluster, positionals, namespace, flags }: KubectlCall): CommandResult {
  if (isTrue(flags, 'raw')) return rawGet(cluster, positionals[1] ?? '');
  if (/^mutatingwebhookconfiguration/.test(positionals[1] ?? '')) syncRemoteWebhooks(env, cluster);
  // Only reads of workloads need the controllers to have caught up.
  if (/^(pods?|po|deploy(ment)?s?)([./]|$)/.test(positionals[1] ?? '')) reconcileDeployments(env, cluster, namespace);
  return get(cluster, positionals.slice(1), namespace, flags);
}

// A cacerts written: an istiod that reloads plugged-in CA files picks it up.
function afterWrite(cluster: SimCluster, result: CommandResult): CommandResult {
  if (result.exitCode === 0 && /secret\/cacerts /.test(result.stdout)) cacertsWritten(cluster);
  return result;
}

function createVerb({ cluster, positionals, flags, namespace, stdin }: KubectlCall): CommandResult {
  if (flags.get('filename') === '-') return afterWrite(cluster, create(cluster, stdin ?? '', flags.has('namespace') ? namespace : undefined));
  if (positionals[1] !== 'namespace' && positionals[1] !== 'ns') return fail(`error: the simulator supports "create namespace" and "create -f -" only`);
  const name = positionals[2];
  if (!name) return fail('error: exactly one NAME is required, got 0');
  const type = resourceType('namespace') as ResourceType;
  if (cluster.get(type, '', name)) return fail(`Error from server (AlreadyExists): namespaces "${name}" already exists`);
  cluster.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name }, status: { phase: 'Active' } });
  return ok(`namespace/${name} created\n`);
}

function applyVerb({ env, cluster, flags, namespace, stdin }: KubectlCall): CommandResult {
  if (flags.get('filename') !== '-') return fail('error: the simulator applies manifests from stdin only (-f -)');
  const serverSide = isTrue(flags, 'server-side');
  if (!serverSide && flags.has('force-conflicts')) return fail('error: --force-conflicts only works with --server-side');
  const applied = apply(
    cluster,
    stdin ?? '',
    flags.has('namespace') ? namespace : undefined,
    serverSide ? { serverSide: true, manager: flags.get('field-manager') ?? 'kubectl' } : { serverSide: false },
  );
  // A remote secret applied here: the istiod of this cluster starts reading that remote at once.
  if (applied.exitCode === 0) publishToRemotes(env, cluster);
  return afterWrite(cluster, applied);
}

function rolloutVerb({ env, cluster, positionals, namespace }: KubectlCall): CommandResult {
  if (positionals[1] === 'restart') {
    const restarted = rolloutRestart(cluster, positionals.slice(2), namespace);
    reconcileDeployments(env, cluster, namespace);
    // istiod restarted: it reads cacerts anew.
    if (namespace === 'istio-system' && /^deployment\.apps\/istiod(-\S+)? restarted$/m.test(restarted.stdout)) {
      istiodRestarted(env, cluster);
      istiodLoadsCa(cluster);
    }
    return restarted;
  }
  reconcileDeployments(env, cluster, namespace);
  return rolloutStatus(cluster, positionals.slice(1), namespace);
}

function execVerb({ env, cluster, positionals, namespace, flags, rest }: KubectlCall): CommandResult {
  reconcileDeployments(env, cluster, namespace);
  return exec(env, cluster, positionals[1], namespace, flags.get('container'), rest);
}

// The verbs that act on a cluster (a Map: a verb such as "constructor" is no handler).
const VERBS = new Map<string, (call: KubectlCall) => CommandResult>([
  ['version', serverVersion],
  ['get', getVerb],
  ['create', createVerb],
  ['annotate', (c) => setMetadata('annotations', c.cluster, c.positionals.slice(1), c.namespace, isTrue(c.flags, 'overwrite'))],
  ['apply', applyVerb],
  ['rollout', rolloutVerb],
  ['label', (c) => setMetadata('labels', c.cluster, c.positionals.slice(1), c.namespace, isTrue(c.flags, 'overwrite'))],
  ['delete', (c) => remove(c.cluster, c.positionals.slice(1), c.namespace, isTrue(c.flags, 'ignore-not-found'))],
  ['exec', execVerb],
]);

function serverHost(env: KubectlEnv, context: string): string {
  return (env.settings.contexts.find((c) => c.name === context)?.server ?? '').replace(/^https?:\/\//, '');
}

// Runs one kubectl command against the simulated clusters.
export function runKubectl(env: KubectlEnv, args: readonly string[], stdin: string | undefined): CommandResult {
  const parsed = parseArgs(args, VALUED, ALIASES);
  if ('error' in parsed) return fail(`error: ${parsed.error}\nSee 'kubectl --help' for usage.`);
  const { positionals, flags, rest } = parsed;
  const verb = positionals[0];
  // kubectl's jsonpath parser takes \n (two characters) in a {"..."} literal; a real newline there it refuses.
  const template = flags.get('output')?.startsWith('jsonpath=') ? (flags.get('output') as string).slice('jsonpath='.length) : undefined;
  if (template !== undefined && /\{"[^"]*\n[^"]*"\}/.test(template)) return fail(`error: error parsing jsonpath ${template}, unterminated quoted string`);
  const answered = clientOnly(env, positionals, flags);
  if (answered) return answered;

  const contextName = flags.get('context') ?? env.settings.contexts[0]?.name ?? '';
  const cluster = env.cluster(contextName);
  if (!cluster) return fail(`error: context "${contextName}" does not exist`);
  const unreachable = env.settings.contexts.find((c) => c.name === contextName)?.unreachable;
  if (unreachable) return fail(`Unable to connect to the server: dial tcp ${serverHost(env, contextName)}: i/o timeout`);
  const handler = verb === undefined ? undefined : VERBS.get(verb);
  if (!handler) return fail(`error: unknown command "${verb ?? ''}" for "kubectl"`);
  return handler({ env, cluster, positionals, flags, rest, namespace: flags.get('namespace') ?? 'default', stdin });
}
