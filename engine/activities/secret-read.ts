// Reading a Secret's data, for the few steps whose question is about that data (which token a remote secret
// carries, whether its API server accepts it). The data goes into the step's memory only: the command's
// stdout is marked sensitive, so the journal never keeps it, and nothing here prints a value.
import { parse } from 'yaml';
import type { TokenProbe } from '../../adapters/cluster-tools.js';
import { commandFailed } from './failures.js';
import { ISTIO_SYSTEM } from './install.js';
import { kubectl, type StepRuntime } from './step-runtime.js';

export interface SecretJson {
  type?: string;
  metadata?: { name?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  data?: Record<string, string>;
}

export interface Kubeconfig {
  clusters?: Array<{ cluster?: { server?: string; 'certificate-authority-data'?: string } }>;
  users?: Array<{ user?: { token?: string } }>;
}

// A Secret in istio-system read whole, data included: only into this step's memory.
export async function readSecret(rt: StepRuntime, context: string, name: string, where: string): Promise<SecretJson | undefined> {
  const result = await rt.run({ ...kubectl(context, ['get', 'secret', name, '-n', ISTIO_SYSTEM, '-o', 'json'], 'observe'), sensitiveStdout: true });
  if (result.exitCode !== 0) {
    if (/\(NotFound\)|not found/i.test(result.stderr)) return undefined;
    throw commandFailed(`kubectl get secret ${name} on ${where}`, result);
  }
  return JSON.parse(result.stdout) as SecretJson;
}

const decode = (value: string | undefined) => (value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8'));

// The token of a service-account token secret.
export function tokenOf(secret: SecretJson | undefined): string | undefined {
  return decode(secret?.data?.token);
}

// The remote secret's kubeconfig and the token in it. A kubeconfig that does not parse gives an empty one:
// the parser's error quotes the lines around the fault, which would carry the token into a message.
export function kubeconfigOf(secret: SecretJson | undefined, cluster: string): { config: Kubeconfig; token?: string } | undefined {
  const text = decode(secret?.data?.[cluster]);
  if (text === undefined) return undefined;
  let config: Kubeconfig;
  try {
    config = parse(text) as Kubeconfig;
  } catch {
    return { config: {} };
  }
  const token = config?.users?.[0]?.user?.token;
  return token ? { config, token } : { config };
}

// What presenting `token` takes: the API server and its CA as the kubeconfig names them.
export function tokenProbe(config: Kubeconfig | undefined, token: string): TokenProbe | undefined {
  const cluster = config?.clusters?.[0]?.cluster;
  if (!cluster?.server) return undefined;
  return { server: cluster.server, token, ...(cluster['certificate-authority-data'] ? { caData: cluster['certificate-authority-data'] } : {}) };
}
