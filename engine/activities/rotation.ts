// The steps of secrets rotate. Tokens are read only where a step must know which one is in use (to name the
// old one, to check the swap, to see the old one refused): into the step's memory, by commands whose output
// the journal never keeps, or (the old token, to see it refused) in a request header from this process; what is
// journaled is a fingerprint (a prefix of the token's hash).
import { createHash } from 'node:crypto';
import { stringify } from 'yaml';
import { tokenTransportRefusal } from '../../adapters/token-probe.js';
import type { ClusterRef, MintedToken, RotationStepInput, StepDone } from '../../machines/types.js';
import { StepError } from '../../shared/errors.js';
import { sleep } from '../../shared/sleep.js';
import { commandFailed } from './failures.js';
import { type ActivityDeps, applyRemoteSecret, ISTIO_SYSTEM, READER_TOKEN, remoteSecretName } from './install.js';
import { Inventory, MANAGED_BY, MESH_RUN, SUBJECTS } from './inventory.js';
import { mustSucceed } from './kube-ops.js';
import { type Kubeconfig, kubeconfigOf, readSecret, type SecretJson, tokenOf, tokenProbe } from './secret-read.js';
import { syncStatus, tokenFingerprint } from './secrets-audit.js';
import { istioctl, kubectl, type StepRuntime } from './step-runtime.js';

const READER = 'istio-reader-service-account';
const SA_TOKEN_TYPE = 'kubernetes.io/service-account-token';
const SA_NAME = 'kubernetes.io/service-account.name';
// How long the token controller may take to fill a new token secret, and the API server to refuse a deleted one.
const TOKEN_WAIT_MS = 30_000;
const POLL_MS = 1_000;

// The token secrets secrets rotate makes (uninstall removes them with the rest of mesh-run's).
export const ROTATED_TOKEN_PREFIX = `${READER}-token-`;

// The token secret a rotation mints, named after the tokens it replaces: a re-run of the step (before the swap)
// finds the one it made instead of making another, and every rotation, starting from other tokens, makes a new one.
export function rotatedSecretName(replacing: readonly string[]): string {
  const digest = createHash('sha256')
    .update([...replacing].sort().join(','))
    .digest('hex')
    .slice(0, 10);
  return `${ROTATED_TOKEN_PREFIX}${digest}`;
}

// The token each holder's remote secret of `cluster` carries now.
async function heldTokens(rt: StepRuntime, cluster: string, holders: readonly ClusterRef[]): Promise<Map<string, { config: Kubeconfig; token: string }>> {
  const held = new Map<string, { config: Kubeconfig; token: string }>();
  for (const holder of holders) {
    const found = kubeconfigOf(await readSecret(rt, holder.context, remoteSecretName(cluster), holder.name), cluster);
    if (!found?.token) {
      throw new StepError(`${holder.name} holds no token for ${cluster} (secret ${ISTIO_SYSTEM}/${remoteSecretName(cluster)}): there is nothing to rotate`, {
        hint: `put the secret back first ("mesh-run resume" of the install or cluster add, or "mesh-run install"), then rotate`,
      });
    }
    held.set(holder.name, { config: found.config, token: found.token });
  }
  return held;
}

// mint-token: a new token secret for the reader account, filled by the token controller; and which of the
// account's token secrets the holders use now (the ones revoke-token deletes once the new one is in use).
export async function mintToken(rt: StepRuntime, input: RotationStepInput): Promise<MintedToken> {
  const held = new Set([...(await heldTokens(rt, input.cluster, input.holders)).values()].map((h) => tokenFingerprint(h.token)));
  const name = rotatedSecretName([...held]);
  const listed = await rt.run({ ...kubectl(input.context, ['get', 'secrets', '-n', ISTIO_SYSTEM, '-o', 'json'], 'observe'), sensitiveStdout: true });
  if (listed.exitCode !== 0) throw commandFailed(`kubectl get secrets on ${input.cluster}`, listed);
  const accountSecrets = ((JSON.parse(listed.stdout) as { items?: SecretJson[] }).items ?? []).filter(
    (s) => s.type === SA_TOKEN_TYPE && s.metadata?.annotations?.[SA_NAME] === READER,
  );
  const previous = accountSecrets
    .filter((s) => s.metadata?.name !== name && tokenOf(s) !== undefined && held.has(tokenFingerprint(tokenOf(s) as string)))
    .map((s) => ({ secret: s.metadata?.name ?? '', fingerprint: tokenFingerprint(tokenOf(s) as string) }));
  if (!accountSecrets.some((s) => s.metadata?.name === name)) {
    const manifest = stringify({
      apiVersion: 'v1',
      kind: 'Secret',
      type: SA_TOKEN_TYPE,
      metadata: { name, namespace: ISTIO_SYSTEM, labels: { [MANAGED_BY]: MESH_RUN }, annotations: { [SA_NAME]: READER } },
    });
    await mustSucceed(
      rt,
      kubectl(input.context, ['apply', '-n', ISTIO_SYSTEM, '-f', '-'], 'act-if-missing', manifest),
      `kubectl apply of secret ${name} on ${input.cluster}`,
    );
  }
  const deadline = rt.now() + TOKEN_WAIT_MS;
  for (;;) {
    const token = tokenOf(await readSecret(rt, input.context, name, input.cluster));
    if (token) {
      const minted = { secret: name, fingerprint: tokenFingerprint(token), previous, finishedAt: rt.now() };
      await rt.report(
        'token-minted',
        `new token ${minted.fingerprint} (secret ${name}) for ${READER} on ${input.cluster}; it replaces ${previous.length > 0 ? previous.map((p) => `${p.fingerprint} (secret ${p.secret})`).join(', ') : 'a token of no secret of that account in istio-system (left as it is)'}`,
      );
      return minted;
    }
    if (rt.now() >= deadline)
      throw new StepError(`secret ${name} on ${input.cluster} has no token after ${TOKEN_WAIT_MS / 1000}s`, {
        retryable: true,
        hint: `the token controller (kube-controller-manager) fills service-account token secrets; check it runs on ${input.cluster}, then resume`,
      });
    rt.note(`waiting for the token controller to fill secret ${name}`);
    await sleep(POLL_MS, rt.signal);
  }
}

function mintedOf(input: RotationStepInput): MintedToken {
  if (!input.minted) throw new StepError(`${input.step} on ${input.cluster} ran before mint-token recorded the new token (internal error)`);
  return input.minted;
}

// swap-secret: the remote secret, same name, now with the new token, on every holder; then each holder's
// copy is checked to carry exactly that token.
export async function swapSecret(rt: StepRuntime, input: RotationStepInput, deps: ActivityDeps): Promise<StepDone> {
  const minted = mintedOf(input);
  for (const holder of input.holders) {
    await applyRemoteSecret(rt, { name: input.cluster, context: input.context }, holder, deps, minted.secret);
  }
  for (const [holder, { token }] of await heldTokens(rt, input.cluster, input.holders)) {
    if (tokenFingerprint(token) !== minted.fingerprint)
      throw new StepError(`${holder}'s secret for ${input.cluster} carries token ${tokenFingerprint(token)}, not the new ${minted.fingerprint}`, {
        retryable: true,
      });
  }
  return { finishedAt: rt.now() };
}

// await-synced: the gate. Every holding istiod must report the cluster synced (with the new token in place)
// before the old token goes.
export async function awaitSynced(rt: StepRuntime, input: RotationStepInput, deps: ActivityDeps): Promise<StepDone> {
  // The run's config says so: asked at the start, or by resume --skip-sync-gate (which updates that config).
  if (deps.config.skipSyncGate) {
    await rt.report(
      'gate-skipped',
      `--skip-sync-gate: whether istiod on ${input.holders.map((h) => h.name).join(', ')} reads ${input.cluster} with the new token was not checked`,
    );
    return { finishedAt: rt.now() };
  }
  const deadline = rt.now() + input.syncTimeoutMs;
  const pending = new Map(input.holders.map((h) => [h.name, h]));
  for (;;) {
    for (const holder of [...pending.values()]) {
      const result = await rt.run({ ...istioctl(holder.context, ['remote-clusters'], 'check'), expectation: `${input.cluster} synced` });
      if (result.exitCode !== 0) {
        throw commandFailed(
          `istioctl remote-clusters on ${holder.name}`,
          result,
          `the old token is still valid and in place; once istiod on ${holder.name} answers, resume (or pass --skip-sync-gate where no istiod can be asked, and check by hand)`,
        );
      }
      if (syncStatus(result.stdout).get(input.cluster) === 'synced') pending.delete(holder.name);
    }
    if (pending.size === 0) return { finishedAt: rt.now() };
    if (rt.now() >= deadline) {
      throw new StepError(
        `istiod on ${[...pending.keys()].join(', ')} does not report ${input.cluster} synced with the new token after ${Math.round(input.syncTimeoutMs / 1000)}s`,
        {
          retryable: true,
          hint: `the old token is still valid, so nothing is cut off; check "istioctl remote-clusters" and istiod's log on ${[...pending.keys()].join(', ')}, then resume`,
        },
      );
    }
    rt.note(`waiting for istiod on ${[...pending.keys()].join(', ')} to report ${input.cluster} synced`);
    await sleep(POLL_MS, rt.signal);
  }
}

// Whether mesh-run made this token secret: a rotation's (mesh-run's label), or the one istioctl made for the
// install's remote secret where the install found none (istioctl reuses any token secret of the account, so
// one a user made before is the user's, and other tools may hold its token).
function madeByMeshRun(secret: SecretJson, cluster: string, inventory: Inventory): boolean {
  if (secret.metadata?.labels?.[MANAGED_BY] === MESH_RUN) return true;
  return secret.metadata?.name === READER_TOKEN && inventory.absentBefore(cluster, SUBJECTS.readerToken);
}

// revoke-token: each token the holders used before is deleted with its secret, then presented to the API
// server until it is refused. A token secret that now holds another token, or one a holder still uses, is kept;
// so is one mesh-run did not make (reported, with the command that revokes it).
export async function revokeToken(rt: StepRuntime, input: RotationStepInput, deps: ActivityDeps): Promise<StepDone> {
  const minted = mintedOf(input);
  const held = await heldTokens(rt, input.cluster, input.holders);
  const probeBase = [...held.values()][0]?.config;
  for (const old of minted.previous) {
    const secret = await readSecret(rt, input.context, old.secret, input.cluster);
    const token = tokenOf(secret);
    if (!secret) {
      await rt.report(
        'revoked',
        `${input.cluster}: secret ${old.secret} (token ${old.fingerprint}) was deleted by an earlier attempt; its refusal was not checked again`,
      );
      continue;
    }
    if (!token || tokenFingerprint(token) !== old.fingerprint) {
      await rt.report('kept', `secret ${old.secret} on ${input.cluster} now holds another token than ${old.fingerprint}; kept`);
      continue;
    }
    const users = [...held.entries()].filter(([, h]) => tokenFingerprint(h.token) === old.fingerprint).map(([name]) => name);
    if (users.length > 0)
      throw new StepError(`${users.join(', ')} still read ${input.cluster} with token ${old.fingerprint}: not revoking it`, { retryable: true });
    if (!madeByMeshRun(secret, input.cluster, deps.inventory ?? Inventory.empty())) {
      await rt.report(
        'kept-valid',
        `secret ${old.secret} on ${input.cluster} (old token ${old.fingerprint}) was there before mesh-run, so its token stays valid; no holder uses it now. Revoke it once nothing else does: kubectl --context ${input.context} -n ${ISTIO_SYSTEM} delete secret ${old.secret}`,
      );
      continue;
    }
    // Once deleted, the old token must be seen refused; over plain HTTP it cannot be presented: stop first.
    const refused = tokenTransportRefusal(probeBase?.clusters?.[0]?.cluster?.server ?? '');
    if (refused)
      throw new StepError(`cannot check the old token ${old.fingerprint} of ${input.cluster} is refused once revoked: ${refused}; nothing was deleted`, {
        hint: plainHttpHint(input.cluster),
      });
    await mustSucceed(
      rt,
      kubectl(input.context, ['delete', 'secret', old.secret, '-n', ISTIO_SYSTEM, '--ignore-not-found'], 'act'),
      `kubectl delete secret ${old.secret} on ${input.cluster}`,
    );
    if (await readSecret(rt, input.context, old.secret, input.cluster))
      throw new StepError(`secret ${old.secret} on ${input.cluster} is still there after deleting it`, { retryable: true });
    await expectRefused(rt, input, probeBase, token, old.fingerprint);
    await rt.report('revoked', `old token ${old.fingerprint} (secret ${old.secret}) deleted on ${input.cluster}; its API server refuses it`);
  }
  return { finishedAt: rt.now() };
}

function plainHttpHint(cluster: string): string {
  return `the holders' remote secrets address ${cluster} over plain HTTP; set remotes[].apiServer for ${cluster} to its https:// address, re-run "mesh-run install" to write the secrets again, then rotate`;
}

// Presents `token` to the cluster's API server (its address and CA as the holders' kubeconfig names them)
// until it answers 401. The token goes in a request header from this process: in no argv, file or pipe.
async function expectRefused(rt: StepRuntime, input: RotationStepInput, base: Kubeconfig | undefined, token: string, fingerprint: string): Promise<void> {
  const probe = tokenProbe(base, token);
  if (!probe) throw new StepError(`no holder's kubeconfig for ${input.cluster} names its API server to present the old token to (internal error)`);
  const deadline = rt.now() + TOKEN_WAIT_MS;
  for (;;) {
    const answer = await rt.presentToken(probe);
    if ('refused' in answer)
      throw new StepError(`presenting the old token to ${input.cluster}'s API server: ${answer.refused}`, { hint: plainHttpHint(input.cluster) });
    if ('error' in answer)
      throw new StepError(`presenting the old token to ${input.cluster}'s API server (${probe.server}) failed: ${answer.error}`, {
        retryable: true,
        hint: `the old token's secret is gone already; resume once ${probe.server} answers to check it is refused`,
      });
    if (answer.status === 401) return;
    if (rt.now() >= deadline)
      throw new StepError(
        `the API server of ${input.cluster} still accepts the old token ${fingerprint} (HTTP ${answer.status}) ${TOKEN_WAIT_MS / 1000}s after its secret was deleted`,
        {
          retryable: true,
          hint: 'its authentication cache may hold it; resume to check again',
        },
      );
    rt.note(`the API server of ${input.cluster} still accepts the old token (HTTP ${answer.status}, cached); asking again`);
    await sleep(POLL_MS, rt.signal);
  }
}
