// mesh-run drift, part 3: the links between the mesh's clusters, against the journal. Pure. Where each remote
// secret must be (machines/topology.ts secretHoldersOf) and what it dials; what istiod sees synced and why not;
// a remote's injector CA; the east-west gateways and the address each remote points at; the expose objects,
// matched by what they select and route (mesh-run's names and the Istio samples' alike). The roots of trust:
// drift-trust.ts.
import { exposesIstiod, exposesServices, memberNamed, needsGateway, secretHoldersOf, watchedBy } from '../../machines/topology.js';
import type { MeshCluster } from '../../shared/model.js';
import { type DriftContext, type DriftItem, istiodOf } from './drift-model.js';
import type { DriftFacts, TokenFacts } from './drift-reads.js';
import { ISTIO_SYSTEM } from './install-common.js';

const sameServer = (a: string, b: string) => a.replace(/\/+$/, '').toLowerCase() === b.replace(/\/+$/, '').toLowerCase();
const key = (holder: string, member: string) => `${holder}\0${member}`;

// The command that writes `m`'s remote secret on `holder` again, as install writes it.
function secretCommand(m: MeshCluster, holder: MeshCluster): string {
  const server = m.apiServer ? ` --server=${m.apiServer}` : '';
  return `istioctl create-remote-secret --context=${m.context} --name=${m.name}${server} | kubectl apply --server-side --context=${holder.context} -f -`;
}

// Each member's secret on every primary that must hold it, its server; and secrets for clusters that left.
// Returns the (holder, member) pairs whose secret is the problem, so istiod's view of them is not said twice.
function secrets(ctx: DriftContext): Set<string> {
  const faulty = new Set<string>();
  for (const m of ctx.config.clusters) {
    const expected = m.apiServer ?? ctx.facts.get(m.name)?.contextServer;
    for (const holder of secretHoldersOf(ctx.shape, m.name)) {
      const held = ctx.facts.get(holder.name);
      if (!held) continue;
      const secret = held.remoteSecrets.find((s) => s.clusters.includes(m.name));
      if (!secret) {
        faulty.add(key(holder.name, m.name));
        ctx.items.push({
          kind: 'remote-secret-missing',
          cluster: holder.name,
          source: m.name,
          secret: `istio-remote-secret-${m.name}`,
          what: `${holder.name} holds no remote secret for ${m.name} (${ISTIO_SYSTEM}/istio-remote-secret-${m.name})`,
          why: `istiod on ${holder.name} no longer reads ${m.name}: ${m.role === 'remote' && m.controlPlane === holder.name ? `${m.name}'s injection and configuration stop, and its` : `${m.name}'s`} endpoints drop out of ${holder.name}'s view`,
          repair: secretCommand(m, holder),
        });
      } else if (expected && secret.server && !sameServer(secret.server, expected)) {
        faulty.add(key(holder.name, m.name));
        ctx.items.push({
          kind: 'remote-secret-server',
          cluster: holder.name,
          source: m.name,
          secret: secret.name,
          what: `the remote secret ${secret.name} on ${holder.name} dials ${m.name} at ${secret.server}, not ${expected}${m.apiServer ? " (the journal's apiServer)" : ` (${m.name}'s API server)`}`,
          why: `istiod on ${holder.name} reads ${m.name} at that address: an old or wrong one leaves it unsynced`,
          repair: secretCommand(m, holder),
        });
      }
    }
  }
  const members = new Set(ctx.config.clusters.map((c) => c.name));
  for (const p of ctx.config.clusters.filter((c) => c.role === 'primary')) {
    for (const s of ctx.facts.get(p.name)?.remoteSecrets ?? []) {
      const strangers = s.clusters.filter((c) => !members.has(c));
      if (strangers.length === 0) continue;
      ctx.items.push({
        kind: 'remote-secret-stale',
        cluster: p.name,
        secret: s.name,
        what: `${p.name} holds remote secret ${s.name} for ${strangers.join(', ')}, not a member of the mesh`,
        why: `istiod on ${p.name} keeps reading ${strangers.join(', ')} (or keeps trying, with a token that may still be valid): its endpoints join the mesh, and an unreachable one degrades istiod`,
        repair: `kubectl delete secret ${s.name} -n ${ISTIO_SYSTEM} --context=${p.context}`,
      });
    }
  }
  return faulty;
}

// Why istiod does not see a member synced, from its token's probe.
function unsyncedWhy(holder: string, m: string, token: TokenFacts | undefined): string {
  const base = `istiod on ${holder} serves ${m}'s endpoints (and for its remote, its configuration) only from a synced informer`;
  if (!token) return base;
  if (token.verdict === 'unreachable') return `${base}; ${m}'s API server at ${token.server} does not answer: ${token.detail}`;
  if (token.verdict === 'forbidden') return `${base}; the secret's token is accepted but may not list endpointslices there`;
  if (token.verdict === 'accepted') return `${base}; the secret's token is accepted at ${token.server}, so istiod itself has not caught up`;
  return `${base}; the secret's token could not be checked (${token.detail})`;
}

// istiod of each primary sees every other member synced (istioctl remote-clusters), unless its secret is the cause.
function sync(ctx: DriftContext, faulty: Set<string>): void {
  for (const p of ctx.config.clusters.filter((c) => c.role === 'primary')) {
    const f = ctx.facts.get(p.name);
    if (!f?.sync) continue;
    for (const m of watchedBy(ctx.shape, p.name)) {
      const status = f.sync[m.name] ?? 'missing';
      if (status === 'synced' || faulty.has(key(p.name, m.name))) continue;
      const token = f.tokens?.[m.name];
      if (token?.verdict === 'refused') {
        ctx.items.push({
          kind: 'remote-secret-token',
          cluster: p.name,
          source: m.name,
          what: `${m.name}'s API server refuses the token in its remote secret on ${p.name} (HTTP 401)`,
          why: `the token was revoked or its service account deleted: istiod on ${p.name} cannot read ${m.name} (${status})`,
          repair: `mesh-run secrets rotate --mesh ${ctx.config.meshID} --cluster ${m.name}`,
        });
        continue;
      }
      const restart = `kubectl rollout restart deployment/${istiodOf(ctx)} -n ${ISTIO_SYSTEM} --context=${p.context}`;
      ctx.items.push({
        kind: 'istiod-unsynced',
        cluster: p.name,
        source: m.name,
        what: `istiod on ${p.name} does not see ${m.name} synced (${status})`,
        why: unsyncedWhy(p.name, m.name, token),
        repair: token && token.verdict !== 'accepted' ? secretCommand(m, p) : restart,
      });
    }
  }
}

// A remote's injector of the mesh's revision carries the CA its primary patched in.
function injectorCa(ctx: DriftContext): void {
  for (const r of ctx.config.clusters.filter((c) => c.role === 'remote')) {
    const f = ctx.facts.get(r.name);
    const empty = f?.injectors.filter((i) => i.revision === ctx.revision && i.caBundle === false) ?? [];
    const primary = memberNamed(ctx.shape, r.controlPlane ?? '');
    for (const hook of empty)
      ctx.items.push({
        kind: 'injector-ca-empty',
        cluster: r.name,
        what: `the injector webhook ${hook.name} on remote ${r.name} has an empty caBundle`,
        why: `the API server cannot call the injector: pod creation in injected namespaces on ${r.name} fails (x509) until istiod on ${r.controlPlane} takes charge of ${r.name} again`,
        repair: primary
          ? `kubectl rollout restart deployment/${istiodOf(ctx)} -n ${ISTIO_SYSTEM} --context=${primary.context} (istiod patches the CA of the remotes it is in charge of: their annotation and secret first)`
          : 'put back the remote annotation and secret first',
      });
  }
}

// Every cluster that needs an east-west gateway has one with an address; every remote points at its primary's.
function gateways(ctx: DriftContext): void {
  for (const m of ctx.config.clusters) {
    const f = ctx.facts.get(m.name);
    if (!f || !needsGateway(ctx.shape, m.name) || f.eastWestGateway?.address) continue;
    ctx.items.push({
      kind: 'east-west-gateway',
      cluster: m.name,
      what: f.eastWestGateway
        ? `the east-west gateway on ${m.name} has no load-balancer address`
        : `${m.name} has no east-west gateway (service istio-eastwestgateway)`,
      why: `${exposesIstiod(ctx.shape, m.name) ? 'its remotes reach istiod through it, and ' : ''}traffic from other networks enters ${m.name}'s network through it`,
      repair: `istioctl install -y --context=${m.context} -f - (the east-west gateway IstioOperator, network ${m.network})`,
    });
  }
  for (const r of ctx.config.clusters.filter((c) => c.role === 'remote')) {
    const f = ctx.facts.get(r.name);
    const primary = ctx.facts.get(r.controlPlane ?? '');
    const exposed = primary?.exposedAddresses?.map((a) => a.toLowerCase());
    if (!f?.controlPlaneAddresses || !exposed || exposed.length === 0) continue;
    const stale = f.controlPlaneAddresses.filter((a) => !exposed.includes(a.toLowerCase()));
    if (stale.length === 0) continue;
    ctx.items.push({
      kind: 'gateway-address',
      cluster: r.name,
      what: `remote ${r.name} reaches its control plane at ${stale.join(', ')}, but ${r.controlPlane}'s east-west gateway is now at ${exposed.join(', ')}`,
      why: `${r.name}'s sidecars and injector call istiod at an address that no longer leads to it: injection and configuration of ${r.name} fail`,
      repair: `istioctl install -y --context=${r.context} -f - (the remote IstioOperator with values.global.remotePilotAddress=${exposed[0]})`,
    });
  }
}

const EAST_WEST = (s: Record<string, string>) => s.istio === 'eastwestgateway';

// The istiod expose objects: a Gateway on the east-west gateway passing 15012 through, and a VirtualService on
// it routing 15012 to the mesh's istiod. The cross-network Gateway: 15443 AUTO_PASSTHROUGH on the east-west gateway.
function expose(ctx: DriftContext, p: MeshCluster, f: DriftFacts): void {
  if (!f.gateways || !f.virtualServices) return;
  const apply = (what: string) => `kubectl apply -n ${ISTIO_SYSTEM} --context=${p.context} -f - (${what})`;
  if (exposesIstiod(ctx.shape, p.name)) {
    const host = `${istiodOf(ctx)}.${ISTIO_SYSTEM}.svc.cluster.local`;
    const passing = f.gateways.filter((g) => EAST_WEST(g.selector) && g.servers.some((s) => s.port === 15012 && s.mode === 'PASSTHROUGH')).map((g) => g.name);
    const bound = f.virtualServices.filter((v) => v.gateways.some((g) => passing.includes(g.replace(`${ISTIO_SYSTEM}/`, ''))));
    const routed = bound.some((v) => v.routes.some((r) => r.port === 15012 && r.host === host));
    const elsewhere = bound.flatMap((v) => v.routes.filter((r) => r.port === 15012 && r.host !== host).map((r) => `${v.name} routes it to ${r.host}`));
    const missing =
      passing.length === 0
        ? `no Gateway on ${p.name}'s east-west gateway passes port 15012 (istiod) through`
        : !routed
          ? `no VirtualService on ${p.name} routes port 15012 of Gateway ${passing.join(', ')} to ${host}${elsewhere.length ? ` (${elsewhere.join('; ')})` : ''}`
          : undefined;
    if (missing)
      ctx.items.push({
        kind: 'expose-istiod',
        cluster: p.name,
        what: missing,
        why: `${p.name}'s remotes reach istiod (discovery 15012, injection 15017) only through these objects: their sidecars and injector lose their control plane`,
        repair: apply(`expose-istiod: Gateway istiod-gateway and VirtualService istiod-vs${ctx.revision === 'default' ? '' : `-${ctx.revision}`}`),
      });
  }
  if (
    exposesServices(ctx.shape, p.name) &&
    !f.gateways.some((g) => EAST_WEST(g.selector) && g.servers.some((s) => s.port === 15443 && s.mode === 'AUTO_PASSTHROUGH'))
  )
    ctx.items.push({
      kind: 'expose-services',
      cluster: p.name,
      what: `no Gateway on ${p.name}'s east-west gateway passes port 15443 through (AUTO_PASSTHROUGH, as cross-network-gateway does)`,
      why: `workloads on other networks reach ${p.name}'s network's services through it: cross-network requests fail`,
      repair: apply('expose-services: Gateway cross-network-gateway'),
    });
}

export function linkDrift(ctx: DriftContext): DriftItem[] {
  const faulty = secrets(ctx);
  sync(ctx, faulty);
  injectorCa(ctx);
  gateways(ctx);
  for (const p of ctx.config.clusters.filter((c) => c.role === 'primary')) {
    const f = ctx.facts.get(p.name);
    if (f) expose(ctx, p, f);
  }
  return ctx.items;
}
