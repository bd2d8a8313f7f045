// The files a person writes (or takes from samples/multicluster) while following Istio's multicluster pages
// by hand: the IstioOperators with no name or the sample's plain one, the expose manifests, the cacerts
// Secret. Written here from the pages' description, independently of mesh-run's own generator (manifests.ts),
// so a change there cannot quietly make the hand-built mesh look like mesh-run's; none carries a mark of
// mesh-run (no managed-by label, no mesh-run-* names, no fingerprint annotation).
import { stringify } from 'yaml';
import type { CaBundle } from '../activities/trust/ca-files.js';

const yaml = (...docs: unknown[]) => docs.map((d) => stringify(d, { lineWidth: 0 })).join('---\n');

// cluster1.yaml of the primary-remote page (1.24+), or a multi-primary page's: no metadata.name, no profile
// (the default profile, ingress gateway included). `external`: istiod serves remotes (global.externalIstiod).
export function primaryYaml(cluster: string, meshID: string, network: string, options: { revision?: string; external: boolean }): string {
  return yaml({
    apiVersion: 'install.istio.io/v1alpha1',
    kind: 'IstioOperator',
    spec: {
      ...(options.revision ? { revision: options.revision } : {}),
      values: {
        global: { meshID, multiCluster: { clusterName: cluster }, network, ...(options.external ? { externalIstiod: true } : {}) },
      },
    },
  });
}

// The injection path of a remote: it carries the cluster's name and network to its sidecars.
export const injectionPath = (cluster: string, network: string) => `/inject/cluster/${cluster}/net/${network}`;

// cluster2.yaml: the remote profile pointed at the primary's east-west gateway (DISCOVERY_ADDRESS). As on the
// page, neither clusterName nor network: the injection path alone names them.
export function remoteYaml(cluster: string, network: string, discoveryAddress: string, revision?: string): string {
  return yaml({
    apiVersion: 'install.istio.io/v1alpha1',
    kind: 'IstioOperator',
    spec: {
      profile: 'remote',
      ...(revision ? { revision } : {}),
      values: { istiodRemote: { injectionPath: injectionPath(cluster, network) }, global: { remotePilotAddress: discoveryAddress } },
    },
  });
}

// What `samples/multicluster/gen-eastwest-gateway.sh --network <n> [--revision <r>]` prints: an IstioOperator
// named eastwest, profile empty, one gateway carrying the network as a label and as its requested view.
export function eastwestYaml(network: string, revision?: string): string {
  const port = (name: string, number: number) => ({ name, port: number, targetPort: number });
  return yaml({
    apiVersion: 'install.istio.io/v1alpha1',
    kind: 'IstioOperator',
    metadata: { name: 'eastwest' },
    spec: {
      revision: revision ?? '',
      profile: 'empty',
      components: {
        ingressGateways: [
          {
            name: 'istio-eastwestgateway',
            enabled: true,
            label: { istio: 'eastwestgateway', app: 'istio-eastwestgateway', 'topology.istio.io/network': network },
            k8s: {
              env: [{ name: 'ISTIO_META_REQUESTED_NETWORK_VIEW', value: network }],
              service: { ports: [port('status-port', 15021), port('tls', 15443), port('tls-istiod', 15012), port('tls-webhook', 15017)] },
            },
          },
        ],
      },
      values: { gateways: { 'istio-ingressgateway': { injectionTemplate: 'gateway' } }, global: { network } },
    },
  });
}

const NETWORKING = 'networking.istio.io/v1';

// samples/multicluster/expose-istiod.yaml, or expose-istiod-rev.yaml.tmpl with the revision put in (as the
// page's sed does): istiod's discovery (15012) and webhook (15017) passed through the east-west gateway.
export function exposeIstiodYaml(revision?: string): string {
  const istiod = revision ? `istiod-${revision}` : 'istiod';
  const host = `${istiod}.istio-system.svc.cluster.local`;
  const sni = revision ? [`${istiod}.istio-system.svc`, host] : ['*'];
  const passthrough = (name: string, number: number) => ({ port: { name, number, protocol: 'tls' }, tls: { mode: 'PASSTHROUGH' }, hosts: ['*'] });
  const route = (port: number, target: number) => ({ match: [{ port, sniHosts: sni }], route: [{ destination: { host, port: { number: target } } }] });
  return yaml(
    {
      apiVersion: NETWORKING,
      kind: 'Gateway',
      metadata: { name: 'istiod-gateway' },
      spec: { selector: { istio: 'eastwestgateway' }, servers: [passthrough('tls-istiod', 15012), passthrough('tls-istiodwebhook', 15017)] },
    },
    {
      apiVersion: NETWORKING,
      kind: 'VirtualService',
      metadata: { name: revision ? `istiod-vs-${revision}` : 'istiod-vs' },
      spec: { hosts: ['*'], gateways: ['istiod-gateway'], tls: [route(15012, 15012), route(15017, 443)] },
    },
  );
}

// samples/multicluster/expose-services.yaml: mTLS traffic to any *.local service passed through on 15443.
export function exposeServicesYaml(): string {
  return yaml({
    apiVersion: NETWORKING,
    kind: 'Gateway',
    metadata: { name: 'cross-network-gateway' },
    spec: {
      selector: { istio: 'eastwestgateway' },
      servers: [{ port: { number: 15443, name: 'tls', protocol: 'TLS' }, tls: { mode: 'AUTO_PASSTHROUGH' }, hosts: ['*.local'] }],
    },
  });
}

// What `kubectl create secret generic cacerts -n istio-system --from-file=...` creates from a cluster's four
// files: an Opaque Secret with nothing but the data. Built in memory, handed to kubectl on stdin only.
export function cacertsYaml(bundle: CaBundle): string {
  const data = Object.fromEntries(Object.entries(bundle).map(([file, pem]) => [file, Buffer.from(pem).toString('base64')]));
  return JSON.stringify({ apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata: { name: 'cacerts', namespace: 'istio-system' }, data });
}
