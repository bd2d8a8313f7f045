// The drift of a cluster's installed parts, made again on plan repair's simulated copy (plan-drift.ts): a
// remote's profile, a primary's control plane, its CA and the default revision tag. Each change is one an
// operator could make with kubectl, and leaves the copy as the drift check found the real cluster, so that
// each repair step, which observes before it acts, does there what it would do for real.
import type { Command } from '../adapters/cluster-tools.js';
import type { MeshConfig, RepairItem } from '../shared/model.js';
import { DEFAULT_REVISION, namedOrNone, revisionName } from '../shared/revisions.js';
import { CACERTS } from './activities/install-common.js';
import { ISTIO_SYSTEM } from './activities/kube-ops.js';
import { injectorWebhookName } from './activities/manifests.js';
import { istiodName } from './activities/revision-ops.js';
import { generateIntermediate, generateRoot } from './activities/trust/ca.js';

// One kubectl command on the item's cluster of the copy (its --context added).
export type Edit = Pick<Command, 'args' | 'stdin'>;

export interface Drifting {
  item: RepairItem;
  config: MeshConfig;
  // The rest of what the drift check found, by kind and cluster.
  found: ReadonlyArray<{ kind: string; cluster: string }>;
  // kubectl get <args> -o json on the item's cluster of the copy (undefined: not found).
  read: <T>(args: string[]) => Promise<T | undefined>;
}

interface Item {
  metadata?: Record<string, unknown>;
  [field: string]: unknown;
}

interface Deployment extends Item {
  spec?: { template?: { spec?: { containers?: Array<{ env?: Array<{ name: string; value?: string }> }> } } };
}

// An address that leads nowhere (TEST-NET-1, RFC 5737).
const NOWHERE = '192.0.2.1';
const TAG_WEBHOOK = 'istio-revision-tag-default';
const apply = (object: object): Edit => ({ args: ['apply', '--server-side', '-f', '-'], stdin: JSON.stringify(object) });

// repair-remote's drift, on the remote itself. gateway-address: it reaches istiod at another address than its
// primary's east-west gateway has (its istiod EndpointSlice, where the remote profile keeps remotePilotAddress,
// names an address that leads nowhere); the gateway stays where it is, so the primary's other remotes do not
// drift with it. istio-missing: its injector webhook deleted. A remote that follows its primary's repaired
// gateway has no drift of its own: the gateway's change is made on the primary.
export async function remoteDrift({ item, config, read }: Drifting): Promise<Edit[]> {
  if (item.follows) return [];
  const revision = revisionName(config.revision);
  if (item.kind !== 'gateway-address')
    return [{ args: ['delete', 'mutatingwebhookconfiguration', injectorWebhookName(namedOrNone(revision)), '--ignore-not-found'] }];
  const name = istiodName(revision);
  const slice = await read<Item & { endpoints?: Array<Record<string, unknown>> }>(['-n', ISTIO_SYSTEM, 'endpointslice', name]);
  // A remote profile pointed at a hostname keeps no slice (an ExternalName Service): the copy's never is.
  if (!slice) return [];
  const endpoints = slice.endpoints?.length ? slice.endpoints : [{}];
  return [apply({ ...slice, endpoints: endpoints.map((e) => ({ ...e, addresses: [NOWHERE] })) })];
}

// repair-control-plane's drift. istio-missing: istiod deleted (a primary without istio-system at all would
// have it created again too; the copy keeps it). istiod-identity: istiod running with another cluster name
// (meshID or network differing instead makes the same repair: install-primary with the journal's values).
export async function controlPlaneDrift({ item, config, read }: Drifting): Promise<Edit[]> {
  const istiod = istiodName(revisionName(config.revision));
  if (item.kind !== 'istiod-identity') return [{ args: ['-n', ISTIO_SYSTEM, 'delete', 'deployment', istiod, '--ignore-not-found'] }];
  const deployment = await read<Deployment>(['-n', ISTIO_SYSTEM, 'deployment', istiod]);
  if (!deployment) return [];
  for (const container of deployment.spec?.template?.spec?.containers ?? [])
    for (const env of container.env ?? []) if (env.name === 'CLUSTER_ID') env.value = `${item.cluster}-elsewhere`;
  return [apply(deployment)];
}

// repair-trust's drift. cacerts-missing: cacerts deleted; where the drift check also found this primary under
// another root (roots-differ: with cacerts gone, the root istiod publishes), istiod was restarted since and
// signs under a root of its own, so the copy's is restarted too (on a mesh of one primary no root differs and
// the copy's istiod keeps the mesh's: a repair restarts a real one that did restart). cacerts-changed: cacerts
// replaced with another CA's certificates, without a key (nothing reads a cacerts' key: drift and repair read
// its certificates), so no key is made for the copy to hold. The copy's istiod ignores a cacerts with another
// root until it restarts, as a real one does; one restarted since would be restarted by the repair as well.
export async function cacertsDrift({ item, config, found }: Drifting): Promise<Edit[]> {
  const removed: Edit = { args: ['-n', ISTIO_SYSTEM, 'delete', 'secret', CACERTS, '--ignore-not-found'] };
  if (item.kind === 'cacerts-missing') {
    const restarted = found.some((f) => f.kind === 'roots-differ' && f.cluster === item.cluster);
    const istiod = istiodName(revisionName(config.revision));
    return restarted ? [removed, { args: ['-n', ISTIO_SYSTEM, 'rollout', 'restart', `deployment/${istiod}`] }] : [removed];
  }
  const options = { keySize: 2048, rootDays: 3650, intermediateDays: 365 } as const;
  const other = await generateIntermediate(await generateRoot(options), item.cluster, options);
  const data = Object.fromEntries((['root-cert.pem', 'ca-cert.pem', 'cert-chain.pem'] as const).map((k) => [k, Buffer.from(other[k]).toString('base64')]));
  const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: CACERTS, namespace: ISTIO_SYSTEM }, type: 'Opaque', data };
  return [removed, { args: ['create', '-f', '-'], stdin: JSON.stringify(secret) }];
}

// repair-tag's drift: the default tag's webhook labelled with another revision, as `istioctl tag list` and the
// drift check read it (istioctl tag set itself refuses a revision the cluster does not run). Where there was no
// tag (a mesh of the default revision), one is added as kubectl would add it; `istioctl tag set` would also
// have left the default revision's injector inert, and the repair would install it again: the drift check
// does not tell the two apart, and the copy takes the first.
export async function defaultTagDrift({ config, read }: Drifting): Promise<Edit[]> {
  const other = revisionName(config.revision) === 'other' ? 'another' : 'other';
  if (await read<Item>(['mutatingwebhookconfiguration', TAG_WEBHOOK]))
    return [{ args: ['label', 'mutatingwebhookconfiguration', TAG_WEBHOOK, `istio.io/rev=${other}`, '--overwrite'] }];
  return [
    {
      args: ['apply', '-f', '-'],
      stdin: JSON.stringify({
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'MutatingWebhookConfiguration',
        metadata: { name: TAG_WEBHOOK, labels: { 'istio.io/tag': DEFAULT_REVISION, 'istio.io/rev': other } },
        webhooks: [{ name: 'rev.namespace.sidecar-injector.istio.io', clientConfig: { service: { name: istiodName(other), namespace: ISTIO_SYSTEM } } }],
      }),
    },
  ];
}
