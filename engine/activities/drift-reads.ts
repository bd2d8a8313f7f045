// mesh-run drift, part 1: what each cluster shows now, read only. Discovery's reads (mesh-discovery.ts) give
// most of it; on top, per primary: istiod's own view of the clusters it reads (istioctl remote-clusters) and
// the expose objects (Gateways and VirtualServices of istio-system, in one kubectl get); and for each member
// istiod does not see synced, whether its remote secret's token is still accepted, probed from this process
// as rotation probes it (in memory; the token is in no argv, output or journal). Nothing here journals.
import type { ClusterTools } from '../../adapters/cluster-tools.js';
import type { MeshConfig } from '../../shared/model.js';
import { type Item, itemsOf } from './discovery-reads.js';
import { directRuntime, probing } from './environment-check.js';
import { ISTIO_SYSTEM } from './install-common.js';
import { type ClusterFacts, discoverClusters } from './mesh-discovery.js';
import { kubeconfigOf, readSecret, tokenProbe } from './secret-read.js';
import { istioctl, kubectl, type StepRuntime } from './step-runtime.js';
import { ISTIOD_READ } from './sync-diagnosis.js';
import { parseRemoteClusters, remoteClustersHint } from './verify.js';

// A Gateway of istio-system as the checks need it: what it selects, and each server's port and TLS mode.
export interface GatewayFacts {
  name: string;
  selector: Record<string, string>;
  servers: Array<{ port: number; mode: string }>;
}

// A VirtualService of istio-system: the gateways it binds to, and each TLS route's port and destination host.
export interface RouteFacts {
  name: string;
  gateways: string[];
  routes: Array<{ port: number; host: string }>;
}

// What presenting a remote secret's token to its cluster's API server said. Never the token itself.
export interface TokenFacts {
  verdict: 'accepted' | 'refused' | 'forbidden' | 'unreachable' | 'unchecked';
  server?: string;
  detail?: string;
}

export interface DriftFacts extends ClusterFacts {
  // A primary: istiod's view (istioctl remote-clusters): cluster name -> synced, timeout, ...
  sync?: Record<string, string>;
  gateways?: GatewayFacts[];
  virtualServices?: RouteFacts[];
  // A primary: the token of its secret for each member its istiod does not see synced.
  tokens?: Record<string, TokenFacts>;
  // What could not be read although the cluster answered (the check is incomplete there).
  unread?: string[];
}

type Run = ReturnType<typeof probing>;
const lastLine = (r: { stderr: string; stdout: string; exitCode: number }) =>
  `${r.stderr}\n${r.stdout}`.trim().split('\n').at(-1)?.slice(0, 200) || `exited ${r.exitCode}`;
const NO_TYPE = /doesn't have a resource type|no matches for kind|could not find the requested resource/i;

function gatewayOf(item: Item): GatewayFacts {
  const spec = (item.spec ?? {}) as { selector?: Record<string, string>; servers?: Array<{ port?: { number?: number }; tls?: { mode?: string } }> };
  return {
    name: item.metadata?.name ?? '',
    selector: spec.selector ?? {},
    servers: (spec.servers ?? []).map((s) => ({ port: s.port?.number ?? 0, mode: s.tls?.mode ?? '' })),
  };
}

type TlsRoute = { match?: Array<{ port?: number }>; route?: Array<{ destination?: { host?: string } }> };

function routeOf(item: Item): RouteFacts {
  const spec = (item.spec ?? {}) as { gateways?: string[]; tls?: TlsRoute[] };
  const routes = (spec.tls ?? []).flatMap((r) =>
    (r.match ?? []).flatMap((m) => (r.route ?? []).map((d) => ({ port: m.port ?? 0, host: d.destination?.host ?? '' }))),
  );
  return { name: item.metadata?.name ?? '', gateways: spec.gateways ?? [], routes };
}

// The expose objects of istio-system, both kinds in one process. Istio's CRDs absent: there are none.
async function exposeReads(run: Run, context: string): Promise<Pick<DriftFacts, 'gateways' | 'virtualServices'> | { unread: string }> {
  const got = await run(
    kubectl(context, ['get', 'gateways.networking.istio.io,virtualservices.networking.istio.io', '-n', ISTIO_SYSTEM, '-o', 'json'], 'observe'),
  );
  if (got.exitCode !== 0 && NO_TYPE.test(got.stderr)) return { gateways: [], virtualServices: [] };
  if (got.exitCode !== 0) return { unread: `the Gateways and VirtualServices of ${ISTIO_SYSTEM}: ${lastLine(got)}` };
  const items = itemsOf(got.stdout) as Array<Item & { kind?: string }>;
  return {
    gateways: items.filter((i) => i.kind === 'Gateway').map(gatewayOf),
    virtualServices: items.filter((i) => i.kind === 'VirtualService').map(routeOf),
  };
}

// istiod's view of the clusters it reads, asked of the mesh's revision.
async function syncReads(run: Run, facts: ClusterFacts, revision: string | undefined): Promise<Pick<DriftFacts, 'sync'> | { unread: string }> {
  const got = await run(istioctl(facts.context, ['remote-clusters', ...(revision ? [`--revision=${revision}`] : [])], 'observe'));
  if (got.exitCode !== 0) {
    const why = remoteClustersHint(`${got.stderr}\n${got.stdout}`, facts.name);
    return { unread: `istiod's view of the clusters it reads (istioctl remote-clusters): ${lastLine(got)}; ${why}` };
  }
  return { sync: Object.fromEntries(parseRemoteClusters(got.stdout)) };
}

// The token of the remote secret for `member` held on `holder`, presented as istiod would present it.
async function probeToken(rt: StepRuntime, holder: ClusterFacts, member: string): Promise<TokenFacts> {
  const name = holder.remoteSecrets.find((s) => s.clusters.includes(member))?.name;
  if (!name) return { verdict: 'unchecked', detail: 'no remote secret' };
  let found: ReturnType<typeof kubeconfigOf>;
  try {
    found = kubeconfigOf(await readSecret(rt, holder.context, name, holder.name), member);
  } catch (error) {
    return { verdict: 'unchecked', detail: `its secret could not be read: ${(error as Error).message.split('\n')[0]}` };
  }
  const probe = found?.token ? tokenProbe(found.config, found.token) : undefined;
  if (!probe) return { verdict: 'unchecked', detail: 'it carries no bearer token to check' };
  const answer = await rt.presentToken({ ...probe, access: ISTIOD_READ });
  const server = probe.server;
  if ('refused' in answer) return { verdict: 'unchecked', server, detail: answer.refused };
  if ('error' in answer) return { verdict: 'unreachable', server, detail: answer.error };
  if (answer.status === 401) return { verdict: 'refused', server };
  if (answer.allowed === false) return { verdict: 'forbidden', server };
  return { verdict: 'accepted', server };
}

// The reads only a control plane of the mesh needs, once discovery found it running the mesh's revision.
async function primaryReads(rt: StepRuntime, facts: ClusterFacts, config: MeshConfig, members: Set<string>): Promise<DriftFacts> {
  const run = probing(rt);
  const revision = config.revision ?? 'default';
  const serves = facts.istiods.some((i) => i.revision === revision);
  const [expose, sync] = await Promise.all([
    exposeReads(run, facts.context),
    serves ? syncReads(run, facts, config.revision) : Promise.resolve({} as Pick<DriftFacts, 'sync'>),
  ]);
  const unread = [expose, sync].flatMap((r) => ('unread' in r ? [r.unread] : []));
  const out: DriftFacts = { ...facts, ...('unread' in expose ? {} : expose), ...('unread' in sync ? {} : sync), ...(unread.length ? { unread } : {}) };
  if (!out.sync) return out;
  const unsynced = [...members].filter((m) => m !== facts.name && out.sync?.[m] !== 'synced' && facts.remoteSecrets.some((s) => s.clusters.includes(m)));
  if (unsynced.length === 0) return out;
  const answers = await Promise.all(unsynced.map(async (m) => [m, await probeToken(rt, facts, m)] as const));
  return { ...out, tokens: Object.fromEntries(answers) };
}

// Every cluster of the mesh read at once: discovery's facts, then what the mesh's primaries show beyond them.
export async function readDrift(config: MeshConfig, tools: ClusterTools): Promise<DriftFacts[]> {
  const facts = await discoverClusters(config, tools);
  const rt = directRuntime(config, tools);
  const members = new Set(config.clusters.map((c) => c.name));
  const primaries = new Set(config.clusters.filter((c) => c.role === 'primary').map((c) => c.name));
  return Promise.all(
    facts.map(async (f) => {
      if (f.error || !primaries.has(f.name) || f.istiods.length === 0) return f;
      try {
        return await primaryReads(rt, f, config, members);
      } catch (error) {
        // Not the parser's message: it quotes the text it read.
        return { ...f, unread: [`an answer could not be read (${(error as Error).name})`] };
      }
    }),
  );
}
