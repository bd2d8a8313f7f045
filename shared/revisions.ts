// A control plane's revision as one value: a config leaves `revision` unset for Istio's unrevisioned control
// plane, which Istio itself calls the `default` revision (istio.io/rev=default on its objects and pods,
// `istioctl uninstall --revision default`). An upgrade names the revision it leaves this way, so it can be the
// default one; what differs for it (its object names) is asked of the helpers here and in revision-ops.ts.

export const DEFAULT_REVISION = 'default';

// The revision a mesh config runs, by name: `default` when the config has none.
export function revisionName(configured: string | undefined): string {
  return configured || DEFAULT_REVISION;
}

// The config's `revision` field for a named revision: none for the default one (a config refuses "default").
export function configuredRevision(name: string): { revision?: string } {
  return name === DEFAULT_REVISION || name === '' ? {} : { revision: name };
}

// The suffix-bearing form the manifests take (istiod-<rev>, istiod-vs-<rev>...): undefined for the default.
export function namedOrNone(name: string): string | undefined {
  return configuredRevision(name).revision;
}
