// Helpers for the real-cluster suite: kubectl against the harness kubeconfig, the mesh-run config it needs.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';

export const STATE = process.env.MESH_RUN_E2E_STATE ?? join(process.env.TMPDIR ?? tmpdir(), 'mesh-run-e2e');
export const KUBECONFIG = join(STATE, 'kubeconfig');
const CACHE = process.env.MESH_RUN_E2E_CACHE ?? join(homedir(), '.cache', 'mesh-run-e2e');

export function istioctlPath(): string {
  const dir = readdirSync(CACHE).find((d) => d.startsWith('istioctl-'));
  if (!dir) throw new Error(`no istioctl built in ${CACHE}; run npm run e2e:up`);
  return join(CACHE, dir, 'istioctl');
}

export function kubectl(context: string, args: string[]): string {
  return execFileSync('kubectl', ['--kubeconfig', KUBECONFIG, '--context', context, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function kubectlJson<T>(context: string, args: string[]): T {
  return JSON.parse(kubectl(context, [...args, '-o', 'json'])) as T;
}

// The clusters the harness brought up and the network each is on (up.sh writes them).
export function harnessClusters(): Array<{ name: string; network: string }> {
  return readFileSync(join(STATE, 'clusters'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => {
      const [name = '', network = ''] = line.split(' ');
      return { name, network };
    });
}

// A cluster's API server as its kubeconfig names it (loopback here: configs name it as apiServer).
export function apiServerOf(context: string): string {
  return kubectl(context, ['config', 'view', '--minify', '-o', 'jsonpath={.clusters[0].cluster.server}']).trim();
}

export function setLoadBalancer(mode: string): void {
  writeFileSync(join(STATE, 'lb-mode'), `${mode}\n`);
}

// A mesh-run config for the harness clusters. Their API servers listen on loopback, so the remote's
// address is named explicitly: the reason remotes[].apiServer exists.
export function writeConfig(dir: string, extra = ''): string {
  const server = kubectl('cluster2', ['config', 'view', '--minify', '-o', 'jsonpath={.clusters[0].cluster.server}']).trim();
  const file = join(dir, 'e2e.yaml');
  writeFileSync(
    file,
    `remotes:\n  - {name: cluster2, context: cluster2, apiServer: "${server}"}\ntimeouts: {gatewayAddress: 90s, command: 4m}\ntools: {istioctl: ${istioctlPath()}}\n${extra}`,
  );
  return file;
}

// A mesh of primary cluster1 and remote cluster2 (addressed explicitly, as writeConfig does), written to
// `file`: the starting point the day-2 and upgrade suites grow or move from. `extra` lines go after meshID.
export function writeTwoClusterMesh(file: string, meshID: string, extra: string[] = []): void {
  writeFileSync(
    file,
    [
      `meshID: ${meshID}`,
      ...extra,
      'clusters:',
      '  - {name: cluster1, context: cluster1, role: primary}',
      `  - {name: cluster2, context: cluster2, role: remote, apiServer: "${apiServerOf('cluster2')}"}`,
      'timeouts: {gatewayAddress: 90s, command: 4m}',
      `tools: {istioctl: ${istioctlPath()}}`,
      '',
    ].join('\n'),
  );
}

export const env = { KUBECONFIG };

// The remote secret applied the way the Istio page writes it: create-remote-secret piped into a
// client-side kubectl apply (which copies the whole secret into its last-applied annotation). A test can
// break it on purpose: another server address, or the token of another service account.
export function applyRemoteSecretClientSide(options: { server?: string; serviceAccount?: string } = {}): void {
  const account = options.serviceAccount ? ' --service-account="$ACCOUNT" --create-service-account=false' : '';
  const script = `"$ISTIOCTL" create-remote-secret --kubeconfig "$KUBECONFIG" --context=cluster2 --name=cluster2 -n istio-system --server="$SERVER"${account} | kubectl --kubeconfig "$KUBECONFIG" --context=cluster1 apply -f - >/dev/null`;
  const server = options.server ?? kubectl('cluster2', ['config', 'view', '--minify', '-o', 'jsonpath={.clusters[0].cluster.server}']).trim();
  execFileSync('bash', ['-c', script], {
    env: { ...process.env, ISTIOCTL: istioctlPath(), KUBECONFIG, SERVER: server, ACCOUNT: options.serviceAccount ?? '' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}

// What the real istiod on `context` says of the clusters it reads (istioctl port-forwards to its pod).
export function remoteClusters(context: string): string {
  return execFileSync(istioctlPath(), ['remote-clusters', '--kubeconfig', KUBECONFIG, '--context', context], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

// The reader token a primary holds for a cluster, as the API server returns it (read by the test only).
export function tokenIn(holder: string, of: string): string {
  const data = kubectl(holder, ['-n', 'istio-system', 'get', 'secret', `istio-remote-secret-${of}`, '-o', `jsonpath={.data.${of}}`]);
  return /token: (\S+)/.exec(Buffer.from(data, 'base64').toString('utf8'))?.[1] ?? '';
}

// What the cluster's API server answers to a bearer token alone (no kubeconfig, no client certificate).
export function answers(context: string, token: string): 'accepted' | 'refused' {
  try {
    execFileSync('kubectl', ['--server', apiServerOf(context), '--insecure-skip-tls-verify', `--token=${token}`, 'get', '--raw', '/api'], {
      env: { ...process.env, KUBECONFIG: '/dev/null' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return 'accepted';
  } catch (error) {
    expect(String((error as { stderr?: Buffer }).stderr ?? '')).toMatch(/Unauthorized|must be logged in/);
    return 'refused';
  }
}
