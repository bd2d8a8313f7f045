// Which kubectl and istioctl mesh-run would run, and their client versions (nothing touches a cluster).
import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { execa } from 'execa';

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
