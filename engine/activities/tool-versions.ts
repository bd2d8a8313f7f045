// Which kubectl and istioctl mesh-run would run, and their client versions (nothing touches a cluster).
import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { execa } from 'execa';
import type { ClusterTools } from '../../adapters/cluster-tools.js';
import type { MeshConfig } from '../../shared/model.js';
import { kubectl } from './step-runtime.js';

export interface ToolVersion {
  tool: 'kubectl' | 'istioctl';
  path: string | null;
  version: string | null;
  error?: string;
}

// Where a bare program name resolves on PATH (as execa would find it), or the path as given.
function resolveProgram(program: string): string | null {
  const candidates =
    isAbsolute(program) || program.includes('/')
      ? [program]
      : (process.env.PATH ?? '')
          .split(delimiter)
          .filter(Boolean)
          .map((dir) => join(dir, program));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // try the next one
    }
  }
  return null;
}

const ARGS = { kubectl: ['version', '--client', '-o', 'json'], istioctl: ['version', '--remote=false', '-o', 'json'] } as const;

// The client version from either tool's JSON (gitVersion for kubectl, version for istioctl), or the text.
function parse(stdout: string): string | null {
  try {
    const doc = JSON.parse(stdout) as { clientVersion?: { gitVersion?: string; version?: string } };
    return doc.clientVersion?.gitVersion ?? doc.clientVersion?.version ?? null;
  } catch {
    return /(v?\d+\.\d+\.\d+[\w.+-]*)/.exec(stdout)?.[1] ?? null;
  }
}

export async function toolVersions(paths: { kubectl: string; istioctl: string }): Promise<ToolVersion[]> {
  return Promise.all(
    (['kubectl', 'istioctl'] as const).map(async (tool) => {
      const path = resolveProgram(paths[tool]);
      if (!path) return { tool, path: null, version: null, error: `"${paths[tool]}" not found` };
      const result = await execa(path, [...ARGS[tool]], { reject: false, timeout: 20_000, stdin: 'ignore' });
      const version = result.exitCode === 0 ? parse(String(result.stdout)) : null;
      return version ? { tool, path, version } : { tool, path, version: null, error: `could not read its version (exit ${result.exitCode ?? '?'})` };
    }),
  );
}

export interface ClusterVersion {
  cluster: string;
  context: string;
  kubernetes: string | null;
  // The revisions of istiod found in istio-system, from their images' tags ([] when there is no istiod).
  istio: string[];
  error?: string;
}

// Each cluster's Kubernetes version and the Istio its istiod deployments run (read-only; no pod is reached).
export async function clusterVersions(config: MeshConfig, tools: ClusterTools): Promise<ClusterVersion[]> {
  const options = { signal: AbortSignal.timeout(30_000), timeoutMs: 20_000, step: 'preflight' as const, cluster: '*' };
  return Promise.all(
    config.clusters.map(async (c) => {
      const server = await tools.run(kubectl(c.context, ['version', '-o', 'json', '--request-timeout=10s'], 'observe'), options);
      let kubernetes: string | null = null;
      try {
        kubernetes = (JSON.parse(server.stdout) as { serverVersion?: { gitVersion?: string } }).serverVersion?.gitVersion ?? null;
      } catch {
        // no answer from the API server: reported below
      }
      if (!kubernetes) {
        const why = server.stderr.trim().split('\n').at(-1) ?? `exit ${server.exitCode}`;
        return { cluster: c.name, context: c.context, kubernetes: null, istio: [], error: why.slice(0, 200) };
      }
      const images = await tools.run(
        kubectl(
          c.context,
          ['-n', 'istio-system', 'get', 'deployments', '-l', 'app=istiod', '-o', 'jsonpath={.items[*].spec.template.spec.containers[0].image}'],
          'observe',
        ),
        options,
      );
      const istio =
        images.exitCode === 0
          ? [
              ...new Set(
                images.stdout
                  .split(/\s+/)
                  .filter(Boolean)
                  .map((i) => i.split(':').at(-1) as string),
              ),
            ]
          : [];
      return { cluster: c.name, context: c.context, kubernetes, istio };
    }),
  );
}
