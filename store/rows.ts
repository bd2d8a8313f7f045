// Rows as both backends store them, and the records the contract returns: decoded once, here. A row that
// does not read back whole (a config or error that does not parse, a kind this mesh-run does not know) is
// returned marked damaged, so one bad row never hides the rest.
import { FencedError } from '../shared/errors.js';
import { isRunKind, type MeshConfig, type RunStatus, withDefaults } from '../shared/model.js';
import type { AttemptRecord, CommandRecord, ErrorInfo, Observation, RunEventRecord, RunRecord, StoredRun } from './contract.js';

export interface RunRow {
  id: string;
  kind: string;
  topology: string;
  mode: 'dry-run' | 'real';
  status: RunStatus;
  config_json: string;
  config_hash: string;
  config_path: string | null;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
  machine_version: number;
  snapshot_json: string | null;
  error_json: string | null;
  lease_token: string | null;
  lease_pid: number | null;
  lease_host: string | null;
  lease_user: string | null;
  lease_heartbeat: number | null;
  target_run: string | null;
  sim_world: string | null;
  lease_proc_start: string | null;
}

export interface AttemptRow {
  id: number;
  run_id: string;
  step: string;
  cluster: string;
  context: string | null;
  attempt: number;
  started_at: number;
  ended_at: number | null;
  outcome: AttemptRecord['outcome'];
  error: string | null;
  // Absent in rows read before the column existed (none: migrations add it first).
  output?: string | null;
}

export interface CommandRow {
  id: number;
  run_id: string;
  attempt_id: number | null;
  tool: string;
  argv_json: string;
  context: string | null;
  started_at: number;
  ended_at: number | null;
  exit_code: number | null;
  duration_ms: number | null;
  stdout_tail: string | null;
  stderr_tail: string | null;
  pid: number | null;
  pgid: number | null;
  proc_start: string | null;
}

export interface ObservationRow {
  run_id: string;
  cluster: string;
  subject: string;
  present: number | boolean;
  owner: string | null;
  detail: string | null;
  at: number;
}

export interface EventRow {
  id: number;
  run_id: string;
  at: number;
  type: string;
  user: string | null;
  host: string | null;
  pid: number | null;
  detail: string | null;
  step: string | null;
  cluster: string | null;
}

// The recorded error of a run; a damaged one becomes a placeholder, never an exception for every reader.
function parseError(json: string | null): { error: ErrorInfo | null; damaged: boolean } {
  if (!json) return { error: null, damaged: false };
  try {
    const error = JSON.parse(json) as ErrorInfo;
    if (error && typeof error === 'object' && typeof error.message === 'string') return { error, damaged: false };
  } catch {
    // fall through
  }
  return { error: { message: '(the recorded error is damaged)' }, damaged: true };
}

// The config as recorded, with the defaults newer versions added; null when it does not parse.
function parseConfig(json: string): MeshConfig | null {
  try {
    const raw = JSON.parse(json) as (MeshConfig & { primary?: unknown; remotes?: unknown }) | null;
    if (!raw || typeof raw !== 'object') return null;
    // This mesh-run's clusters list, or the primary/remotes an older one recorded.
    if (!Array.isArray(raw.clusters) && !(raw.primary && Array.isArray(raw.remotes))) return null;
    const config = withDefaults(raw);
    return config.clusters.length > 0 ? config : null;
  } catch {
    return null;
  }
}

export function toRun(row: RunRow): RunRecord {
  const recorded = parseError(row.error_json);
  const config = parseConfig(row.config_json);
  const damaged: RunRecord['damaged'] = [];
  if (!isRunKind(row.kind)) damaged.push('kind');
  if (!config) damaged.push('config');
  if (recorded.damaged) damaged.push('error');
  return {
    id: row.id,
    kind: isRunKind(row.kind) ? row.kind : 'install',
    storedKind: row.kind,
    topology: row.topology,
    mode: row.mode,
    status: row.status,
    config,
    configHash: row.config_hash,
    configPath: row.config_path,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    finishedAt: row.finished_at,
    machineVersion: row.machine_version,
    snapshot: row.snapshot_json,
    error: recorded.error,
    damaged,
    lease:
      row.lease_token && row.lease_pid !== null && row.lease_heartbeat !== null
        ? {
            token: row.lease_token,
            pid: row.lease_pid,
            host: row.lease_host ?? '',
            user: row.lease_user ?? '',
            heartbeat: row.lease_heartbeat,
            procStart: row.lease_proc_start ?? null,
          }
        : null,
    targetRun: row.target_run ?? null,
    simWorld: row.sim_world ?? row.id,
  };
}

// The row as stored, for copying between stores.
export function toStoredRun(row: RunRow): StoredRun {
  return {
    id: row.id,
    kind: row.kind,
    topology: row.topology,
    mode: row.mode,
    status: row.status,
    configJson: row.config_json,
    configHash: row.config_hash,
    configPath: row.config_path,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    finishedAt: row.finished_at,
    machineVersion: row.machine_version,
    snapshotJson: row.snapshot_json,
    errorJson: row.error_json,
    targetRun: row.target_run ?? null,
    simWorld: row.sim_world ?? null,
  };
}

export function toAttempt(row: AttemptRow): AttemptRecord {
  return {
    id: row.id,
    runId: row.run_id,
    step: row.step,
    cluster: row.cluster,
    context: row.context,
    attempt: row.attempt,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    outcome: row.outcome,
    error: row.error ? (JSON.parse(row.error) as ErrorInfo) : null,
    ...(row.output ? { output: row.output } : {}),
  };
}

export function toCommand(row: CommandRow): CommandRecord {
  return {
    id: row.id,
    runId: row.run_id,
    attemptId: row.attempt_id,
    tool: row.tool,
    argv: JSON.parse(row.argv_json) as string[],
    context: row.context,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    exitCode: row.exit_code,
    durationMs: row.duration_ms,
    stdoutTail: row.stdout_tail,
    stderrTail: row.stderr_tail,
    pid: row.pid ?? null,
    pgid: row.pgid ?? null,
    procStart: row.proc_start ?? null,
  };
}

export function toEvent({ run_id, ...rest }: EventRow): RunEventRecord {
  return { ...rest, runId: run_id, step: rest.step ?? null, cluster: rest.cluster ?? null };
}

export function toObservation(row: ObservationRow): Observation {
  return {
    runId: row.run_id,
    cluster: row.cluster,
    subject: row.subject,
    present: row.present === 1 || row.present === true,
    owner: row.owner,
    detail: row.detail ? (JSON.parse(row.detail) as Record<string, string>) : null,
    at: row.at,
  };
}

// The columns that say who holds a run, as a fenced write reads them.
export type LeaseRow = Pick<RunRow, 'status' | 'lease_token' | 'lease_pid' | 'lease_host' | 'lease_user'>;
export const LEASE_COLUMNS = 'status, lease_token, lease_pid, lease_host, lease_user';

// The refusal of a write whose lease no longer holds the run, naming who holds it now (if anyone).
export function fencedBy(runId: string, row: LeaseRow | undefined): FencedError {
  const holder = row?.lease_token ? { pid: row.lease_pid ?? 0, host: row.lease_host ?? 'unknown', user: row.lease_user ?? 'unknown' } : null;
  return new FencedError(runId, holder, row?.status ?? 'gone');
}

// A copied run's row in the runs table's column order (id, kind, topology, mode, status, config_json,
// config_hash, config_path, created_at, updated_at, finished_at, machine_version, snapshot_json, error_json,
// target_run, sim_world): both backends insert it so.
export function storedRunValues(r: StoredRun): Array<string | number | null> {
  return [
    r.id,
    r.kind,
    r.topology,
    r.mode,
    r.status,
    r.configJson,
    r.configHash,
    r.configPath,
    r.createdAt,
    r.updatedAt,
    r.finishedAt,
    r.machineVersion,
    r.snapshotJson,
    r.errorJson,
    r.targetRun,
    r.simWorld,
  ];
}

// A copied command's row in the commands table's column order (run_id, attempt_id, tool, argv_json, context,
// started_at, ended_at, exit_code, duration_ms, stdout_tail, stderr_tail, pid, pgid, proc_start), its attempt
// under the id the copy gave it.
export function copiedCommandValues(runId: string, cmd: CommandRecord, attemptIds: ReadonlyMap<number, number>): Array<string | number | null> {
  return [
    runId,
    cmd.attemptId === null ? null : (attemptIds.get(cmd.attemptId) ?? null),
    cmd.tool,
    JSON.stringify(cmd.argv),
    cmd.context,
    cmd.startedAt,
    cmd.endedAt,
    cmd.exitCode,
    cmd.durationMs,
    cmd.stdoutTail,
    cmd.stderrTail,
    cmd.pid,
    cmd.pgid,
    cmd.procStart,
  ];
}
