// One simulated cluster: objects kept in the SQLite store, plus a load-balancer controller.
import { createHash, randomUUID } from 'node:crypto';
import type { WorldObjects } from '../../store/contract.js';
import { type KubeObject, pluralOf, type ResourceType, resourceTypes, typeOfKind } from './objects.js';
import { normaliseSecret, READER_TOKEN_SECRET, sealSecret, serviceAccountToken, type TokenTable, tokenOrigin, unsealSecret } from './secret-data.js';
import type { SimContext, WorldSettings } from './world.js';

export type ApplyOutcome = 'created' | 'configured' | 'unchanged';

export const SA_TOKEN_TYPE = 'kubernetes.io/service-account-token';
export const SA_NAME_ANNOTATION = 'kubernetes.io/service-account.name';

function stable(value: unknown): string {
  return JSON.stringify(value, (_, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
}

// When this process first saw each Service waiting for a load-balancer address, on its monotonic clock (per
// world, cluster, Service and provider setting).
const watchedSince = new Map<string, number>();

const tokenTables = new WeakMap<WorldSettings, { world: string; pinned: string | undefined; table: TokenTable }>();

export class SimCluster {
  constructor(
    private readonly store: WorldObjects,
    private readonly world: string,
    readonly context: SimContext,
    private readonly settings: WorldSettings,
    private readonly now: () => number,
  ) {}

  private key(kind: string, namespace: string, name: string) {
    return { context: this.context.name, kind, namespace, name };
  }

  // The service-account tokens of every cluster in this world (they may appear in this cluster's Secrets):
  // one table per world and settings, as each Secret read or written needs it.
  private tokens(): TokenTable {
    const known = tokenTables.get(this.settings);
    if (known?.world === this.world && known.pinned === process.env.MESH_RUN_SIM_TOKEN) return known.table;
    const table = this.settings.contexts.map((c) => [c.name, serviceAccountToken(this.world, c.name)] as const);
    tokenTables.set(this.settings, { world: this.world, pinned: process.env.MESH_RUN_SIM_TOKEN, table });
    return table;
  }

  // The token this cluster's API server mints for istio-reader-service-account into istioctl's secret.
  readerToken(): string {
    return serviceAccountToken(this.world, this.context.name);
  }

  // Which cluster and token secret of this world minted `token` (undefined: none did).
  tokenOrigin(token: string): { context: string; secret: string } | undefined {
    return tokenOrigin(this.world, token, this.tokens());
  }

  // The API server's legacy token authenticator: a token is good while the secret it was minted into still
  // holds it (deleting the secret revokes it).
  accepts(token: string): boolean {
    // istioctl's token first: a pinned test token is every cluster's, so the table alone cannot tell whose.
    const origin = token === this.readerToken() ? { context: this.context.name, secret: READER_TOKEN_SECRET } : tokenOrigin(this.world, token, []);
    if (!origin || origin.context !== this.context.name) return false;
    const type = typeOfKind('Secret') as ResourceType;
    const secret = this.list(type).find((s) => s.metadata.name === origin.secret && s.type === SA_TOKEN_TYPE);
    const held = (secret?.data as Record<string, string> | undefined)?.token;
    return held !== undefined && Buffer.from(held, 'base64').toString('utf8') === token;
  }

  private read(json: string): KubeObject {
    const obj = JSON.parse(json) as KubeObject;
    return obj.kind === 'Secret' ? unsealSecret(obj, this.tokens(), this.world) : obj;
  }

  private write(kind: string, namespace: string, name: string, obj: KubeObject): void {
    const stored = obj.kind === 'Secret' ? sealSecret(obj, this.tokens(), this.world) : obj;
    this.store.put(this.key(kind, namespace, name), JSON.stringify(stored));
  }

  get(type: ResourceType, namespace: string, name: string): KubeObject | undefined {
    const json = this.store.get(this.key(type.kind, type.namespaced ? namespace : '', name));
    return json ? this.read(json) : undefined;
  }

  list(type: ResourceType, namespace?: string): KubeObject[] {
    return this.store
      .list(this.context.name, type.kind)
      .filter((row) => !type.namespaced || namespace === undefined || row.namespace === namespace)
      .map((row) => this.read(row.bodyJson));
  }

  all(): KubeObject[] {
    return this.store.list(this.context.name).map((row) => this.read(row.bodyJson));
  }

  // Creates or updates an object the way a server-side apply would; keeps uid, creation time and status.
  put(input: KubeObject): ApplyOutcome {
    const type = typeOfKind(input.kind);
    if (!type) throw new Error(`unsupported kind ${input.kind}`);
    const namespace = type.namespaced ? (input.metadata.namespace ?? 'default') : '';
    const obj = this.withToken(normaliseSecret({ ...input, metadata: { ...input.metadata, ...(type.namespaced ? { namespace } : {}) } }));
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
    this.write(type.kind, namespace, obj.metadata.name, merged);
    return existing ? 'configured' : 'created';
  }

  // The token controller: a service-account token secret whose service account exists gets its token and CA.
  private withToken(obj: KubeObject): KubeObject {
    if (obj.kind !== 'Secret' || obj.type !== SA_TOKEN_TYPE) return obj;
    const data = (obj.data as Record<string, string> | undefined) ?? {};
    const account = obj.metadata.annotations?.[SA_NAME_ANNOTATION];
    const namespace = obj.metadata.namespace ?? 'default';
    if (data.token || !account || !this.get(typeOfKind('ServiceAccount') as ResourceType, namespace, account)) return obj;
    const token = serviceAccountToken(this.world, this.context.name, obj.metadata.name);
    const b64 = (v: string) => Buffer.from(v).toString('base64');
    return { ...obj, data: { ...data, token: b64(token), 'ca.crt': b64(`simulated CA of ${this.context.cluster}`), namespace: b64(namespace) } };
  }

  // Writes an object as it is (status updates by controllers).
  replace(obj: KubeObject): void {
    const type = typeOfKind(obj.kind) as ResourceType;
    this.write(obj.kind, type.namespaced ? (obj.metadata.namespace ?? 'default') : '', obj.metadata.name, obj);
  }

  remove(obj: KubeObject): void {
    const type = typeOfKind(obj.kind) as ResourceType;
    this.store.remove(this.key(obj.kind, type.namespaced ? (obj.metadata.namespace ?? 'default') : '', obj.metadata.name));
    // Deleting a CRD deletes every custom resource of its kind, in every namespace.
    if (obj.kind === 'CustomResourceDefinition') {
      const served = resourceTypes().find((t) => pluralOf(t) === obj.metadata.name);
      if (served) for (const cr of this.list(served)) this.remove(cr);
    }
  }

  // Whether a Service pending since `since` (wall clock) has waited the provider's delay. The wall clock is the
  // one a process reads, and a run resumed by another process (another machine, a clock set back or forward)
  // need not agree with the one that made the Service: a wait is also over once this process has watched it
  // pending for the delay on its monotonic clock. So a clock set back costs at most one delay, never a stall.
  private waitedEnough(svc: KubeObject, since: number): boolean {
    const lb = this.settings.loadBalancer;
    const key = `${this.world}\0${this.context.name}\0${svc.metadata.uid ?? svc.metadata.name}\0${lb.mode}\0${lb.changedAt}`;
    let watched = watchedSince.get(key);
    if (watched === undefined) {
      watched = performance.now();
      watchedSince.set(key, watched);
    }
    const done = Math.max(this.now() - since, performance.now() - watched) >= lb.delayMs;
    if (done) watchedSince.delete(key);
    return done;
  }

  // The load-balancer provider: gives LoadBalancer services an address once the configured delay has passed.
  reconcileLoadBalancers(): void {
    const lb = this.settings.loadBalancer;
    const services = this.store.list(this.context.name, 'Service').map((r) => JSON.parse(r.bodyJson) as KubeObject);
    // Each service's address comes from its name (not from when the provider got to it), so every run,
    // interrupted or not, hands out the same addresses.
    const taken = new Set(
      services.map((s) => (s.status as { loadBalancer?: { ingress?: Array<{ ip?: string }> } } | undefined)?.loadBalancer?.ingress?.[0]?.ip).filter(Boolean),
    );
    services.forEach((svc) => {
      const spec = svc.spec as { type?: string } | undefined;
      if (spec?.type !== 'LoadBalancer') return;
      const status = (svc.status ?? {}) as { loadBalancer?: { ingress?: Array<{ ip?: string; hostname?: string }> } };
      const current = status.loadBalancer?.ingress?.[0];
      const matches = lb.mode === 'ip' ? Boolean(current?.ip) : lb.mode === 'hostname' ? Boolean(current?.hostname) && !current?.ip : true;
      if (matches) return;
      const created = Date.parse(svc.metadata.creationTimestamp ?? '') || 0;
      if (!this.waitedEnough(svc, Math.max(created, lb.changedAt))) {
        // A provider that changed (hostname -> ip) first withdraws the address it gave, then assigns anew.
        if (current) this.replace({ ...svc, status: { ...status, loadBalancer: {} } });
        return;
      }
      const clusterIndex = this.settings.contexts.findIndex((c) => c.name === this.context.name);
      // 172.18.<n>.x for the n-th cluster, on into 172.19, 172.20 ... past the 255th.
      const block = clusterIndex + 1;
      const prefix = `172.${18 + Math.floor(block / 256)}.${block % 256}`;
      let host = 200 + ((createHash('sha256').update(`${svc.metadata.namespace}/${svc.metadata.name}`).digest()[0] as number) % 50);
      while (taken.has(`${prefix}.${host}`)) host = host === 249 ? 200 : host + 1;
      const ip = `${prefix}.${host}`;
      if (lb.mode === 'ip') taken.add(ip);
      const ingress =
        lb.mode === 'ip'
          ? [{ ip, ipMode: 'VIP' }]
          : [
              {
                hostname: `a${createHash('sha256').update(`${this.world}/${svc.metadata.name}`).digest('hex').slice(0, 24)}-1234567890.us-east-1.elb.amazonaws.com`,
              },
            ];
      this.replace({ ...svc, status: { ...status, loadBalancer: { ingress } } });
    });
  }
}
