// mesh-run drift, part 2: the mesh as the journal says it should be, against what its clusters show now
// (drift-reads.ts). Pure: no cluster is read here. Each difference is one item: what and where, why it matters,
// and the repair (the command mesh-run will run for it). This file: the items about one cluster's own Istio
// (its control plane or remote profile, revision, identity, network label, control-plane annotation, tags);
// drift-links.ts: the links between clusters (secrets, sync, gateways, expose objects); drift-trust.ts: cacerts
// and the roots of trust.
import { labelsNetwork } from '../../machines/topology.js';
import type { MeshCluster } from '../../shared/model.js';
import { linkDrift } from './drift-links.js';
import type { DriftFacts } from './drift-reads.js';
import { trustDrift } from './drift-trust.js';
import { CONTROL_PLANE_ANNOTATION, ISTIO_SYSTEM, NETWORK_LABEL } from './install-common.js';

export { DRIFT_KINDS, type DriftContext, type DriftExpectation, type DriftItem, type DriftKind, type DriftResult, type UnreadCluster } from './drift-model.js';

import { DRIFT_KINDS, type DriftContext, type DriftExpectation, type DriftResult, type UnreadCluster } from './drift-model.js';

// The command that puts a cluster's own Istio back as the journal has it (its IstioOperator, rendered as install
// renders it, on stdin).
function reinstallCommand(ctx: DriftContext, m: MeshCluster, what: string): string {
  const profile = m.role === 'primary' ? 'the primary IstioOperator' : 'the remote IstioOperator';
  return `istioctl install -y --context=${m.context} -f - (${profile}${ctx.revision === 'default' ? '' : `, revision ${ctx.revision}`}: ${what})`;
}

// A member runs the mesh's Istio at all, and its revision.
function presence(ctx: DriftContext, m: MeshCluster, f: DriftFacts): boolean {
  const primary = m.role === 'primary';
  const revisions = primary ? f.istiods.map((i) => i.revision) : f.injectors.map((i) => i.revision);
  if (revisions.length === 0) {
    ctx.items.push({
      kind: 'istio-missing',
      cluster: m.name,
      what: primary
        ? `${m.name} runs no istiod (the journal has it as a primary)`
        : `${m.name} has no injector webhook of the remote profile${f.istioSystem ? '' : ` and no ${ISTIO_SYSTEM}`} (the journal has it as a remote of ${m.controlPlane})`,
      why: primary
        ? `no control plane serves ${m.name}${ctx.shape.members.some((r) => r.controlPlane === m.name) ? ' or its remotes' : ''}: new pods get no sidecar, running proxies lose their configuration`
        : `pods on ${m.name} are no longer injected, and ${m.controlPlane}'s istiod cannot configure it`,
      repair: reinstallCommand(ctx, m, primary ? 'the control plane' : `the remote profile pointed at ${m.controlPlane}`),
    });
    return false;
  }
  if (!revisions.includes(ctx.revision)) {
    ctx.items.push({
      kind: 'revision',
      cluster: m.name,
      what: `${m.name} runs revision ${[...new Set(revisions)].join(', ')}, not ${ctx.revision} (the journal's)`,
      why: `the mesh's other clusters, its tags and its expose objects name revision ${ctx.revision}: sidecars and remotes look for a control plane that is not there`,
      repair: reinstallCommand(ctx, m, `revision ${ctx.revision}`),
    });
  }
  return true;
}

// istiod of the mesh's revision runs with the journal's meshID, cluster name and network.
function identity(ctx: DriftContext, m: MeshCluster, f: DriftFacts): void {
  const istiod = f.istiods.find((i) => i.revision === ctx.revision);
  if (!istiod) return;
  const wrong: string[] = [];
  const set: string[] = [];
  if (istiod.meshID !== undefined && istiod.meshID !== ctx.config.meshID) {
    wrong.push(`meshID ${istiod.meshID} (journal: ${ctx.config.meshID})`);
    set.push(`values.global.meshID=${ctx.config.meshID}`);
  }
  if (istiod.clusterId !== undefined && istiod.clusterId !== m.name) {
    wrong.push(`clusterName ${istiod.clusterId} (journal: ${m.name})`);
    set.push(`values.global.multiCluster.clusterName=${m.name}`);
  }
  if (istiod.network !== undefined && istiod.network !== m.network) {
    wrong.push(`network ${istiod.network} (journal: ${m.network})`);
    set.push(`values.global.network=${m.network}`);
  }
  if (wrong.length === 0) return;
  ctx.items.push({
    kind: 'istiod-identity',
    cluster: m.name,
    what: `${istiod.name} on ${m.name} runs with ${wrong.join(', ')}`,
    why: "the remote secrets, injection paths and endpoints of the other clusters name the journal's values: istiod files them under another mesh, cluster or network, and cross-cluster traffic stops",
    repair: reinstallCommand(ctx, m, set.join(', ')),
  });
}

// istio-system carries the member's network (a multi-network mesh labels it; one network must not name another).
function networkLabel(ctx: DriftContext, m: MeshCluster, f: DriftFacts): void {
  const wanted = labelsNetwork(ctx.shape, m.name);
  if (f.network === m.network || (!wanted && f.network === undefined)) return;
  ctx.items.push({
    kind: 'network-label',
    cluster: m.name,
    what:
      f.network === undefined
        ? `${ISTIO_SYSTEM} on ${m.name} lost its label ${NETWORK_LABEL} (journal: ${m.network})`
        : `${ISTIO_SYSTEM} on ${m.name} is labelled ${NETWORK_LABEL}=${f.network}, not ${m.network}`,
    why: `istiod places ${m.name}'s endpoints by this label: on the wrong network they are handed out as pod IPs other networks cannot reach (or through the wrong gateway)`,
    repair: `kubectl label namespace ${ISTIO_SYSTEM} ${NETWORK_LABEL}=${m.network} --overwrite --context=${m.context}`,
  });
}

// A remote's istio-system names its control plane, and only it.
function annotation(ctx: DriftContext, m: MeshCluster, f: DriftFacts): void {
  if (m.role !== 'remote' || !m.controlPlane) return;
  const named = f.controlPlaneClusters;
  if (named?.length === 1 && named[0] === m.controlPlane) return;
  ctx.items.push({
    kind: 'control-plane-annotation',
    cluster: m.name,
    what:
      named === undefined
        ? `${ISTIO_SYSTEM} on remote ${m.name} lost its annotation ${CONTROL_PLANE_ANNOTATION} (journal: ${m.controlPlane})`
        : `${ISTIO_SYSTEM} on remote ${m.name} names ${named.join(', ')} in ${CONTROL_PLANE_ANNOTATION}, not ${m.controlPlane}`,
    why: `istiod on ${m.controlPlane} takes charge of ${m.name} (its injector's CA, its root) only when this annotation names it`,
    repair: `kubectl annotate namespace ${ISTIO_SYSTEM} ${CONTROL_PLANE_ANNOTATION}=${m.controlPlane} --overwrite --context=${m.context}`,
  });
}

// The default revision tag, where there is one, points at the mesh's revision.
function defaultTag(ctx: DriftContext, m: MeshCluster, f: DriftFacts): void {
  const tagged = f.tagRevisions?.default;
  if (tagged === undefined || tagged === ctx.revision) return;
  // What repair-tag runs; it needs --force where no mesh-run upgrade made the tag (repair-choice.ts).
  const runs =
    ctx.revision === 'default'
      ? `istioctl tag remove default -y --context=${m.context} and, if that leaves the default revision's injector matching nothing, installs revision default again`
      : `istioctl tag set default --revision=${ctx.revision} --overwrite -y --context=${m.context}`;
  ctx.items.push({
    kind: 'default-tag',
    cluster: m.name,
    what: `the default revision tag on ${m.name} points at revision ${tagged}, not ${ctx.revision} (the journal's)`,
    why: `namespaces labelled istio-injection=enabled or istio.io/rev=default get revision ${tagged}'s proxies at their next restart`,
    repair: `mesh-run repair --mesh ${ctx.config.meshID} --only default-tag (--force when no mesh-run upgrade made the tag), which runs ${runs}`,
  });
}

// Expected state against facts: every drift item, and the clusters that could not be (fully) read.
export function compareMesh(expected: DriftExpectation, facts: readonly DriftFacts[]): DriftResult {
  const config = expected.config;
  const unreadable: UnreadCluster[] = [];
  const readable = new Map<string, DriftFacts>();
  for (const f of facts) {
    if (f.error) unreadable.push({ cluster: f.name, context: f.context, error: f.error });
    else {
      readable.set(f.name, f);
      for (const part of f.unread ?? []) unreadable.push({ cluster: f.name, context: f.context, error: part });
    }
  }
  const ctx: DriftContext = {
    config,
    shape: { members: config.clusters },
    revision: config.revision ?? 'default',
    cacerts: expected.cacerts,
    certs: expected.certs ?? new Map(),
    now: expected.now ?? Date.now(),
    facts: readable,
    items: [],
  };
  for (const m of config.clusters) {
    const f = readable.get(m.name);
    if (!f) continue;
    const runs = presence(ctx, m, f);
    if (runs && m.role === 'primary') identity(ctx, m, f);
    networkLabel(ctx, m, f);
    annotation(ctx, m, f);
    defaultTag(ctx, m, f);
  }
  linkDrift(ctx);
  trustDrift(ctx);
  const order = new Map<string, number>(DRIFT_KINDS.map((k, i) => [k, i]));
  const clusterOrder = new Map(config.clusters.map((c, i) => [c.name, i]));
  const items = ctx.items.sort(
    (a, b) => (order.get(a.kind) ?? 0) - (order.get(b.kind) ?? 0) || (clusterOrder.get(a.cluster) ?? 0) - (clusterOrder.get(b.cluster) ?? 0),
  );
  return { items, unreadable };
}
