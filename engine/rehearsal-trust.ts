// A rehearsal's own CA: a throwaway root generated into a scratch directory mesh-run makes (0700) for the
// copy's install and the run on it, and removes when the run is closed. A rehearsal never writes into, nor
// signs with, the real mesh's trust directory; a mesh whose CA is the user's files (read only) or is kept
// in memory needs none.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MeshConfig, TrustConfig } from '../shared/model.js';

export interface RehearsalTrust {
  trust: TrustConfig;
  // The scratch directory: the throwaway root, each cluster's intermediate, a rotation's staged bundles.
  dir: string;
}

// Only a generated CA kept in a directory writes there (the copy's install would mint into it).
export function needsOwnTrust(trust: TrustConfig | undefined): boolean {
  return trust?.source === 'generate' && trust.outputDir !== undefined;
}

export function throwawayTrust(): RehearsalTrust {
  const dir = mkdtempSync(join(tmpdir(), 'mesh-run-rehearsal-trust-'));
  return { dir, trust: { source: 'generate', outputDir: dir, keySize: 2048, rootDays: 3650, intermediateDays: 730 } };
}

// The config a rehearsal runs with: the mesh's, its trust the throwaway one.
export function withRehearsalTrust(config: MeshConfig, own: RehearsalTrust | undefined): MeshConfig {
  return own ? { ...config, trust: own.trust } : config;
}

export function removeRehearsalTrust(own: RehearsalTrust | undefined): void {
  if (own) rmSync(own.dir, { recursive: true, force: true });
}
