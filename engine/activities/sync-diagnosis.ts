// Why a primary's istiod does not see a cluster synced, asked the way istiod itself meets that cluster: with
// the address and token its remote secret holds. The secret is read into memory only; the token goes in a
// request header from this process (ClusterTools.presentToken) and is never printed or journaled.
import type { AccessQuestion } from '../../adapters/cluster-tools.js';
import { isLoopbackServer } from '../../shared/api-server.js';
import { remoteSecretName } from './install.js';
import { kubeconfigOf, readSecret, tokenProbe } from './secret-read.js';
import type { StepRuntime } from './step-runtime.js';

// istiod discovers a remote's endpoints through EndpointSlices: a token that may not list them leaves its
// informers unsynced (the reader ClusterRole Istio installs grants this and the other reads istiod makes).
export const ISTIOD_READ: AccessQuestion = { verb: 'list', group: 'discovery.k8s.io', resource: 'endpointslices' };

export interface SyncCause {
  cause: string;
  hint: string;
}

// The cause for `cluster` as seen from `holder` (the primary whose istiod should watch it).
export async function diagnoseUnsynced(rt: StepRuntime, holder: { name: string; context: string }, cluster: string): Promise<SyncCause> {
  const name = remoteSecretName(cluster);
  const found = kubeconfigOf(await readSecret(rt, holder.context, name, holder.name), cluster);
  if (!found) {
    return {
      cause: `${holder.name} holds no remote secret for ${cluster} (istio-system/${name}), so its istiod does not know the cluster`,
      hint: `resume or re-run "mesh-run install" to attach ${cluster}`,
    };
  }
  const probe = found.token ? tokenProbe(found.config, found.token) : undefined;
  if (!probe) {
    return {
      cause: `the remote secret for ${cluster} on ${holder.name} carries no bearer token to check (another credential type, or a kubeconfig that does not parse)`,
      hint: `run "mesh-run secrets audit" to see what it carries`,
    };
  }
  const answer = await rt.presentToken({ ...probe, access: ISTIOD_READ });
  if ('refused' in answer) {
    return {
      cause: `the remote secret for ${cluster} on ${holder.name} names its API server as ${probe.server}, and ${answer.refused} (istiod would send it in the clear too)`,
      hint: `set remotes[].apiServer for ${cluster} to its https:// address, then re-run "mesh-run install" to write the secret again`,
    };
  }
  if ('error' in answer) {
    // From this machine a loopback address reaches this machine; from istiod's pod, the pod itself.
    const loopback = isLoopbackServer(probe.server) ? `; it is a loopback address, so istiod on ${holder.name} dials its own pod there` : '';
    return {
      cause: `${cluster}'s API server at ${probe.server} (the address in its remote secret on ${holder.name}) does not answer: ${answer.error}${loopback}`,
      hint: `set remotes[].apiServer for ${cluster} to an address istiod on ${holder.name} can reach, then re-run "mesh-run install" to write the secret again`,
    };
  }
  if (answer.status === 401) {
    return {
      cause: `${cluster}'s API server refuses the token in the remote secret on ${holder.name} (HTTP 401): it was revoked, or its service account deleted`,
      hint: `run "mesh-run secrets rotate --cluster ${cluster}" to give istiod a new token, or re-run "mesh-run install"`,
    };
  }
  if (answer.allowed === false) {
    const what = `${ISTIOD_READ.verb} ${ISTIOD_READ.resource}.${ISTIOD_READ.group}`;
    return {
      cause: `the token in the remote secret for ${cluster} on ${holder.name} is accepted but may not ${what} there: istiod cannot read that cluster`,
      hint: `the token must belong to istio-reader-service-account, which the remote install binds to Istio's reader ClusterRole; re-run "mesh-run install" to write a secret for that account`,
    };
  }
  return {
    cause: `${cluster}'s API server at ${probe.server} accepts the remote secret's token${answer.allowed ? ` and allows ${ISTIOD_READ.verb} ${ISTIOD_READ.resource}` : ''} (HTTP ${answer.status}); istiod has not caught up`,
    hint: `check istiod's log on ${holder.name} ("kubectl -n istio-system logs -l app=istiod"), then verify again`,
  };
}
