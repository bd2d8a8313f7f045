// istioctl as the simulator answers it: install (render, apply, prune), uninstall, create-remote-secret,
// remote-clusters, proxy-status, tag, x precheck, version. Each verb is a handler in its own module; this one
// parses the command line and picks the handler.
import type { CommandResult } from '../cluster-tools.js';
import { isTrue, parseArgs } from './argv.js';
import { install, uninstall } from './istioctl-install.js';
import { remoteClusters } from './istioctl-remote-clusters.js';
import { createRemoteSecret } from './istioctl-remote-secret.js';
import { fail, type IstioctlEnv, ok } from './istioctl-result.js';
import { proxyStatus, tagCommand } from './revisions.js';
import type { SimCluster } from './sim-cluster.js';

export { renderIstioOperator } from './istio-operator-render.js';
export type { IstioctlEnv } from './istioctl-result.js';

const VALUED = new Set([
  'context',
  'filename',
  'namespace',
  'istioNamespace',
  'name',
  'server',
  'output',
  'revision',
  'kubeconfig',
  'remote',
  'readiness-timeout',
  'set',
  'secret-name',
]);
const ALIASES = { f: 'filename', n: 'namespace', i: 'istioNamespace', o: 'output', r: 'revision', y: 'skip-confirmation', s: 'set' };

// One command against one cluster, as a verb's handler sees it.
interface IstioctlCall {
  env: IstioctlEnv;
  cluster: SimCluster;
  contextName: string;
  positionals: string[];
  flags: Map<string, string>;
  stdin: string | undefined;
  version: string;
}

function precheck({ env, contextName }: IstioctlCall): CommandResult {
  if (env.settings.contexts.find((c) => c.name === contextName)?.unreachable) return fail('Error: failed to get the Kubernetes version: i/o timeout');
  return ok(
    '',
    '✔ No issues found when checking the cluster. Istio is safe to install or upgrade!\n  To get started, check out https://istio.io/latest/docs/setup/getting-started/\n',
  );
}

// The verbs that act on a cluster (a Map: a verb such as "constructor" is no handler). A handler that answers
// undefined does not know the command.
const VERBS = new Map<string, (call: IstioctlCall) => CommandResult | undefined>([
  ['install', (c) => install(c.cluster, c.flags, c.stdin, c.version)],
  ['create-remote-secret', (c) => createRemoteSecret(c.cluster, c.flags)],
  ['uninstall', (c) => uninstall(c.cluster, c.flags, c.stdin)],
  ['remote-clusters', (c) => remoteClusters(c.env, c.cluster, c.flags.get('revision'))],
  ['proxy-status', (c) => proxyStatus(c.env, c.cluster, c.flags.get('revision'), c.version)],
  ['tag', (c) => tagCommand(c.cluster, c.positionals, c.flags, isTrue(c.flags, 'skip-confirmation'), isTrue(c.flags, 'overwrite'))],
  ['x', (c) => (c.positionals[1] === 'precheck' ? precheck(c) : undefined)],
]);

function clientVersion(version: string, flags: Map<string, string>): CommandResult {
  if (flags.get('output') === 'json')
    return ok(`${JSON.stringify({ clientVersion: { version, revision: 'simulated', golang_version: 'go1.24.4', status: 'Clean', tag: version } }, null, 2)}\n`);
  return ok(`client version: ${version}\n`);
}

// Runs one istioctl command against the simulated clusters.
export function runIstioctl(env: IstioctlEnv, args: readonly string[], stdin: string | undefined): CommandResult {
  const parsed = parseArgs(args, VALUED, ALIASES);
  if ('error' in parsed) return { exitCode: 64, stdout: '', stderr: `Error: ${parsed.error}\n` };
  const { positionals, flags } = parsed;
  const verb = positionals[0];
  const version = env.settings.istioVersion;
  if (verb === 'version') return clientVersion(version, flags);
  const contextName = flags.get('context') ?? env.settings.contexts[0]?.name ?? '';
  const cluster = env.cluster(contextName);
  if (!cluster) return fail(`Error: context "${contextName}" does not exist`);
  const handler = verb === undefined ? undefined : VERBS.get(verb);
  const answered = handler?.({ env, cluster, contextName, positionals, flags, stdin, version });
  return answered ?? { exitCode: 64, stdout: '', stderr: `Error: unknown command "${verb ?? ''}" for "istioctl"\n` };
}
