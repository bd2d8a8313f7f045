// The vocabulary every layer shares: what kinds of run there are, the states a run and an attempt go
// through, and a mesh's config once validated (engine/config reads and checks it; the store keeps it).
import { parseDuration } from './durations.js';

// What a run does: the install page, its verify page, its cleanup section; or on day 2, one cluster joining or
// leaving, the remote secrets' tokens rotated, a canary upgrade to a new revision or its rollback; or a check of
// the links between the clusters alone (verify-links: verify's first checks, nothing deployed); or the adoption
// of a mesh mesh-run did not install (adopt: what runs is recorded, nothing changed); or what a drift check
// found put back (repair); a drift check itself (drift: the clusters read against the journal, what it saw
// recorded, nothing changed); or new intermediate CAs for the primaries (trust-rotate).
export const RUN_KINDS = [
  'install',
  'adopt',
  'verify',
  'verify-links',
  'uninstall',
  'cluster-add',
  'cluster-remove',
  'secrets-rotate',
  'upgrade',
  'upgrade-rollback',
  'repair',
  'drift',
  'trust-rotate',
] as const;
export type RunKind = (typeof RUN_KINDS)[number];

export function isRunKind(value: string): value is RunKind {
  return (RUN_KINDS as readonly string[]).includes(value);
}

export type RunMode = 'dry-run' | 'real';
export type RunStatus = 'running' | 'succeeded' | 'failed' | 'interrupted';
export type AttemptOutcome = 'running' | 'succeeded' | 'failed' | 'interrupted';

export interface ClusterRef {
  name: string;
  context: string;
}

export type ClusterRole = 'primary' | 'remote';

// One cluster of the mesh: its role, its network, and for a remote the primary that serves it.
export interface MeshCluster extends ClusterRef {
  role: ClusterRole;
  network: string;
  // A remote: the primary whose istiod serves it.
  controlPlane?: string;
  // The API server address written into this cluster's remote secret (istioctl create-remote-secret --server).
  apiServer?: string;
}

export interface RetryPolicy {
  attempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
  factor: number;
}

export interface MeshConfig {
  meshID: string;
  // Every cluster of the mesh, in the order the config lists them (primaries first in the primary/remotes form).
  clusters: MeshCluster[];
  // How the config file named them: a clusters: list, or (absent) primary: and remotes: (messages name fields so).
  form?: 'clusters';
  revision?: string;
  timeouts: { gatewayAddressMs: number; commandMs: number };
  retry: RetryPolicy;
  // kubeconfig: the file every kubectl and istioctl reads (absent: $KUBECONFIG, else ~/.kube/config).
  tools: { kubectl: string; istioctl: string; kubeconfig?: string };
  // How many remotes may run steps at the same time (each is one more client of the primary's API server).
  maxParallelRemotes: number;
  // A common root of trust, created before istiod (absent: istiod signs with its own self-signed root).
  trust?: TrustConfig;
  verify: VerifyConfig;
  // Set by mesh-run, never read from a file: the cluster a cluster-add or cluster-remove run is about (the
  // config is the mesh with it: grown by a cluster add, as it stood before a cluster remove).
  subject?: string;
  // Set by mesh-run for secrets rotate --skip-sync-gate: the run does not wait for istiod to report synced.
  skipSyncGate?: boolean;
  // Set by mesh-run for upgrade and upgrade-rollback runs. `revision` above is the one the mesh runs once the
  // run succeeds: the new one for an upgrade, the old one for a rollback.
  upgrade?: UpgradeSpec;
  // Set by mesh-run for repair runs: what drifted and is put back, decided by the drift check that prepared it.
  repair?: RepairItem[];
  // Set by mesh-run for trust-rotate runs: how the new intermediates are made (paths only, never a key).
  trustRotate?: TrustRotateSpec;
}

// trust rotate --intermediate: where the root comes from (absent: the mesh's trust directory), where the new
// intermediates are kept (a rehearsal keeps them in a scratch directory of its own), and --force.
export interface TrustRotateSpec {
  rootCert?: string;
  rootKey?: string;
  keysDir: string;
  // The new intermediates' RSA key size and lifetime (trust:'s, or its defaults for a caDir).
  keySize: 2048 | 3072 | 4096;
  intermediateDays: number;
  // Replace a cacerts that was there before mesh-run (a user's, an adopted mesh's).
  force: boolean;
}

// What a repair run does about one drift item, on the cluster where the object lives: a remote secret written
// again (`source`'s, on this primary), a stale secret deleted (`secret`, by name), the network label, the
// control-plane annotation, an expose object applied again; the east-west gateway installed again (its address
// awaited), a remote's profile installed again pointed at its primary's gateway as it is now, a primary's
// control plane installed again, the mesh's CA plugged in again (istiod restarted when it signs under another
// root), or the default revision tag pointed back at the mesh's revision.
export type RepairAction =
  | 'secret'
  | 'stale-secret'
  | 'label'
  | 'annotation'
  | 'expose-istiod'
  | 'expose-services'
  | 'gateway'
  | 'remote'
  | 'control-plane'
  | 'cacerts'
  | 'default-tag';

export interface RepairItem {
  // The drift kind it repairs (as mesh-run drift names it).
  kind: string;
  action: RepairAction;
  cluster: string;
  source?: string;
  secret?: string;
  // A remote reinstalled because its primary's east-west gateway is repaired in the same run (its address may change).
  follows?: string;
  // cacerts: replace a cacerts that holds another CA; default-tag: move or remove a tag no mesh-run upgrade made
  // (repair --force; journaled).
  force?: boolean;
}

// A canary upgrade from one revision to another, as `mesh-run upgrade` was asked for it.
export interface UpgradeSpec {
  from: string;
  to: string;
  // A label selector for the namespaces moved (absent: every namespace the old revision injects).
  namespaces?: string;
  // How many namespaces each data-plane wave moves and restarts.
  waveSize: number;
  // How long each gate (new istiod synced, a wave's proxies connected) keeps trying.
  gateTimeoutMs: number;
  // Keep the old revision installed at the end (remove-old-revision does not run).
  keepOld: boolean;
  // Do not wait for a wave's proxies to connect to the new revision (where no proxy can run); journaled.
  skipProxyGate: boolean;
  // A rollback: the upgrade run it reverses.
  rollbackOf?: string;
}

// Either existing CA files (Istio's tools/certs layout) or a root and intermediate generated by mesh-run.
export type TrustConfig =
  | { source: 'files'; caDir: string }
  | { source: 'generate'; outputDir?: string; keySize: 2048 | 3072 | 4096; rootDays: number; intermediateDays: number };

export interface VerifyConfig {
  // A local Istio release whose samples/helloworld and samples/curl manifests replace the generated ones.
  samplesDir?: string;
  // How long each check keeps trying: remotes synced, the injector's caBundle, both versions answering.
  timeoutMs: number;
}

// Istio's doc tests retry each request for up to 120 s.
export const DEFAULT_VERIFY_TIMEOUT = '2m';

// How an older mesh-run recorded the mesh: one primary, its remotes, one network.
interface RecordedPrimaryRemote {
  network?: string;
  primary?: ClusterRef;
  remotes?: Array<ClusterRef & { apiServer?: string }>;
}

// A config as recorded by an older mesh-run may lack newer sections, or name its clusters the old way; give it
// the shape and the defaults of this one.
export function withDefaults(config: MeshConfig): MeshConfig {
  const recorded = config as MeshConfig & RecordedPrimaryRemote;
  let clusters = recorded.clusters;
  if (!Array.isArray(clusters) && recorded.primary && Array.isArray(recorded.remotes)) {
    const network = recorded.network ?? 'network1';
    const primary = recorded.primary;
    clusters = [
      { name: primary.name, context: primary.context, role: 'primary', network },
      ...recorded.remotes.map(
        (r): MeshCluster => ({
          name: r.name,
          context: r.context,
          role: 'remote',
          network,
          controlPlane: primary.name,
          ...(r.apiServer ? { apiServer: r.apiServer } : {}),
        }),
      ),
    ];
  }
  const { network: _n, primary: _p, remotes: _r, ...rest } = recorded;
  return { ...rest, clusters, verify: config.verify ?? { timeoutMs: parseDuration(DEFAULT_VERIFY_TIMEOUT) as number } };
}

// Where a cluster's field is in the config file: clusters[2].context, or primary.context / remotes[0].context.
export function clusterField(config: Pick<MeshConfig, 'clusters' | 'form'>, name: string, field: string): string {
  const index = config.clusters.findIndex((c) => c.name === name);
  if (config.form === 'clusters') return `clusters[${index}].${field}`;
  return index === 0 ? `primary.${field}` : `remotes[${index - 1}].${field}`;
}
