// Generates the manifests of the Istio page from their documented shape: the primary and remote
// IstioOperators, the east-west gateway (as gen-eastwest-gateway.sh prints it) and expose-istiod.
import { stringify } from 'yaml';

export interface MeshIdentity {
  meshID: string;
  network: string;
  revision?: string;
  istioVersion?: string;
}

const IOP_API = 'install.istio.io/v1alpha1';

// Compares "1.22.3" with a minor version of the 1.x line.
export function atLeastMinor(version: string | undefined, minor: number): boolean {
  if (!version) return true;
  const m = /^v?(\d+)\.(\d+)/.exec(version);
  if (!m) return true;
  return Number(m[1]) > 1 || Number(m[2]) >= minor;
}

function toYaml(docs: unknown[]): string {
  return docs.map((d) => stringify(d, { lineWidth: 0 })).join('---\n');
}

// A primary's IstioOperator. Named, so that re-running it never prunes the east-west gateway. `external`: it
// serves remotes (primary-remote), so istiod runs in external mode; a primary of a multi-primary mesh does not.
// `ingress: false`: the control plane alone (a canary revision beside the old one leaves the ingress gateway to
// its own phase, as Istio upgrades gateways in place).
export function primaryOperator(cluster: string, id: MeshIdentity, external = true, ingress = true): string {
  const global: Record<string, unknown> = { meshID: id.meshID, multiCluster: { clusterName: cluster }, network: id.network };
  if (external) global.externalIstiod = true;
  const values: Record<string, unknown> = { global };
  // Before 1.23 global.externalIstiod did not set istiod's EXTERNAL_ISTIOD; the docs of that era set it directly.
  if (external && !atLeastMinor(id.istioVersion, 23)) values.pilot = { env: { EXTERNAL_ISTIOD: true } };
  return toYaml([
    {
      apiVersion: IOP_API,
      kind: 'IstioOperator',
      metadata: { name: primaryOperatorName(id.revision) },
      spec: {
        ...(id.revision ? { revision: id.revision } : {}),
        ...(ingress ? {} : { components: { ingressGateways: [{ name: INGRESS_GATEWAY, enabled: false }] } }),
        values,
      },
    },
  ]);
}

export const INGRESS_GATEWAY = 'istio-ingressgateway';

export function primaryOperatorName(revision?: string): string {
  return revision ? `mesh-run-primary-${revision}` : 'mesh-run-primary';
}

// The east-west gateway, equivalent to `gen-eastwest-gateway.sh --network <net> [--revision <rev>]`.
export function eastwestGatewayOperator(id: MeshIdentity): string {
  return toYaml([
    {
      apiVersion: IOP_API,
      kind: 'IstioOperator',
      metadata: { name: 'mesh-run-eastwest' },
      spec: {
        revision: id.revision ?? '',
        profile: 'empty',
        components: {
          ingressGateways: [
            {
              name: 'istio-eastwestgateway',
              label: { istio: 'eastwestgateway', app: 'istio-eastwestgateway', 'topology.istio.io/network': id.network },
              enabled: true,
              k8s: {
                env: [{ name: 'ISTIO_META_REQUESTED_NETWORK_VIEW', value: id.network }],
                service: {
                  ports: [
                    { name: 'status-port', port: 15021, targetPort: 15021 },
                    { name: 'tls', port: 15443, targetPort: 15443 },
                    { name: 'tls-istiod', port: 15012, targetPort: 15012 },
                    { name: 'tls-webhook', port: 15017, targetPort: 15017 },
                  ],
                },
              },
            },
          ],
        },
        values: {
          gateways: { 'istio-ingressgateway': { injectionTemplate: 'gateway' } },
          global: { network: id.network },
        },
      },
    },
  ]);
}

export function istiodVirtualServiceName(revision?: string): string {
  return revision ? `istiod-vs-${revision}` : 'istiod-vs';
}

// Gateway istiod-gateway and VirtualService istiod-vs (expose-istiod.yaml, or its revision template).
export function exposeIstiod(id: MeshIdentity): string {
  const api = atLeastMinor(id.istioVersion, 22) ? 'networking.istio.io/v1' : 'networking.istio.io/v1beta1';
  const istiodHost = id.revision ? `istiod-${id.revision}.istio-system.svc.cluster.local` : 'istiod.istio-system.svc.cluster.local';
  const sniHosts = id.revision ? [`istiod-${id.revision}.istio-system.svc`, istiodHost] : ['*'];
  const server = (name: string, number: number) => ({ port: { name, number, protocol: 'tls' }, tls: { mode: 'PASSTHROUGH' }, hosts: ['*'] });
  const route = (port: number, target: number) => ({ match: [{ port, sniHosts }], route: [{ destination: { host: istiodHost, port: { number: target } } }] });
  return toYaml([
    {
      apiVersion: api,
      kind: 'Gateway',
      metadata: { name: 'istiod-gateway' },
      spec: { selector: { istio: 'eastwestgateway' }, servers: [server('tls-istiod', 15012), server('tls-istiodwebhook', 15017)] },
    },
    {
      apiVersion: api,
      kind: 'VirtualService',
      metadata: { name: istiodVirtualServiceName(id.revision) },
      spec: { hosts: ['*'], gateways: ['istiod-gateway'], tls: [route(15012, 15012), route(15017, 443)] },
    },
  ]);
}

// expose-services.yaml: the east-west gateway passes mTLS traffic for every *.local service through, so
// workloads on other networks reach this network's services (port 15443, AUTO_PASSTHROUGH).
export function exposeServices(id: MeshIdentity): string {
  const api = atLeastMinor(id.istioVersion, 22) ? 'networking.istio.io/v1' : 'networking.istio.io/v1beta1';
  return toYaml([
    {
      apiVersion: api,
      kind: 'Gateway',
      metadata: { name: 'cross-network-gateway' },
      spec: {
        selector: { istio: 'eastwestgateway' },
        servers: [{ port: { number: 15443, name: 'tls', protocol: 'TLS' }, tls: { mode: 'AUTO_PASSTHROUGH' }, hosts: ['*.local'] }],
      },
    },
  ]);
}

// The remote's IstioOperator: profile remote, pointed at the primary through the gateway address.
// clusterName, the injection path and the remote secret's --name all derive from one value.
export function remoteOperator(remote: string, discoveryAddress: string, id: MeshIdentity): string {
  return toYaml([
    {
      apiVersion: IOP_API,
      kind: 'IstioOperator',
      metadata: { name: remoteOperatorName(id.revision) },
      spec: {
        profile: 'remote',
        ...(id.revision ? { revision: id.revision } : {}),
        values: {
          istiodRemote: { injectionPath: `/inject/cluster/${remote}/net/${id.network}` },
          global: { remotePilotAddress: discoveryAddress },
        },
      },
    },
  ]);
}

export function remoteOperatorName(revision?: string): string {
  return revision ? `mesh-run-remote-${revision}` : 'mesh-run-remote';
}

// Names Kubernetes limits that the config decides: what each is, and its limit. The IstioOperator names
// end up in istioctl's owning-resource label (a label value: 63), istiod's name is a Service (63).
export function derivedNames(revision: string | undefined): Array<{ name: string; what: string; limit: number }> {
  if (!revision) return [];
  return [
    {
      name: primaryOperatorName(revision),
      what: 'the primary IstioOperator name (istioctl writes it into the label install.operator.istio.io/owning-resource)',
      limit: 63,
    },
    {
      name: remoteOperatorName(revision),
      what: 'the remote IstioOperator name (istioctl writes it into the label install.operator.istio.io/owning-resource)',
      limit: 63,
    },
    { name: `istiod-${revision}`, what: "istiod's Service name", limit: 63 },
    { name: injectorWebhookName(revision), what: 'the injector webhook name', limit: 253 },
    { name: istiodVirtualServiceName(revision), what: "expose-istiod's VirtualService name", limit: 253 },
  ];
}

export function injectorWebhookName(revision?: string): string {
  return revision ? `istio-sidecar-injector-${revision}` : 'istio-sidecar-injector';
}
