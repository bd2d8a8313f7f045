// Meshes built the way a person builds them from Istio's multicluster pages: their commands, in a bash script
// written into a test's own folder and run there with the harness's kubectl, kubeconfig and istioctl. No
// mesh-run anywhere, so what stands on the clusters afterwards is a mesh mesh-run did not install (what
// "mesh-run mesh adopt" is for). Tokens go from istioctl to kubectl through a pipe only: no file holds one.
// CA keys (multi-primary) are files in the test's folder, as the pages' Makefile leaves them in certs/.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { apiServerOf, harnessClusters, istioctlPath, KUBECONFIG, kubectl } from './support.js';

// What gen-eastwest-gateway.sh --network "$network" prints (a bash function: the network is its argument).
const EASTWEST = `eastwest() {
  cat <<YAML
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
metadata:
  name: eastwest
spec:
  revision: ""
  profile: empty
  components:
    ingressGateways:
      - name: istio-eastwestgateway
        label:
          istio: eastwestgateway
          app: istio-eastwestgateway
          topology.istio.io/network: $1
        enabled: true
        k8s:
          env:
            - name: ISTIO_META_REQUESTED_NETWORK_VIEW
              value: $1
          service:
            ports:
              - {name: status-port, port: 15021, targetPort: 15021}
              - {name: tls, port: 15443, targetPort: 15443}
              - {name: tls-istiod, port: 15012, targetPort: 15012}
              - {name: tls-webhook, port: 15017, targetPort: 15017}
  values:
    gateways:
      istio-ingressgateway:
        injectionTemplate: gateway
    global:
      network: $1
YAML
}

# "Wait for the east-west gateway to be assigned an external IP address" (the page's test polls 120 s).
gateway_ip() {
  local address=""
  for _ in $(seq 1 120); do
    address=$(kubectl --context="$1" -n istio-system get svc istio-eastwestgateway -o jsonpath='{.status.loadBalancer.ingress[0].ip}')
    if [ -n "$address" ]; then echo "$address"; return 0; fi
    sleep 1
  done
  echo "the east-west gateway on $1 got no IP" >&2
  return 1
}
`;

const PRELUDE = `set -euo pipefail
cd "$WORK"
export KUBECONFIG
istioctl() { "$ISTIOCTL" "$@"; }
${EASTWEST}`;

// "Install Primary-Remote" (one network): cluster1 a primary serving remotes (externalIstiod), its east-west
// gateway and istiod exposed through it; cluster2 annotated with its control plane, the remote profile pointed
// at the gateway, and attached with its remote secret on cluster1.
export const PRIMARY_REMOTE = `${PRELUDE}
# Configure cluster1 as a primary
cat > cluster1.yaml <<YAML
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
spec:
  values:
    global:
      meshID: $MESH_ID
      multiCluster:
        clusterName: cluster1
      network: network1
      externalIstiod: true
YAML
istioctl install --context="$CTX_CLUSTER1" -y -f cluster1.yaml

# Install the east-west gateway in cluster1
eastwest network1 | istioctl --context="$CTX_CLUSTER1" install -y -f -
gateway_ip "$CTX_CLUSTER1" >/dev/null
kubectl --context="$CTX_CLUSTER1" get svc istio-eastwestgateway -n istio-system

# Expose the control plane in cluster1 (samples/multicluster/expose-istiod.yaml)
kubectl apply --context="$CTX_CLUSTER1" -n istio-system -f - <<'YAML'
apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: istiod-gateway
spec:
  selector:
    istio: eastwestgateway
  servers:
    - port: {name: tls-istiod, number: 15012, protocol: tls}
      tls: {mode: PASSTHROUGH}
      hosts: ["*"]
    - port: {name: tls-istiodwebhook, number: 15017, protocol: tls}
      tls: {mode: PASSTHROUGH}
      hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: istiod-vs
spec:
  hosts: ["*"]
  gateways: [istiod-gateway]
  tls:
    - match: [{port: 15012, sniHosts: ["*"]}]
      route: [{destination: {host: istiod.istio-system.svc.cluster.local, port: {number: 15012}}}]
    - match: [{port: 15017, sniHosts: ["*"]}]
      route: [{destination: {host: istiod.istio-system.svc.cluster.local, port: {number: 443}}}]
YAML

# Set the control plane cluster for cluster2
kubectl --context="$CTX_CLUSTER2" create namespace istio-system
kubectl --context="$CTX_CLUSTER2" annotate namespace istio-system topology.istio.io/controlPlaneClusters=cluster1

# Configure cluster2 as a remote
DISCOVERY_ADDRESS=$(kubectl --context="$CTX_CLUSTER1" -n istio-system get svc istio-eastwestgateway -o jsonpath='{.status.loadBalancer.ingress[0].ip}')
cat > cluster2.yaml <<YAML
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
spec:
  profile: remote
  values:
    istiodRemote:
      injectionPath: /inject/cluster/cluster2/net/network1
    global:
      remotePilotAddress: $DISCOVERY_ADDRESS
YAML
istioctl install --context="$CTX_CLUSTER2" -y -f cluster2.yaml

# Attach cluster2 as a remote cluster of cluster1 (its API server is on loopback here: --server names it; -n:
# a namespace on the kubeconfig's current context would otherwise take the secret, istio/istio#49780)
istioctl create-remote-secret --context="$CTX_CLUSTER2" -n istio-system --name=cluster2 --server="$SERVER_CLUSTER2" |
  kubectl apply -f - --context="$CTX_CLUSTER1"
`;

// "Install Multi-Primary on different networks", with "Before you begin"'s common root: a root and an
// intermediate per cluster made with openssl as tools/certs/Makefile.selfsigned.mk makes them, cacerts created
// before istiod; then per cluster the network label, the control plane, the east-west gateway and
// expose-services; then each primary's secret on the other.
export const MULTI_PRIMARY_MULTI_NETWORK = `${PRELUDE}
# Plug in CA certificates
mkdir -p certs && cd certs
ca_usage=critical,digitalSignature,nonRepudiation,keyEncipherment,keyCertSign
openssl req -newkey rsa:2048 -nodes -keyout root-key.pem -x509 -days 3650 -subj "/O=Istio/CN=Root CA" \\
  -addext basicConstraints=critical,CA:true -addext keyUsage=$ca_usage -out root-cert.pem 2>/dev/null
for c in cluster1 cluster2; do
  mkdir -p "$c"
  openssl req -newkey rsa:2048 -nodes -keyout "$c/ca-key.pem" -subj "/O=Istio/CN=Intermediate CA/L=$c" -out "$c/cluster-ca.csr" 2>/dev/null
  printf 'basicConstraints=critical,CA:true,pathlen:0\\nkeyUsage=%s\\nsubjectAltName=URI:spiffe://cluster.local/ns/istio-system/sa/citadel\\n' "$ca_usage" > "$c/intermediate.ext"
  openssl x509 -req -in "$c/cluster-ca.csr" -CA root-cert.pem -CAkey root-key.pem -CAcreateserial -days 730 \\
    -extfile "$c/intermediate.ext" -out "$c/ca-cert.pem" 2>/dev/null
  cat "$c/ca-cert.pem" root-cert.pem > "$c/cert-chain.pem"
  cp root-cert.pem "$c/root-cert.pem"
done
for c in cluster1 cluster2; do
  ctx=$([ "$c" = cluster1 ] && echo "$CTX_CLUSTER1" || echo "$CTX_CLUSTER2")
  kubectl --context="$ctx" create namespace istio-system
  kubectl --context="$ctx" create secret generic cacerts -n istio-system \\
    --from-file="$c/ca-cert.pem" --from-file="$c/ca-key.pem" --from-file="$c/root-cert.pem" --from-file="$c/cert-chain.pem"
done
cd "$WORK"

# Set the default network, configure the primary, install its east-west gateway, expose its services:
# primary <context> <cluster> <network>
primary() {
  kubectl --context="$1" label namespace istio-system topology.istio.io/network="$3"
  cat > "$2.yaml" <<YAML
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
spec:
  values:
    global:
      meshID: $MESH_ID
      multiCluster:
        clusterName: $2
      network: $3
YAML
  istioctl install --context="$1" -y -f "$2.yaml"
  eastwest "$3" | istioctl --context="$1" install -y -f -
  gateway_ip "$1" >/dev/null
  kubectl --context="$1" get svc istio-eastwestgateway -n istio-system
  # samples/multicluster/expose-services.yaml
  kubectl --context="$1" apply -n istio-system -f - <<'YAML'
apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: cross-network-gateway
spec:
  selector:
    istio: eastwestgateway
  servers:
    - port: {number: 15443, name: tls, protocol: TLS}
      tls: {mode: AUTO_PASSTHROUGH}
      hosts: ["*.local"]
YAML
}
# Both at once, as the page's test installs them (each output to a file of its own, printed after).
primary "$CTX_CLUSTER1" cluster1 network1 >primary-cluster1.log 2>&1 & first=$!
primary "$CTX_CLUSTER2" cluster2 network2 >primary-cluster2.log 2>&1 & second=$!
status=0
wait "$first" || status=$?
wait "$second" || status=$?
cat primary-cluster1.log primary-cluster2.log
[ "$status" -eq 0 ] || exit "$status"

# Enable endpoint discovery (-n istio-system: see the primary-remote script)
istioctl create-remote-secret --context="$CTX_CLUSTER1" -n istio-system --name=cluster1 --server="$SERVER_CLUSTER1" |
  kubectl apply -f - --context="$CTX_CLUSTER2"
istioctl create-remote-secret --context="$CTX_CLUSTER2" -n istio-system --name=cluster2 --server="$SERVER_CLUSTER2" |
  kubectl apply -f - --context="$CTX_CLUSTER1"
`;

// The pages' cleanup, on every harness cluster that has any Istio left: what a failed test leaves behind.
const CLEANUP = `set -uo pipefail
export KUBECONFIG
for ctx in $CONTEXTS; do
  "$ISTIOCTL" uninstall --context="$ctx" -y --purge >/dev/null 2>&1
  kubectl delete ns istio-system --context="$ctx" --ignore-not-found --wait=true >/dev/null
done
`;

function bash(dir: string, name: string, script: string, env: Record<string, string>): string {
  const file = join(dir, `${name}.sh`);
  writeFileSync(file, `#!/usr/bin/env bash\n${script}`);
  try {
    return execFileSync('bash', [file], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, KUBECONFIG, ISTIOCTL: istioctlPath(), WORK: dir, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 300_000,
    });
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    throw new Error(`${name}.sh failed:\n${`${stdout}\n${stderr}`.slice(-3000)}`);
  }
}

// Runs one page's script in `dir` against cluster1 and cluster2; its output (which holds no token).
export function buildByHand(dir: string, name: string, script: string, meshID: string): string {
  return bash(dir, name, script, {
    MESH_ID: meshID,
    CTX_CLUSTER1: 'cluster1',
    CTX_CLUSTER2: 'cluster2',
    SERVER_CLUSTER1: apiServerOf('cluster1'),
    SERVER_CLUSTER2: apiServerOf('cluster2'),
  });
}

// What Istio a harness cluster still holds (istio-system, Istio's CRDs, webhooks, cluster roles).
export function istioLeft(context: string): string[] {
  const names = (args: string[]) =>
    kubectl(context, [...args, '-o', 'name'])
      .split('\n')
      .filter(Boolean);
  return [
    ...names(['get', 'namespaces']).filter((n) => n === 'namespace/istio-system'),
    ...names(['get', 'customresourcedefinitions']).filter((n) => n.endsWith('.istio.io')),
    ...names(['get', 'mutatingwebhookconfigurations,validatingwebhookconfigurations,clusterroles,clusterrolebindings']).filter((n) => n.includes('istio')),
  ];
}

// Leaves every harness cluster without Istio, as the suite found them.
export function removeIstioEverywhere(dir: string): void {
  const contexts = harnessClusters()
    .map((c) => c.name)
    .filter((c) => istioLeft(c).length > 0);
  if (contexts.length > 0) bash(dir, 'cleanup', CLEANUP, { CONTEXTS: contexts.join(' ') });
}
