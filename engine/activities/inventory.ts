// What existed on the clusters before mesh-run changed anything, as the runs recorded it: uninstall keeps
// what was there before (a namespace, a CA, a user's labels) and restores the values a step replaced.
import type { Observation } from '../../store/contract.js';

// The label mesh-run puts on what it creates (namespaces, the sample, cacerts): whose it is, on the cluster itself.
export const MANAGED_BY = 'app.kubernetes.io/managed-by';
export const MESH_RUN = 'mesh-run';

export const SUBJECTS = {
  istioSystem: 'namespace/istio-system',
  cacerts: 'secret/istio-system/cacerts',
  // The certificates cacerts carries as a run left it, recorded after the run wrote (or kept) it: their
  // fingerprints (trust/cacerts-prints.ts), what drift compares cacerts with. Not what existed before: a run's
  // first observation of `cacerts` is the one the journal keeps, and it was made before anything changed.
  cacertsCerts: 'certs/istio-system/cacerts',
  // The service-account token secret istioctl create-remote-secret makes in the remote.
  readerToken: 'secret/istio-system/istio-reader-service-account-istio-remote-secret-token',
  sample: 'namespace/sample',
  // The ConfigMaps istiod writes into istio-system (its root, its leader locks), by name in the detail: those
  // there before the install stay when uninstall keeps the namespace.
  istiodConfigMaps: 'configmaps/istio-system/istiod',
  // An adoption: every Istio object the cluster ran when mesh-run adopted it, by kind/name in the detail.
  adoptedIstio: 'adopted/istio',
} as const;

// What an upgrade replaces, journaled before it acts (its rollback puts these back): a moved namespace's
// istio-injection and istio.io/rev labels, the default tag's revision, the east-west gateway's revision.
export const UPGRADE_SUBJECTS = {
  namespace: (name: string) => `upgrade/namespace/${name}`,
  defaultTag: 'upgrade/tag/default',
  gateway: (name: string) => `upgrade/gateway/${name}`,
} as const;

// Labels and annotations of a namespace that a step may set, recorded with their earlier values.
export const TOUCHED = {
  controlPlaneClusters: 'annotation:topology.istio.io/controlPlaneClusters',
  injection: 'label:istio-injection',
  revision: 'label:istio.io/rev',
  network: 'label:topology.istio.io/network',
} as const;

export type ObservationInput = Omit<Observation, 'runId' | 'at'>;

export class Inventory {
  private readonly first = new Map<string, Observation>();
  readonly sources: readonly string[];

  // `observations` oldest first: the earliest observation of a (cluster, subject) is what existed before.
  constructor(observations: readonly Observation[], sources: readonly string[] = []) {
    for (const o of observations) {
      const key = `${o.cluster}\0${o.subject}`;
      if (!this.first.has(key)) this.first.set(key, o);
    }
    this.sources = sources;
  }

  static empty(): Inventory {
    return new Inventory([]);
  }

  // The first observation of every (cluster, subject) whose subject starts with `prefix`, in journal order.
  withSubjectPrefix(prefix: string): Observation[] {
    return [...this.first.values()].filter((o) => o.subject.startsWith(prefix));
  }

  before(cluster: string, subject: string): Observation | undefined {
    return this.first.get(`${cluster}\0${subject}`);
  }

  // Whether the record says the object was absent before mesh-run acted (so what is there now came with
  // mesh-run, possibly made by istioctl for it). No record: not known, so not claimed.
  absentBefore(cluster: string, subject: string): boolean {
    const seen = this.before(cluster, subject);
    return seen !== undefined && !seen.present;
  }

  // Whether an object that exists now was there before mesh-run: the record says so, or (no record)
  // it lacks mesh-run's label.
  preexisting(cluster: string, subject: string, labelledByMeshRun: boolean): boolean {
    const seen = this.before(cluster, subject);
    if (seen) return seen.present && seen.owner !== 'mesh-run';
    return !labelledByMeshRun;
  }

  // The value a label or annotation had before mesh-run set it: undefined when it was unset,
  // 'unknown' when nothing was recorded.
  earlierValue(cluster: string, subject: string, key: string): { known: boolean; value: string | undefined } {
    const seen = this.before(cluster, subject);
    if (!seen) return { known: false, value: undefined };
    return { known: true, value: seen.detail?.[key] };
  }
}

// The labels and annotations of `TOUCHED` as an observation's detail.
export function touchedMetadata(metadata: { labels?: Record<string, string>; annotations?: Record<string, string> } | undefined): Record<string, string> {
  const detail: Record<string, string> = {};
  for (const key of Object.values(TOUCHED)) {
    const [kind, name] = key.split(/:(.*)/s) as [string, string];
    const value = (kind === 'label' ? metadata?.labels : metadata?.annotations)?.[name];
    if (value !== undefined) detail[key] = value;
  }
  return detail;
}
