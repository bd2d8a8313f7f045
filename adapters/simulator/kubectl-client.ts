// What kubectl answers from its kubeconfig alone, before it dials a cluster: config get-contexts, config view,
// version --client.
import type { CommandResult } from '../cluster-tools.js';
import { isTrue } from './argv.js';
import { jsonpath } from './kubectl-printers.js';
import { fail, type KubectlEnv, ok } from './kubectl-result.js';

export const CLIENT_VERSION = { gitVersion: 'v1.32.3', major: '1', minor: '32' };

function configView(env: KubectlEnv, flags: Map<string, string>): CommandResult {
  const name = flags.get('context') ?? env.settings.contexts[0]?.name ?? '';
  const ctx = env.settings.contexts.find((c) => c.name === name);
  if (!ctx) return fail(`error: context "${name}" does not exist`);
  const user = ctx.user?.exec
    ? { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: ctx.user.exec } }
    : ctx.user?.authProvider
      ? { 'auth-provider': { name: ctx.user.authProvider } }
      : { 'client-certificate-data': 'DATA+OMITTED' };
  const view = {
    clusters: [{ name: ctx.name, cluster: { server: ctx.server } }],
    contexts: [{ name: ctx.name, context: { cluster: ctx.name, user: ctx.name } }],
    users: [{ name: ctx.name, user }],
    'current-context': ctx.name,
  };
  const output = flags.get('output');
  return ok(output?.startsWith('jsonpath=') ? jsonpath(view, output.slice('jsonpath='.length)) : `${JSON.stringify(view, null, 2)}\n`);
}

// The answer when the command needs no cluster; undefined when it does.
export function clientOnly(env: KubectlEnv, positionals: string[], flags: Map<string, string>): CommandResult | undefined {
  const verb = positionals[0];
  if (verb === 'config' && positionals[1] === 'get-contexts') return ok(env.settings.contexts.map((c) => `${c.name}\n`).join(''));
  if (verb === 'config' && positionals[1] === 'view') return configView(env, flags);
  if (verb === 'version' && isTrue(flags, 'client')) return ok(`${JSON.stringify({ clientVersion: CLIENT_VERSION }, null, 2)}\n`);
  return undefined;
}
