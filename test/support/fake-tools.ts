// Fake kubectl and istioctl scripts for driving the real (execa) adapter without clusters.
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

// Writes the scripts into `dir` (with `log`, each appends its argv to that file); `istioctl install` sleeps under a recognisable name so tests can find orphans
// (and, with ignoreTerm, shrugs off SIGTERM as a stuck tool would).
export function writeFakeTools(
  dir: string,
  marker: string,
  server = 'https://10.20.0.2:6443',
  options: { ignoreTerm?: boolean; log?: string } = {},
): { kubectl: string; istioctl: string } {
  const kubectl = join(dir, 'kubectl');
  const istioctl = join(dir, 'istioctl');
  writeFileSync(
    kubectl,
    `#!/usr/bin/env bash
${options.log ? `echo "kubectl $*" >> '${options.log}'` : ''}
case "$*" in
  *"config get-contexts"*) printf 'cluster1\\ncluster2\\n' ;;
  *"config view"*"users[0]"*) printf '|' ;;
  *"config view"*) printf '${server}' ;;
  *" version "*|*" version") echo '{"serverVersion":{"gitVersion":"v1.33.5"}}' ;;
  *" get "*) echo 'Error from server (NotFound): not found' >&2; exit 1 ;;
  *" create "*) cat >/dev/null; echo 'namespace/istio-system created' ;;
  *) echo "fake kubectl: $*" >&2; exit 1 ;;
esac
`,
  );
  writeFileSync(
    istioctl,
    `#!/usr/bin/env bash
${options.log ? `echo "istioctl $*" >> '${options.log}'` : ''}
case "$1" in
  version) echo '{"clientVersion":{"version":"1.27.3"}}' ;;
  x) echo '✔ No issues found when checking the cluster. Istio is safe to install or upgrade!' >&2 ;;
  install) ${options.ignoreTerm ? "trap '' TERM; " : ''}exec -a ${marker} sleep 30 ;;
  *) echo "fake istioctl: $*" >&2; exit 1 ;;
esac
`,
  );
  chmodSync(kubectl, 0o755);
  chmodSync(istioctl, 0o755);
  return { kubectl, istioctl };
}
