// A real istiod behind every simulated istiod pod. kwok runs no containers, so the harness plays the kubelet
// for that one pod: when an istiod pod is Running, it starts pilot-discovery (built from the same Istio module
// as istioctl) as a local process against that cluster's API server, with the pod's own arguments,
// environment and mounted ConfigMaps, and routes port-forwards to the pod onto the process through a kwok
// ClusterPortForward. When the pod goes, so does the process.
//
// Where each setting comes from (all read from the pod the installed Deployment made, none invented here):
//   argv          the pod's container args (discovery --monitoringAddr=:15014 --domain ...), then listen
//                 addresses moved to free loopback ports (a later flag wins in pilot-discovery's parser) and
//                 --kubeconfig: this cluster's address and CA with a token of the pod's service account, so istiod
//                 has exactly the rights the install granted it
//   environment   the container's env: literal values as they are; fieldRefs resolved from the pod
//                 (POD_NAME, POD_NAMESPACE, SERVICE_ACCOUNT...); resource fieldRefs (GOMAXPROCS, GOMEMLIMIT)
//                 replaced by small local limits. REVISION, CLUSTER_ID, EXTERNAL_ISTIOD, PILOT_* come from here.
//   files         istiod reads ./etc/istio/config (mesh, meshNetworks) and ./var/lib/istio/inject relative to
//                 its working directory: each configMap volume the pod mounts is written under the working
//                 directory at its mountPath, as a kubelet would mount it (optional volumes may be absent);
//                 a secret volume (cacerts, the plugged-in CA) likewise, read by the harness as a kubelet
//                 reads it; emptyDir volumes become empty folders. Projected service-account tokens are not
//                 written as such: the kubeconfig carries one (see serviceAccountKubeconfig).
//   ports         15014 (debug and metrics: istioctl remote-clusters, version), 15010/15012 (xDS), 15017
//                 (webhooks), 8080 (http debug): each forwarded from the pod's port to the process.
//
// Why this reaches what the suite checks (Istio source at the pinned module version):
//   istioctl/pkg/proxyconfig/clusters.go    remote-clusters GETs debug/clusterz from every Running app=istiod pod
//   pkg/kube/client.go AllDiscoveryDo       ... through a port-forward to the pod's prometheus.io/port (15014)
//   pilot/pkg/bootstrap/server.go           the debug handlers are served on the monitoring mux (--monitoringAddr)
//   pilot/pkg/serviceregistry/kube/controller/multicluster.go
//                                           with EXTERNAL_ISTIOD=true, istiod leads a remote whose istio-system
//                                           names it in topology.istio.io/controlPlaneClusters and patches that
//                                           remote's injector caBundle (the suite's check-injector-ca)
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';

const SYSTEM_NAMESPACE = 'istio-system';
// pod port -> pilot-discovery flag that sets where it listens
const PORT_FLAGS = { 15014: '--monitoringAddr', 15010: '--grpcAddr', 15012: '--secureGRPCAddr', 15017: '--httpsAddr', 8080: '--httpAddr' };

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function fieldValue(pod, path) {
  const values = {
    'metadata.name': pod.metadata.name,
    'metadata.namespace': pod.metadata.namespace,
    'metadata.uid': pod.metadata.uid,
    'spec.serviceAccountName': pod.spec.serviceAccountName,
    'spec.nodeName': pod.spec.nodeName,
    'status.podIP': pod.status?.podIP,
    'status.hostIP': pod.status?.hostIP,
  };
  return values[path];
}

export function startIstiodRunner({ kubeconfig, contexts, stateDir, binary, log = () => {} }) {
  const kubectl = (context, args, input) =>
    execFileSync('kubectl', ['--kubeconfig', kubeconfig, '--context', context, ...args], {
      encoding: 'utf8',
      input,
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      timeout: 15_000,
    });
  // "<context>/<pod>" -> { child, forward }
  const running = new Map();
  let busy = false;

  function mountVolumes(context, pod, container, workdir) {
    for (const mount of container.volumeMounts ?? []) {
      const volume = (pod.spec.volumes ?? []).find((v) => v.name === mount.name);
      if (!volume) continue;
      const target = join(workdir, mount.mountPath);
      let data;
      if (volume.configMap) {
        try {
          data = JSON.parse(kubectl(context, ['-n', pod.metadata.namespace, 'get', 'configmap', volume.configMap.name, '-o', 'json'])).data ?? {};
        } catch (error) {
          if (volume.configMap.optional) continue;
          throw error;
        }
      } else if (volume.secret) {
        try {
          const raw = JSON.parse(kubectl(context, ['-n', pod.metadata.namespace, 'get', 'secret', volume.secret.secretName, '-o', 'json'])).data ?? {};
          data = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, Buffer.from(v, 'base64')]));
        } catch (error) {
          if (volume.secret.optional) continue;
          throw error;
        }
      } else if (volume.emptyDir) {
        mkdirSync(target, { recursive: true });
        continue;
      } else {
        continue;
      }
      mkdirSync(target, { recursive: true });
      for (const [key, value] of Object.entries(data)) {
        const file = join(target, key);
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, value, { mode: 0o600 });
      }
    }
  }

  // In a pod, istiod calls its API server as its service account; so it does here: a token for that account
  // (TokenRequest, as the kubelet's projected volume gets one) and the cluster's address and CA. What istiod may
  // do is what the ClusterRoles the install created grant it, no more.
  function serviceAccountKubeconfig(context, pod) {
    const view = JSON.parse(kubectl(context, ['config', 'view', '--minify', '--flatten', '--context', context, '-o', 'json']));
    const cluster = view.clusters[0].cluster;
    const account = pod.spec.serviceAccountName ?? 'default';
    const token = kubectl(context, ['-n', pod.metadata.namespace, 'create', 'token', account, '--duration=24h']).trim();
    return JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: context, cluster: { server: cluster.server, 'certificate-authority-data': cluster['certificate-authority-data'] } }],
      users: [{ name: account, user: { token } }],
      contexts: [{ name: context, context: { cluster: context, user: account, namespace: pod.metadata.namespace } }],
      'current-context': context,
    });
  }

  function environment(pod, container) {
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, GOMAXPROCS: '2', GOMEMLIMIT: '512MiB' };
    for (const entry of container.env ?? []) {
      if (entry.value !== undefined) env[entry.name] = entry.value;
      else if (entry.valueFrom?.fieldRef) {
        const value = fieldValue(pod, entry.valueFrom.fieldRef.fieldPath);
        if (value !== undefined) env[entry.name] = value;
      }
      // resourceFieldRef (GOMAXPROCS, GOMEMLIMIT from limits): the local limits above stand.
    }
    return env;
  }

  async function start(context, pod) {
    const key = `${context}/${pod.metadata.name}`;
    const container = pod.spec.containers.find((c) => c.name === 'discovery') ?? pod.spec.containers[0];
    const workdir = join(stateDir, 'istiod', context, pod.metadata.name);
    rmSync(workdir, { recursive: true, force: true });
    mkdirSync(workdir, { recursive: true });
    mountVolumes(context, pod, container, workdir);
    const kube = join(workdir, 'kubeconfig');
    writeFileSync(kube, serviceAccountKubeconfig(context, pod), { mode: 0o600 });
    const ports = {};
    for (const podPort of Object.keys(PORT_FLAGS)) ports[podPort] = await freePort();
    const args = [...(container.args ?? ['discovery'])];
    for (const [podPort, flag] of Object.entries(PORT_FLAGS)) args.push(`${flag}=127.0.0.1:${ports[podPort]}`);
    args.push(`--kubeconfig=${kube}`);
    const out = openSync(join(stateDir, 'istiod', `${context}-${pod.metadata.name}.log`), 'a');
    const child = spawn(binary, args, { cwd: workdir, env: environment(pod, container), stdio: ['ignore', out, out] });
    writeFileSync(join(workdir, 'pid'), String(child.pid));
    const forward = `real-istiod-${pod.metadata.name}`;
    const forwards = Object.entries(ports).map(([podPort, port]) => ({ ports: [Number(podPort)], target: { address: '127.0.0.1', port } }));
    kubectl(
      context,
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'kwok.x-k8s.io/v1alpha1',
        kind: 'ClusterPortForward',
        metadata: { name: forward },
        spec: { selector: { matchNamespaces: [pod.metadata.namespace], matchNames: [pod.metadata.name] }, forwards },
      }),
    );
    child.on('exit', (code, signal) => {
      log(`istiod for ${key} exited (${signal ?? code})`);
      const entry = running.get(key);
      if (entry?.child === child) entry.exitedAt = Date.now();
    });
    running.set(key, { context, child, forward, exitedAt: 0 });
    log(`istiod for ${key} started: pid ${child.pid}, debug port 127.0.0.1:${ports[15014]}`);
  }

  // SIGTERM, as a kubelet stops a container, then SIGKILL after a grace period (or at once, when the harness
  // itself is going away and the API server with it: istiod's graceful shutdown would wait on it).
  function stop(key, now = false) {
    const entry = running.get(key);
    if (!entry) return;
    running.delete(key);
    entry.child.kill(now ? 'SIGKILL' : 'SIGTERM');
    if (now) return;
    setTimeout(() => entry.child.kill('SIGKILL'), 5000).unref();
    try {
      kubectl(entry.context, ['delete', 'clusterportforward', entry.forward, '--ignore-not-found']);
    } catch {
      // the cluster may be gone
    }
    log(`istiod for ${key} stopped`);
  }

  async function pass() {
    if (busy) return;
    busy = true;
    try {
      for (const context of contexts) {
        let pods;
        try {
          pods = JSON.parse(kubectl(context, ['-n', SYSTEM_NAMESPACE, 'get', 'pods', '-l', 'app=istiod', '-o', 'json'])).items;
        } catch {
          continue;
        }
        const live = new Set();
        for (const pod of pods) {
          if (pod.status?.phase !== 'Running' || pod.metadata.deletionTimestamp) continue;
          const key = `${context}/${pod.metadata.name}`;
          live.add(key);
          const entry = running.get(key);
          // A process that died is started again after a pause, as a kubelet restarts a crashed container.
          if (entry?.exitedAt && Date.now() - entry.exitedAt > 5000) stop(key);
          if (!running.has(key)) {
            try {
              await start(context, pod);
            } catch (error) {
              log(`istiod for ${key} did not start: ${error.message}`);
            }
          }
        }
        for (const key of [...running.keys()]) if (key.startsWith(`${context}/`) && !live.has(key)) stop(key);
      }
    } finally {
      busy = false;
    }
  }

  const timer = setInterval(pass, 500);
  return {
    stopAll() {
      clearInterval(timer);
      for (const key of [...running.keys()]) stop(key, true);
    },
  };
}
