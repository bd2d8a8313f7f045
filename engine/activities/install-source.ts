// How a cluster's Istio was installed, told from the labels and annotations its installer leaves on istiod's
// Deployment and the injector webhook: an upgrade has to go through the same tool (istioctl does not upgrade a
// Helm release, Helm does not know an IstioOperator), so a mesh read back names it per cluster.
import { MANAGED_BY } from './inventory.js';
import { MESH_RUN_OWNER, OWNING_RESOURCE } from './mesh-inventory.js';

export type InstallSourceKind = 'istioctl' | 'helm' | 'mesh-run' | 'manifests';

export interface InstallSource {
  kind: InstallSourceKind;
  // istioctl and mesh-run: the IstioOperator's name; helm: the release's name and namespace.
  name?: string;
  namespace?: string;
}

interface Labelled {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
}

const HELM_RELEASE = 'meta.helm.sh/release-name';
const HELM_NAMESPACE = 'meta.helm.sh/release-namespace';

// One object's installer. istioctl renders Istio's Helm charts, whose templates may set managed-by=Helm too:
// its own label decides first. A Helm release is told by the annotations only the helm client writes (the
// output of "helm template" applied with kubectl carries the label without them: plain manifests).
export function sourceOf(obj: Labelled | undefined): InstallSource {
  const labels = obj?.metadata?.labels ?? {};
  const annotations = obj?.metadata?.annotations ?? {};
  const owner = labels[OWNING_RESOURCE];
  if (owner) return { kind: MESH_RUN_OWNER.test(owner) ? 'mesh-run' : 'istioctl', name: owner };
  const release = annotations[HELM_RELEASE];
  if (labels[MANAGED_BY] === 'Helm' && release) {
    const namespace = annotations[HELM_NAMESPACE];
    return { kind: 'helm', name: release, ...(namespace ? { namespace } : {}) };
  }
  return { kind: 'manifests' };
}

// The first object that names an installer (istiod's Deployment before the injector webhook), else manifests.
export function firstSource(objects: Array<Labelled | undefined>): InstallSource {
  for (const obj of objects) {
    const source = sourceOf(obj);
    if (source.kind !== 'manifests') return source;
  }
  return { kind: 'manifests' };
}
