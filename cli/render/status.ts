// Renders a run's status and the runs list for people.

import type { ClusterSummary, RunView, SlotView } from '../../engine/types.js';
import { clusterLabel } from '../../engine/types.js';
import { formatDuration } from '../../shared/durations.js';
import { painter, type Style } from '../output.js';
import { csv } from './csv.js';
import { table } from './table.js';

const STATUS_STYLE: Record<string, Style> = { succeeded: 'green', failed: 'red', running: 'cyan', interrupted: 'yellow', pending: 'dim' };

const time = (iso: string | null) => (iso ? iso.replace('T', ' ').slice(0, 19) : '-');

// Active time, and the wall time too when idle gaps between drivers made it longer.
function durations(run: RunView): string {
  const active = formatDuration(run.activeMs);
  return run.durationMs - run.activeMs >= 1000 ? `active ${active}, wall ${formatDuration(run.durationMs)}` : active;
}

export function renderRunStatus(stream: NodeJS.WriteStream, run: RunView, slots: readonly SlotView[]): string {
  const paint = painter(stream);
  const status =
    run.damaged.length > 0
      ? paint('red', `${run.status}, damaged: its recorded ${run.damaged.join(' and ')} cannot be read`)
      : run.stale
        ? `${paint('yellow', 'running (stale)')}`
        : run.rolledBackBy
          ? `${paint('yellow', 'rolled back')} by run ${run.rolledBackBy} (it ${run.status === 'succeeded' ? 'had succeeded' : `had ${run.status}`})`
          : paint(STATUS_STYLE[run.status] ?? 'bold', run.status);
  const head = [
    `run       ${run.id}  (${run.kind} ${run.topology}, ${run.mode})`,
    `status    ${status}`,
    `clusters  ${clusterLine(run.clusters)}${run.targetRun ? `   (acts on run ${run.targetRun})` : ''}`,
    `started   ${time(run.createdAt)}   ${run.finishedAt ? `finished ${time(run.finishedAt)}` : `updated ${time(run.updatedAt)}`}   (${durations(run)})`,
  ];
  if (run.lease && run.status === 'running')
    head.push(`driven by pid ${run.lease.pid} on ${run.lease.host} (user ${run.lease.user}), heartbeat ${time(run.lease.heartbeat)}`);
  if (run.stale) head.push(paint('yellow', `no live process drives this run; continue it with "mesh-run resume ${run.id}"`));
  const rows = slots.map((s) => [
    s.step,
    clusterLabel(s.cluster),
    paint(STATUS_STYLE[s.status] ?? 'bold', s.status),
    String(s.attempts),
    time(s.startedAt),
    time(s.endedAt),
    s.lastError ? oneLine(s.lastError.message, 90) : '',
  ]);
  const body = table(['STEP', 'CLUSTER', 'STATUS', 'ATTEMPTS', 'STARTED', 'ENDED', 'LAST ERROR'], rows);
  const tail: string[] = [];
  if (run.notices.length > 0) {
    tail.push('', 'notes');
    for (const n of run.notices) {
      const style: Style = n.type === 'overwrote' || n.type === 'deleted-preexisting' || n.type === 'gate-skipped' ? 'yellow' : 'dim';
      tail.push(`  ${time(n.at)}  ${paint(style, n.type.padEnd(19))} ${n.where ? `${n.where}: ` : ''}${n.detail}`);
    }
  }
  if (run.error && run.status !== 'succeeded') {
    tail.push('', `${paint('red', 'error')}   ${run.error.message}`);
    if (run.error.hint) tail.push(`hint    ${run.error.hint}`);
  }
  return `${head.join('\n')}\n\n${body}\n${tail.length ? `${tail.join('\n')}\n` : ''}`;
}

export function renderRuns(stream: NodeJS.WriteStream, runs: readonly RunView[]): string {
  const paint = painter(stream);
  if (runs.length === 0) return 'no runs yet; start one with "mesh-run install --dry-run"\n';
  const rows = runs.map((r) => [
    r.id,
    r.kind,
    r.damaged.length > 0
      ? paint('red', `damaged (${r.damaged.join(', ')})`)
      : r.stale
        ? paint('yellow', 'running (stale)')
        : r.rolledBackBy
          ? paint('yellow', 'rolled back')
          : paint(STATUS_STYLE[r.status] ?? 'bold', r.status),
    r.mode,
    clusterSummary(r.clusters),
    time(r.createdAt),
    formatDuration(r.activeMs),
    r.status === 'succeeded' || r.rolledBackBy ? '' : (r.currentStep ?? ''),
  ]);
  return `${table(['RUN', 'KIND', 'STATUS', 'MODE', 'CLUSTERS', 'STARTED', 'ACTIVE', 'AT STEP'], rows)}\n`;
}

// The runs list as CSV: the table's columns, plain values (ISO times, milliseconds).
export function runsCsv(runs: readonly RunView[]): string {
  return csv(
    ['run', 'kind', 'status', 'mode', 'topology', 'primaries', 'remotes', 'networks', 'started', 'active_ms', 'at_step'],
    runs.map((r) => [
      r.id,
      r.kind,
      r.rolledBackBy ? 'rolled-back' : r.status,
      r.mode,
      r.clusters.topology,
      r.clusters.primaries.join(' '),
      r.clusters.remotes.join(' '),
      r.clusters.networks.join(' '),
      new Date(r.createdAt).toISOString(),
      r.activeMs,
      r.status === 'succeeded' || r.rolledBackBy ? '' : (r.currentStep ?? ''),
    ]),
  );
}

// What changed between two states of a run, one line each (status --watch where nothing can be redrawn): a
// step that started, ended or tried again, and the run's own status. Empty when only times moved on.
export function statusChanges(
  stream: NodeJS.WriteStream,
  before: { run: RunView; steps: readonly SlotView[] },
  after: { run: RunView; steps: readonly SlotView[] },
): string {
  const paint = painter(stream);
  const clock = (iso: string | null) => (iso ?? new Date().toISOString()).slice(11, 19);
  const was = new Map(before.steps.map((s) => [`${s.step}@${s.cluster}`, s]));
  const lines: string[] = [];
  for (const s of after.steps) {
    const old = was.get(`${s.step}@${s.cluster}`);
    if (old && old.status === s.status && old.attempts === s.attempts) continue;
    if (!old && s.status === 'pending') continue;
    const where = s.cluster === '*' ? s.step : `${s.step}@${clusterLabel(s.cluster)}`;
    const attempt = s.attempts > 1 ? ` (attempt ${s.attempts})` : '';
    const error = s.lastError && (s.status === 'failed' || s.status === 'interrupted') ? `: ${oneLine(s.lastError.message, 200)}` : '';
    const at = s.status === 'running' || s.status === 'pending' ? s.startedAt : s.endedAt;
    lines.push(`${clock(at)} ${where} ${paint(STATUS_STYLE[s.status] ?? 'bold', s.status)}${attempt}${error}`);
  }
  const run = after.run;
  const status = run.stale ? 'running (stale)' : run.status;
  const wasStatus = before.run.stale ? 'running (stale)' : before.run.status;
  if (status !== wasStatus) {
    const error = run.error && run.status !== 'succeeded' ? `: ${oneLine(run.error.message, 200)}` : '';
    lines.push(`${clock(run.finishedAt ?? run.updatedAt)} run ${run.id} ${paint(STATUS_STYLE[run.status] ?? 'bold', status)}${error}`);
  }
  return lines.length > 0 ? `${lines.join('\n')}\n` : '';
}

// A run's steps as CSV: one row per step and cluster, the status table's columns as plain values.
export function statusCsv(run: RunView, slots: readonly SlotView[]): string {
  return csv(
    ['run', 'step', 'cluster', 'status', 'attempts', 'started_at', 'ended_at', 'last_error'],
    slots.map((s) => [run.id, s.step, clusterLabel(s.cluster), s.status, s.attempts, s.startedAt, s.endedAt, s.lastError?.message ?? null]),
  );
}

// A runs row's CLUSTERS cell stays narrow however many clusters a run has: "cluster1 -> cluster2",
// "east+west", "east+west -> 4 remotes", "3 primaries (2 networks)".
export function clusterSummary(clusters: ClusterSummary): string {
  const { primaries, remotes, networks } = clusters;
  const head = primaries.length > 3 ? `${primaries.length} primaries` : primaries.join('+');
  const tail = remotes.length === 0 ? '' : remotes.length > 3 ? ` -> ${remotes.length} remotes` : ` -> ${remotes.join(',')}`;
  return `${head}${tail}${networks.length > 1 ? ` (${networks.length} networks)` : ''}`;
}

// The status header's line: what each cluster is, and the topology when it is not the page's.
function clusterLine(clusters: ClusterSummary): string {
  const { primaries, remotes, networks, topology } = clusters;
  const parts = [`${primaries.length === 1 ? 'primary' : 'primaries'} ${firstFew(primaries, 8)}`];
  if (remotes.length > 0) parts.push(`remotes ${firstFew(remotes, 8)}`);
  if (networks.length > 1) parts.push(`networks ${firstFew(networks, 8)}`);
  return `${parts.join('; ')}${topology === 'primary-remote' ? '' : `   (${topology})`}`;
}

function firstFew(names: readonly string[], n: number): string {
  return names.length > n ? `${names.slice(0, n).join(', ')} and ${names.length - n} more` : names.join(', ');
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
