// The config a resumed run continues with: the one it recorded, a changed file resume --force accepts, or a gate
// resume --skip-*-gate drops.
import { NotResumableError, UsageError } from '../shared/errors.js';
import type { MeshConfig } from '../shared/model.js';
import { withArticle } from '../shared/words.js';
import type { RunRecord } from '../store/contract.js';
import { hashText, parseConfigText, readConfigFile } from './config/mesh-config.js';
import type { SkippableGate } from './kinds/kind-module.js';
import { KINDS, kindOf } from './kinds/registry.js';
import { runConfig } from './views/run-config.js';

// What resume --force may change in a run's config: timeouts, retries, tools and parallelism (and verify's
// sample source). Everything else decides which steps run, on which clusters, with which values: fixed
// when the run started.
const FORCE_MAY_CHANGE: ReadonlySet<string> = new Set(['timeouts', 'retry', 'tools', 'maxParallelRemotes', 'verify']);

function changedFields(before: MeshConfig, after: MeshConfig): string[] {
  const a: Record<string, unknown> = { ...before };
  const b: Record<string, unknown> = { ...after };
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k])).sort();
}

function refuseUnappliable(stored: MeshConfig, fresh: MeshConfig, path: string, runId: string): void {
  const refused = changedFields(stored, fresh).filter((k) => !FORCE_MAY_CHANGE.has(k));
  if (refused.length === 0) return;
  throw new UsageError(
    `${path}: ${refused.join(', ')} changed since run ${runId} started; resume --force applies changes to ${[...FORCE_MAY_CHANGE].join(', ')} only, since the rest decides which steps the run takes: start a new run to apply it`,
  );
}

// The config a resumed run continues with: the one it recorded, or (with --force) its file as it is now.
export interface ResumedConfig {
  config: MeshConfig;
  // What --force accepted, for the journal.
  detail?: string;
  // A changed file --force accepted: the run records it as its own.
  replacement?: { config: MeshConfig; hash: string };
  // What the operator must read before the run goes on (a config file --force did without).
  warnings?: string[];
}

export function resumedConfig(run: RunRecord, force: boolean, env: Record<string, string | undefined>): ResumedConfig {
  const stored = runConfig(run);
  if (!run.configPath) return { config: stored };
  const read = readConfigFile(run.configPath);
  const text = 'text' in read ? read.text : undefined;
  const changed = text === undefined || hashText(text) !== run.configHash;
  if (!changed) return { config: stored };
  const problem = 'problem' in read ? read.problem : undefined;
  if (!force) {
    const what =
      text === undefined
        ? `config file ${run.configPath} ${problem === 'no such file' ? 'is gone' : `cannot be read (${problem ?? ''})`}`
        : `config file ${run.configPath} changed since run ${run.id} started`;
    throw new NotResumableError('config-changed', what, {
      hint: `resume with --force to continue ${text === undefined ? 'with the configuration recorded at start' : 'with the file as it is now (cluster names and contexts must stay the same)'}`,
    });
  }
  if (text === undefined) {
    const why = problem !== undefined && problem !== 'no such file' ? `cannot be read (${problem})` : 'missing';
    const warning = `config file ${run.configPath} is ${problem !== undefined && problem !== 'no such file' ? `unreadable (${problem})` : 'gone'}; --force continues with the configuration run ${run.id} recorded when it started`;
    return { config: stored, detail: `forced: config file ${run.configPath} ${why}; using the recorded configuration`, warnings: [warning] };
  }
  const fresh = parseConfigText(text, env, run.configPath);
  refuseUnappliable(stored, fresh, run.configPath, run.id);
  const hash = hashText(text);
  return {
    config: fresh,
    replacement: { config: fresh, hash },
    detail: `forced: config ${run.configHash.slice(0, 12)} -> ${hash.slice(0, 12)} (${changedFields(stored, fresh).join(', ')})`,
  };
}

// resume --skip-proxy-gate (an upgrade's waves) or --skip-sync-gate (a rotation's revocations): the run goes on
// without that gate, and records the change as its config. Bad input for a kind without that gate.
export function withSkippedGate(run: RunRecord, settled: ResumedConfig, flag: SkippableGate['flag'], skip: boolean | undefined): ResumedConfig {
  if (!skip) return settled;
  const gate = kindOf(run.kind).skippableGate;
  if (gate?.flag !== flag || (flag === '--skip-proxy-gate' && !settled.config.upgrade)) {
    const owner = Object.values(KINDS).find((k) => k.skippableGate?.flag === flag)?.kind ?? '';
    throw new UsageError(`${flag} goes with ${withArticle(owner.replace('-', ' '))} run; run ${run.id} is ${withArticle(run.kind)}`);
  }
  const config = gate.skip(settled.config);
  const detail = gate.detail;
  return { ...settled, config, replacement: { config, hash: run.configHash }, detail: settled.detail ? `${settled.detail}; ${detail}` : `forced: ${detail}` };
}
