// One simulated cluster: objects kept in the SQLite store, plus a load-balancer controller.
import { createHash, randomUUID } from 'node:crypto';
import type { SimStore } from '../../store/sim-store.js';
import { type KubeObject, type ResourceType, typeOfKind } from './objects.js';
import type { SimContext, WorldSettings } from './world.js';

export type ApplyOutcome = 'created' | 'configured' | 'unchanged';

// The simulator's etcd keeps only digests of Secret data, so no credential ever lands in the database.
function digestSecretData(obj: KubeObject): KubeObject {
  if (obj.kind !== 'Secret') return obj;
  const digest = (value: unknown) => `sha256:${createHash('sha256').update(String(value)).digest('hex').slice(0, 16)}`;
  const out: KubeObject = { ...obj };
  for (const field of ['data', 'stringData'] as const) {
    const data = obj[field] as Record<string, unknown> | undefined;
    if (data && typeof data === 'object') out[field] = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, digest(v)]));
  }
  return out;
}

function stable(value: unknown): string {
  return JSON.stringify(value, (_, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b))) : v,
  );
}

export class SimCluster {
  constructor(
    private readonly store: SimStore,
    private readonly world: string,
    readonly context: SimContext,
    private readonly settings: WorldSettings,
    private readonly now: () => number,
  ) {}

  private key(kind: string, namespace: string, name: string) {
    return { context: this.context.name, kind, namespace, name };
  }

  get(type: ResourceType, namespace: string, name: string): KubeObject | undefined {
    const json = this.store.get(this.world, this.key(type.kind, type.namespaced ? namespace : '', name));
    return json ? (JSON.parse(json) as KubeObject) : undefined;
  }

  list(type: ResourceType, namespace?: string): KubeObject[] {
    return this.store
      .list(this.world, this.context.name, type.kind)
      .filter((row) => !type.namespaced || namespace === undefined || row.namespace === namespace)
      .map((row) => JSON.parse(row.bodyJson) as KubeObject);
  }

  all(): KubeObject[] {
    return this.store.list(this.world, this.context.name).map((row) => JSON.parse(row.bodyJson) as KubeObject);
  }

  // Creates or updates an object the way a server-side apply would; keeps uid, creation time and status.
  put(input: KubeObject): ApplyOutcome {
    const type = typeOfKind(input.kind);
    if (!type) throw new Error(`unsupported kind ${input.kind}`);
    const namespace = type.namespaced ? input.metadata.namespace ?? 'default' : '';
    const obj = digestSecretData({ ...input, metadata: { ...input.metadata, ...(type.namespaced ? { namespace } : {}) } });
    if (!type.namespaced) delete obj.metadata.namespace;
    const existing = this.get(type, namespace, obj.metadata.name);
    const strip = (o: KubeObject) => {
      const { status: _s, ...rest } = o;
      const { uid: _u, creationTimestamp: _c, resourceVersion: _r, ...meta } = o.metadata;
      return stable({ ...rest, metadata: meta });
    };
    if (existing && strip(existing) === strip(obj)) return 'unchanged';
    const merged: KubeObject = {
      ...obj,
      metadata: {
        ...obj.metadata,
        uid: existing?.metadata.uid ?? randomUUID(),
        creationTimestamp: existing?.metadata.creationTimestamp ?? new Date(this.now()).toISOString(),
        resourceVersion: String(Number(existing?.metadata.resourceVersion ?? 0) + 1),
      },
      ...(existing?.status !== undefined && obj.status === undefined ? { status: existing.status } : {}),
    };
    this.store.put(this.world, this.key(type.kind, namespace, obj.metadata.name), JSON.stringify(merged));
    return existing ? 'configured' : 'created';
  }

  // Writes an object as it is (status updates by controllers).
  replace(obj: KubeObject): void {
    const type = typeOfKind(obj.kind) as ResourceType;
    this.store.put(this.world, this.key(obj.kind, type.namespaced ? obj.metadata.namespace ?? 'default' : '', obj.metadata.name), JSON.stringify(obj));
  }

  remove(obj: KubeObject): void {
    const type = typeOfKind(obj.kind) as ResourceType;
    this.store.remove(this.world, this.key(obj.kind, type.namespaced ? obj.metadata.namespace ?? 'default' : '', obj.metadata.name));
  }

  // The load-balancer provider: gives LoadBalancer services an address once the configured delay has passed.
  reconcileLoadBalancers(): void {
    const lb = this.settings.loadBalancer;
    const services = this.store.list(this.world, this.context.name, 'Service').map((r) => JSON.parse(r.bodyJson) as KubeObject);
    services.forEach((svc, index) => {
      const spec = svc.spec as { type?: string } | undefined;
      if (spec?.type !== 'LoadBalancer') return;
      const status = (svc.status ?? {}) as { loadBalancer?: { ingress?: Array<{ ip?: string; hostname?: string }> } };
      const current = status.loadBalancer?.ingress?.[0];
      const matches = lb.mode === 'ip' ? Boolean(current?.ip) : lb.mode === 'hostname' ? Boolean(current?.hostname) && !current?.ip : true;
      if (matches) return;
      const created = Date.parse(svc.metadata.creationTimestamp ?? '') || 0;
      if (this.now() < Math.max(created, lb.changedAt) + lb.delayMs) return;
      const clusterIndex = this.settings.contexts.findIndex((c) => c.name === this.context.name);
      const ingress =
        lb.mode === 'ip'
          ? [{ ip: `172.18.${clusterIndex + 1}.${200 + index}`, ipMode: 'VIP' }]
          : [{ hostname: `a${createHash('sha256').update(`${this.world}/${svc.metadata.name}`).digest('hex').slice(0, 24)}-1234567890.us-east-1.elb.amazonaws.com` }];
      this.replace({ ...svc, status: { ...status, loadBalancer: { ingress } } });
    });
  }
}
