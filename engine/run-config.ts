// A recorded run's config, parsed once with the defaults newer mesh-runs added. A row whose config does
// not parse is a damaged run: views show it as such, and nothing acts on it.

import { NotResumableError } from '../shared/errors.js';
import { type MeshConfig, withDefaults } from '../shared/model.js';
import type { RunRecord } from '../store/types.js';

const parsed = new WeakMap<RunRecord, MeshConfig | null>();

// The run's config, or undefined when its row is damaged.
export function maybeRunConfig(run: RunRecord): MeshConfig | undefined {
  let config = parsed.get(run);
  if (config === undefined) {
    try {
      const raw = JSON.parse(run.configJson) as MeshConfig | null;
      config = raw && typeof raw === 'object' && raw.primary && Array.isArray(raw.remotes) ? withDefaults(raw) : null;
    } catch {
      config = null;
    }
    parsed.set(run, config);
  }
  return config ?? undefined;
}

// The run's config; a damaged one stops the command (exit 4) before anything acts on it.
export function runConfig(run: RunRecord): MeshConfig {
  const config = maybeRunConfig(run);
  if (!config)
    throw new NotResumableError('run-damaged', `run ${run.id} cannot be used: its recorded config is damaged`, {
      hint: 'start a new run with the config file; "mesh-run runs" lists it as damaged',
    });
  return config;
}

// What is wrong with a run's row, for views: the config, the recorded error.
export function damageOf(run: RunRecord): string[] {
  const damaged: string[] = [];
  if (!maybeRunConfig(run)) damaged.push('config');
  if (run.errorDamaged) damaged.push('error');
  return damaged;
}
