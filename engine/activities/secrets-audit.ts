// mesh-run secrets audit: every remote secret on every primary, what credential it carries and how old it
// is, where it sends istiod, and whether istiod reports that cluster synced.
//
// The one place mesh-run reads a Secret's data, because the question is about that data. It stays in this
// function's memory: the kubeconfig is parsed, the token's claims (iat, exp, sub) and a fingerprint (a hash
// prefix) are kept, and everything else is dropped. Nothing here journals or prints a value.
import { createHash } from 'node:crypto';
import { parse } from 'yaml';
import type { ClusterTools } from '../../adapters/cluster-tools.js';
import { secretHoldersOf } from '../../machines/topology.js';
import { isLoopbackServer } from '../../shared/api-server.js';
import type { MeshConfig } from '../../shared/model.js';
import { directRuntime, probing } from './environment-check.js';
import { ISTIO_SYSTEM } from './install.js';
import { istioctl, kubectl } from './step-runtime.js';

const MULTICLUSTER_LABEL = 'istio/multiCluster';
const DAY = 86_400_000;

export interface RemoteSecretAudit {
  // The primary whose istio-system holds the secret, and the cluster it lets istiod watch.
  holder: string;
  cluster: string;
  secret: string;
  namespace: string;
  labelled: boolean;
  credential: 'token' | 'exec-plugin' | 'auth-provider' | 'client-certificate' | 'none';
  // sha256 prefix of the token: tells two tokens apart without showing either.
  fingerprint?: string;
  subject?: string;
  issuedAt?: string;
  expiresAt?: string | null;
  ageDays?: number;
  server: string;
  synced: string;
  findings: Array<{ level: 'problem' | 'warning'; message: string }>;
}

export interface SecretsAuditReport {
  secrets: RemoteSecretAudit[];
  // Secrets the topology calls for that no primary holds.
  missing: Array<{ holder: string; cluster: string }>;
  // Primaries whose secrets could not be listed (what they hold is not known, so not reported missing).
  unreadable: Array<{ holder: string; error: string }>;
}

interface SecretList {
  items?: Array<{
    metadata?: { name?: string; namespace?: string; labels?: Record<string, string>; creationTimestamp?: string };
    data?: Record<string, string>;
  }>;
}

interface Kubeconfig {
  clusters?: Array<{ cluster?: { server?: string } }>;
  users?: Array<{ user?: { token?: string; exec?: { command?: string }; 'auth-provider'?: { name?: string }; 'client-certificate-data'?: string } }>;
}

// What the audit and the journal show of a token: a prefix of its hash, never the token.
export function tokenFingerprint(token: string): string {
  return createHash('sha256').update(token).digest('hex').slice(0, 12);
}

// The claims of a JWT, decoded (not verified: the API server is the one that checks it).
function claimsOf(token: string): { iat?: number; exp?: number; sub?: string } {
  try {
    const payload = token.split('.')[1] ?? '';
    return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { iat?: number; exp?: number; sub?: string };
  } catch {
    return {};
  }
}

// NAME -> STATUS from istioctl remote-clusters (undefined when istiod cannot be asked).
export function syncStatus(text: string): Map<string, string> {
  const lines = text.trim().split('\n');
  const header = (lines[0] ?? '').split(/\s+/);
  const name = header.indexOf('NAME');
  const status = header.indexOf('STATUS');
  const out = new Map<string, string>();
  if (name < 0 || status < 0) return out;
  for (const line of lines.slice(1)) {
    const cells = line.trim().split(/\s+/);
    // SECRET may be empty for the primary's own row: its columns shift left by one.
    const value = cells.length === header.length ? cells[status] : cells[status - 1];
    if (cells[name] && value) out.set(cells[name] as string, value);
  }
  return out;
}

export async function auditRemoteSecrets(config: MeshConfig, tools: ClusterTools, now = Date.now()): Promise<SecretsAuditReport> {
  const rt = directRuntime(config, tools);
  // A missing tool or a silent cluster is reported per primary, not thrown.
  const probe = probing(rt);
  const shape = { members: config.clusters };
  const primaries = config.clusters.filter((c) => c.role === 'primary');
  const secrets: RemoteSecretAudit[] = [];
  const held = new Set<string>();
  const unreadable: SecretsAuditReport['unreadable'] = [];
  await Promise.all(
    primaries.map(async (primary) => {
      const [listed, synced] = await Promise.all([
        // Its stdout holds the kubeconfigs and their tokens: never kept (answer book, journal), read here only.
        probe({
          ...kubectl(primary.context, ['-n', ISTIO_SYSTEM, 'get', 'secrets', '-l', `${MULTICLUSTER_LABEL}=true`, '-o', 'json'], 'observe'),
          sensitiveStdout: true,
        }),
        probe(istioctl(primary.context, ['remote-clusters'], 'observe')),
      ]);
      const status = synced.exitCode === 0 ? syncStatus(synced.stdout) : undefined;
      let items: SecretList['items'] = [];
      try {
        if (listed.exitCode !== 0) throw new Error(listed.stderr.trim().split('\n').at(-1) || `kubectl exited ${listed.exitCode}`);
        items = (JSON.parse(listed.stdout) as SecretList).items ?? [];
      } catch (error) {
        unreadable.push({ holder: primary.name, error: (error as Error).message.slice(0, 200) });
        return;
      }
      for (const item of items ?? []) {
        for (const [cluster, encoded] of Object.entries(item.data ?? {})) {
          held.add(`${primary.name}\0${cluster}`);
          let kubeconfig: Kubeconfig = {};
          try {
            kubeconfig = parse(Buffer.from(encoded, 'base64').toString('utf8')) as Kubeconfig;
          } catch {
            kubeconfig = {};
          }
          const user = kubeconfig.users?.[0]?.user ?? {};
          const server = kubeconfig.clusters?.[0]?.cluster?.server ?? '';
          const token = user.token;
          const credential = token
            ? 'token'
            : user.exec
              ? 'exec-plugin'
              : user['auth-provider']
                ? 'auth-provider'
                : user['client-certificate-data']
                  ? 'client-certificate'
                  : 'none';
          const claims = token ? claimsOf(token) : {};
          const created = item.metadata?.creationTimestamp ? Date.parse(item.metadata.creationTimestamp) : undefined;
          const issued = claims.iat !== undefined ? claims.iat * 1000 : created;
          const findings: RemoteSecretAudit['findings'] = [];
          if (credential === 'exec-plugin' || credential === 'auth-provider')
            findings.push({
              level: 'problem',
              message: `an ${credential} credential istiod cannot run (istio#58335): recreate it with a service-account token`,
            });
          if (credential === 'none') findings.push({ level: 'problem', message: 'no credential: istiod cannot read this cluster' });
          if (isLoopbackServer(server)) findings.push({ level: 'problem', message: `server ${server} is the primary pod's own loopback, not ${cluster}` });
          if (item.metadata?.labels?.[MULTICLUSTER_LABEL] !== 'true')
            findings.push({ level: 'problem', message: `not labelled ${MULTICLUSTER_LABEL}=true: istiod ignores it` });
          if (credential === 'token' && claims.exp === undefined)
            findings.push({ level: 'warning', message: 'the token never expires (a legacy service-account token secret); rotate it on a schedule' });
          if (claims.exp !== undefined && claims.exp * 1000 < now) findings.push({ level: 'problem', message: 'the token has expired' });
          else if (claims.exp !== undefined && claims.exp * 1000 - now < 30 * DAY)
            findings.push({ level: 'warning', message: 'the token expires within 30 days' });
          const sync = status?.get(cluster) ?? (status ? 'absent' : 'unknown');
          if (status && sync !== 'synced') findings.push({ level: 'problem', message: `istiod on ${primary.name} reports ${cluster} ${sync}` });
          secrets.push({
            holder: primary.name,
            cluster,
            secret: item.metadata?.name ?? '',
            namespace: item.metadata?.namespace ?? ISTIO_SYSTEM,
            labelled: item.metadata?.labels?.[MULTICLUSTER_LABEL] === 'true',
            credential,
            ...(token ? { fingerprint: tokenFingerprint(token) } : {}),
            ...(claims.sub ? { subject: claims.sub } : {}),
            ...(issued !== undefined && !Number.isNaN(issued) ? { issuedAt: new Date(issued).toISOString(), ageDays: Math.floor((now - issued) / DAY) } : {}),
            ...(credential === 'token' ? { expiresAt: claims.exp !== undefined ? new Date(claims.exp * 1000).toISOString() : null } : {}),
            server,
            synced: sync,
            findings,
          });
        }
      }
    }),
  );
  const missing = config.clusters.flatMap((c) =>
    secretHoldersOf(shape, c.name)
      .filter((h) => !held.has(`${h.name}\0${c.name}`) && !unreadable.some((u) => u.holder === h.name))
      .map((h) => ({ holder: h.name, cluster: c.name })),
  );
  secrets.sort((a, b) => a.holder.localeCompare(b.holder) || a.cluster.localeCompare(b.cluster));
  return { secrets, missing, unreadable };
}
