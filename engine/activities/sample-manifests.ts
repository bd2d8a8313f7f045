// The verify page's sample workloads, generated from their documented shape (samples/helloworld and
// samples/curl of an Istio release), or selected from a local release's files when verify.samplesDir is set.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { ConfigError } from '../../shared/errors.js';
import { MANAGED_BY, MESH_RUN } from './inventory.js';

export const SAMPLE_NAMESPACE = 'sample';
export const HELLOWORLD_PORT = 5000;
export const CURL_CONTAINER = 'curl';

// What verify deploys into the sample namespace (kind, name), whichever version a cluster runs.
export const SAMPLE_OBJECTS: ReadonlyArray<readonly [string, string]> = [
  ['deployment', 'helloworld-v1'],
  ['deployment', 'helloworld-v2'],
  ['deployment', 'curl'],
  ['service', 'helloworld'],
  ['service', 'curl'],
  ['serviceaccount', 'curl'],
];

type Doc = Record<string, unknown> & { kind?: string; metadata?: { name?: string; labels?: Record<string, string> } };

// The labels that make a namespace's pods injected: a revisioned control plane injects only namespaces that
// name it (istio.io/rev, without istio-injection, which would take precedence); the default one istio-injection.
export function injectionLabels(revision: string | undefined): Record<string, string | undefined> {
  return revision ? { 'istio.io/rev': revision, 'istio-injection': undefined } : { 'istio-injection': 'enabled' };
}

// The namespace, created with its labels in one request so a re-run can tell it is ours.
export function sampleNamespace(revision?: string): string {
  const injection = Object.fromEntries(Object.entries(injectionLabels(revision)).filter(([, v]) => v !== undefined));
  return stringify({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: SAMPLE_NAMESPACE, labels: { [MANAGED_BY]: MESH_RUN, ...injection } },
  });
}

function helloworldService(): Doc {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'helloworld', labels: { app: 'helloworld', service: 'helloworld' } },
    spec: { ports: [{ port: HELLOWORLD_PORT, name: 'http' }], selector: { app: 'helloworld' } },
  };
}

function helloworldDeployment(version: string): Doc {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: `helloworld-${version}`, labels: { app: 'helloworld', version } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'helloworld', version } },
      template: {
        metadata: { labels: { app: 'helloworld', version } },
        spec: {
          containers: [
            {
              name: 'helloworld',
              image: `registry.istio.io/release/examples-helloworld-${version}:1.0`,
              resources: { requests: { cpu: '100m' } },
              imagePullPolicy: 'IfNotPresent',
              ports: [{ containerPort: HELLOWORLD_PORT }],
            },
          ],
        },
      },
    },
  };
}

function curlWorkload(): Doc[] {
  const labels = { app: 'curl' };
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'curl' } },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'curl', labels: { ...labels, service: 'curl' } },
      spec: { ports: [{ port: 80, name: 'http' }], selector: labels },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'curl' },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            terminationGracePeriodSeconds: 0,
            serviceAccountName: 'curl',
            containers: [{ name: CURL_CONTAINER, image: 'curlimages/curl', command: ['/bin/sleep', 'infinity'], imagePullPolicy: 'IfNotPresent' }],
          },
        },
      },
    },
  ];
}

function fromRelease(samplesDir: string, relative: string): Doc[] {
  const path = join(samplesDir, relative);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new ConfigError([`verify.samplesDir: ${path} cannot be read; point samplesDir at an unpacked Istio release (the directory holding samples/)`]);
  }
  return parseAllDocuments(text)
    .map((d) => d.toJS() as Doc | null)
    .filter((d): d is Doc => d !== null && typeof d === 'object' && typeof d.kind === 'string');
}

const withLabel = (key: string, value: string) => (doc: Doc) => doc.metadata?.labels?.[key] === value;

// Everything one cluster runs: the helloworld Service, its version's Deployment, and curl.
export function sampleManifest(version: 'v1' | 'v2', samplesDir?: string): string {
  let docs: Doc[];
  if (samplesDir) {
    // What `kubectl apply -l service=helloworld` and `-l version=vN` select from the release's file.
    const hello = fromRelease(samplesDir, 'samples/helloworld/helloworld.yaml');
    docs = [
      ...hello.filter(withLabel('service', 'helloworld')),
      ...hello.filter(withLabel('version', version)),
      ...fromRelease(samplesDir, 'samples/curl/curl.yaml'),
    ];
    if (!docs.some((d) => d.kind === 'Deployment' && d.metadata?.name === `helloworld-${version}`)) {
      throw new ConfigError([
        `verify.samplesDir: ${samplesDir}/samples/helloworld/helloworld.yaml has no helloworld-${version} Deployment; use an Istio 1.24 or newer release (older ones have samples/sleep instead of samples/curl)`,
      ]);
    }
  } else {
    docs = [helloworldService(), helloworldDeployment(version), ...curlWorkload()];
  }
  return docs.map((d) => `---\n${stringify(d)}`).join('');
}
