// Which drift a repair run takes, and how: each kind's action on the cluster where it drifted, the remotes that
// follow a primary's repaired east-west gateway (its address may change), and what this version leaves to the
// operator, each with why. Pure: what it needs to know of the mesh (its adopted clusters, whether its CA can be
// plugged in again) is given.
import { exposesIstiod, remotesOf } from '../../machines/topology.js';
import type { ClusterRole, MeshConfig, RepairAction, RepairItem } from '../../shared/model.js';
import { DRIFT_KINDS, type DriftItem, type DriftKind } from './drift-model.js';
import { TAG_WEBHOOK } from './tag-ownership.js';

// The action each repaired kind takes. istio-missing: a primary's control plane, or a remote's profile.
const ACTIONS: Partial<Record<DriftKind, RepairAction>> = {
  'remote-secret-missing': 'secret',
  'remote-secret-server': 'secret',
  'remote-secret-token': 'secret',
  // Almost always its remote secret: written again (istiod reads a secret anew when it changes).
  'istiod-unsynced': 'secret',
  'remote-secret-stale': 'stale-secret',
  'network-label': 'label',
  'control-plane-annotation': 'annotation',
  'expose-istiod': 'expose-istiod',
  'expose-services': 'expose-services',
  'east-west-gateway': 'gateway',
  'gateway-address': 'remote',
  'cacerts-missing': 'cacerts',
  // Only with --force: the cacerts there now may be someone's own CA.
  'cacerts-changed': 'cacerts',
  // Only with --force where a mesh-run upgrade did not make the tag: it may be someone's canary.
  'default-tag': 'default-tag',
  'istio-missing': 'control-plane',
  'istiod-identity': 'control-plane',
};

export const REPAIRED_KINDS: DriftKind[] = DRIFT_KINDS.filter((k) => ACTIONS[k] !== undefined);

export interface RepairFacts {
  config: MeshConfig;
  // Clusters whose Istio mesh-run adopted (it did not install it).
  adopted: ReadonlySet<string>;
  // repair --force: a cacerts holding another CA may be replaced with the mesh's, a default tag mesh-run did not
  // make moved or removed.
  force: boolean;
  // Clusters whose default revision tag a mesh-run upgrade made (tag-ownership.ts).
  tagsMade: ReadonlySet<string>;
  // Why the mesh's CA cannot be plugged into this primary again (undefined: it can).
  caProblem: (cluster: string) => string | undefined;
}

// A drift this version does not repair (or not here), and why.
export interface NotRepaired extends DriftItem {
  reason: string;
}

export interface RepairChoice {
  repairs: RepairItem[];
  unrepairable: NotRepaired[];
}

const roleOf = (config: MeshConfig, name: string): ClusterRole | undefined => config.clusters.find((c) => c.name === name)?.role;

// Why a kind this version never repairs is left to the operator.
function neverRepaired(item: DriftItem, config: MeshConfig): string | undefined {
  const revision = config.revision ?? 'default';
  const primary = config.clusters.find((c) => c.name === item.cluster)?.controlPlane ?? 'its primary';
  switch (item.kind) {
    case 'revision':
      return `another revision runs there instead of the journal's ${revision} (most often an upgrade made by hand): installing ${revision} beside it would leave two control planes, so going back (or adopting the new revision with "mesh-run mesh adopt") is your choice`;
    case 'injector-ca-empty':
      return `istiod on ${primary} writes this CA itself once it is in charge of ${item.cluster} (the remote's annotation and secret, repaired in the same run when they drifted); installing the remote again would leave it empty as well`;
    case 'intermediate-expiring':
      return `an intermediate about to expire is renewed by a rotation (a new intermediate under the mesh's root), not put back: "mesh-run trust rotate --mesh ${config.meshID} --intermediate"`;
    case 'roots-differ':
      return `primaries signing under different roots are not put back by a repair of this kind: where one primary's cacerts changed, "--only cacerts-changed --force" plugs the mesh's own back; else "mesh-run trust audit --mesh ${config.meshID}" shows each primary's root (a root rotation is not in this version)`;
    default:
      return undefined;
  }
}

// Why a kind this version repairs is not repaired on this cluster.
function refusal(item: DriftItem, action: RepairAction, facts: RepairFacts): string | undefined {
  if ((action === 'control-plane' || action === 'remote') && facts.adopted.has(item.cluster))
    return `mesh-run adopted ${item.cluster}'s Istio (it did not install it): installing it again from mesh-run's IstioOperator would replace how it was installed`;
  if (action === 'default-tag') return tagRefusal(item, facts);
  if (action !== 'cacerts') return undefined;
  const problem = facts.caProblem(item.cluster);
  if (problem) return problem;
  if (item.kind !== 'cacerts-missing' && !facts.force)
    return `${item.cluster}'s cacerts holds another CA now: replacing it is your choice ("mesh-run repair --force" puts the mesh's CA back and journals it; "mesh-run trust" makes a new CA the mesh's)`;
  return undefined;
}

// Moving the default tag moves injection for every istio-injection=enabled namespace: one mesh-run did not make
// is moved back (or removed) only with --force.
function tagRefusal(item: DriftItem, facts: RepairFacts): string | undefined {
  if (facts.force || facts.tagsMade.has(item.cluster)) return undefined;
  const revision = facts.config.revision ?? 'default';
  const act = revision === 'default' ? 'removing it' : `pointing it at ${revision} again`;
  return `no mesh-run upgrade made the default revision tag on ${item.cluster} (MutatingWebhookConfiguration ${TAG_WEBHOOK}): it may be someone's canary, and ${act} moves injection for every istio-injection=enabled namespace; "mesh-run repair --mesh ${facts.config.meshID} --only default-tag --force" does it and journals what it replaced`;
}

function itemOf(item: DriftItem, action: RepairAction, force: boolean): RepairItem {
  return {
    kind: item.kind,
    action,
    cluster: item.cluster,
    ...(action === 'secret' && item.source ? { source: item.source } : {}),
    ...(action === 'stale-secret' && item.secret ? { secret: item.secret } : {}),
    ...((action === 'cacerts' || action === 'default-tag') && force ? { force: true } : {}),
  };
}

const keyOf = (r: RepairItem) => [r.action, r.cluster, r.source ?? '', r.secret ?? ''].join('\0');

// The repairs for `items` (all of them taken: --only has filtered them already), and what is left, with why.
export function chooseRepairs(items: readonly DriftItem[], facts: RepairFacts): RepairChoice {
  const repairs = new Map<string, RepairItem>();
  const unrepairable: NotRepaired[] = [];
  const add = (r: RepairItem) => {
    if (!repairs.has(keyOf(r))) repairs.set(keyOf(r), r);
  };
  for (const item of items) {
    const mapped = ACTIONS[item.kind];
    const action = mapped === 'control-plane' && roleOf(facts.config, item.cluster) === 'remote' ? 'remote' : mapped;
    const reason = action ? refusal(item, action, facts) : (neverRepaired(item, facts.config) ?? 'this version has no step for it');
    if (!action || reason) unrepairable.push({ ...item, reason: reason ?? '' });
    else if (action === 'secret' && !item.source) unrepairable.push({ ...item, reason: 'the drift check did not say whose secret it is' });
    else add(itemOf(item, action, action === 'default-tag' ? facts.force && !facts.tagsMade.has(item.cluster) : facts.force));
  }
  // A primary's gateway installed again may get another address: the remotes that reach istiod through it
  // follow (repair-remote installs one again only if its address moved). Adopted remotes are not installed.
  const shape = { members: facts.config.clusters };
  for (const gateway of [...repairs.values()].filter((r) => r.action === 'gateway' && exposesIstiod(shape, r.cluster)))
    for (const remote of remotesOf(shape, gateway.cluster))
      if (!facts.adopted.has(remote.name)) add({ kind: gateway.kind, action: 'remote', cluster: remote.name, follows: gateway.cluster });
  return { repairs: [...repairs.values()], unrepairable };
}
