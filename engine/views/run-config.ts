// A recorded run's config (parsed once by the store, with the defaults newer mesh-runs added). A row whose
// config does not parse is a damaged run: views show it as such, and nothing acts on it.

import { NotResumableError } from '../../shared/errors.js';
import type { MeshConfig } from '../../shared/model.js';
import type { RunRecord } from '../../store/contract.js';
import { KINDS } from '../kinds/registry.js';

// The run's config, or undefined when its row is damaged.
export function maybeRunConfig(run: RunRecord): MeshConfig | undefined {
  return run.config ?? undefined;
}

// The run's config; a damaged one stops the command (exit 4) before anything acts on it.
export function runConfig(run: RunRecord): MeshConfig {
  if (!run.config) {
    throw new NotResumableError('run-damaged', `run ${run.id} cannot be used: its recorded config is damaged`, {
      hint: 'start a new run with the config file; "mesh-run runs" lists it as damaged',
    });
  }
  return run.config;
}

// What is wrong with a run's row, for views: its kind, its config, its recorded error.
export function damageOf(run: RunRecord): string[] {
  return [...run.damaged];
}

// The mesh's membership after a run: an install's clusters; a cluster add's grown mesh; the mesh a cluster
// remove leaves behind; after an upgrade (or its rollback) the revision it left running. Without the fields
// that only say what a day-2 run was about.
export function membershipConfig(run: RunRecord): MeshConfig {
  const { subject, upgrade: _upgrade, skipSyncGate: _skip, repair: _repair, ...config } = runConfig(run);
  if (KINDS[run.kind].mesh === 'leaves' && subject) return { ...config, clusters: config.clusters.filter((c) => c.name !== subject) };
  return config;
}
