// mesh-run history: one query over the journal, filters that combine; table, JSON or CSV.
import { Command, Option } from 'commander';
import { checkRunIdFormat, type HistoryQuery, historyActions, historyAttempts, parseTimeBound } from '../../engine/query-api.js';
import type { AttemptRecord } from '../../engine/types.js';
import { clusterLabel, isRunKind, RUN_KINDS, slotLabel } from '../../engine/types.js';
import { formatDuration } from '../../shared/durations.js';
import { UsageError } from '../../shared/errors.js';
import { dbOption, withStore } from '../common.js';
import type { Streams } from '../output.js';
import { addOutputOption, formatOf, type OutputFlags, renderDocument } from '../output-format.js';
import { csv } from '../render/csv.js';
import { table } from '../render/table.js';

interface HistoryOptions extends OutputFlags {
  run?: string;
  cluster?: string;
  step?: string;
  status?: AttemptRecord['outcome'];
  since?: string;
  until?: string;
  limit: string;
  actions?: boolean;
  db?: string;
  kind?: string;
}

const HISTORY_FORMATS = ['text', 'json', 'yaml', 'csv'] as const;

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function historyCommand(streams: Streams): Command {
  return addOutputOption(
    new Command('history')
      .description('what ran, where, when, with what result: step attempts (or operator actions) across runs')
      .option('--run <id>', 'one run (id or unique prefix)')
      .addOption(new Option('--kind <kind>', 'runs of one kind').choices(RUN_KINDS))
      .option('--cluster <name>', 'attempts on this cluster ("all" for steps that span all clusters)')
      .option('--step <id>', 'one step (an unknown one lists the steps there are)')
      .addOption(new Option('--status <outcome>', 'attempt outcome').choices(['succeeded', 'failed', 'running', 'interrupted']))
      .option('--since <when>', 'started at or after: a duration back from now (24h, 7d) or an ISO date')
      .option('--until <when>', 'started before: a duration back from now or an ISO date')
      .option('--limit <n>', 'at most this many rows, newest first', '100')
      .option('--actions', 'list operator actions instead: who started, resumed, forced, cancelled or re-ran runs')
      .addOption(dbOption()),
    HISTORY_FORMATS,
  )
    .addOption(new Option('--csv', 'the same as -o csv').hideHelp())
    .addHelpText(
      'after',
      `
Examples:
  mesh-run history --cluster cluster2 --since 7d --status failed   what failed on cluster2 last week
  mesh-run history --actions --run mr-k3x9p2qa                     who started, resumed or cancelled it
  mesh-run history --since 30d -o csv > attempts.csv

Exit codes: 0 listed (also when nothing matches), 2 bad input, 3 store problem, 4 no such run.`,
    )
    .action(async (options: HistoryOptions) => {
      const format = formatOf(options, HISTORY_FORMATS);
      const query = historyQuery(options);
      if (options.actions) {
        const events = await withStore(options, (runs) => historyActions(runs, query));
        streams.stdout.write(actionsOutput(events, format));
        return;
      }
      const attempts = await withStore(options, (runs) => historyAttempts(runs, query));
      streams.stdout.write(attemptsOutput(attempts, format));
    });
}

// The flags as one query over the journal; bad input is refused before the store is opened.
function historyQuery(options: HistoryOptions): HistoryQuery {
  const limit = Number(options.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1_000_000) throw new UsageError(`--limit "${options.limit}": expected a whole number from 1 to 1000000`);
  if (options.run !== undefined) checkRunIdFormat(options.run);
  if (options.actions) {
    const attemptOnly = (['status', 'step', 'cluster'] as const).filter((f) => options[f] !== undefined);
    if (attemptOnly.length > 0)
      throw new UsageError(
        `--actions lists operator actions; ${attemptOnly.map((f) => `--${f}`).join(', ')} filter step attempts: drop ${attemptOnly.length > 1 ? 'them' : 'it'} or drop --actions`,
      );
  }
  const now = Date.now();
  const since = parseTimeBound(options.since, '--since', now);
  const until = parseTimeBound(options.until, '--until', now);
  return {
    limit,
    ...(options.run !== undefined ? { runRef: options.run } : {}),
    ...(options.kind !== undefined && isRunKind(options.kind) ? { kind: options.kind } : {}),
    ...(since !== undefined ? { since } : {}),
    ...(until !== undefined ? { until } : {}),
    ...(options.cluster !== undefined ? { cluster: options.cluster } : {}),
    ...(options.step !== undefined ? { step: options.step } : {}),
    ...(options.status ? { outcome: options.status } : {}),
  };
}

function actionsOutput(events: Awaited<ReturnType<typeof historyActions>>, format: string): string {
  const rows = events.map((e) => ({
    at: iso(e.at),
    run: e.runId,
    action: e.type,
    user: e.user,
    host: e.host,
    pid: e.pid,
    where: e.step ? slotLabel(e.step, e.cluster ?? '') : null,
    detail: e.detail,
  }));
  if (format === 'json' || format === 'yaml') return renderDocument(rows, format);
  if (format === 'csv')
    return csv(
      ['at', 'run', 'action', 'user', 'host', 'pid', 'where', 'detail'],
      rows.map((r) => [r.at, r.run, r.action, r.user, r.host, r.pid, r.where, r.detail]),
    );
  return `${table(
    ['AT', 'RUN', 'ACTION', 'USER', 'HOST', 'PID', 'WHERE', 'DETAIL'],
    rows.map((r) => [r.at ?? '', r.run, r.action, r.user ?? '', r.host ?? '', String(r.pid ?? ''), r.where ?? '', r.detail ?? '']),
  )}\n`;
}

function attemptsOutput(attempts: Awaited<ReturnType<typeof historyAttempts>>, format: string): string {
  const rows = attempts.map((a) => ({
    run: a.runId,
    cluster: clusterLabel(a.cluster),
    context: a.context,
    step: a.step,
    attempt: a.attempt,
    startedAt: iso(a.startedAt),
    durationMs: a.endedAt === null ? null : a.endedAt - a.startedAt,
    outcome: a.outcome,
    error: a.error?.message ?? null,
  }));
  if (format === 'json' || format === 'yaml') return renderDocument(rows, format);
  if (format === 'csv')
    return csv(
      ['run', 'cluster', 'context', 'step', 'attempt', 'started_at', 'duration_ms', 'outcome', 'error'],
      rows.map((r) => [r.run, r.cluster, r.context, r.step, r.attempt, r.startedAt, r.durationMs, r.outcome, r.error]),
    );
  if (rows.length === 0) return 'no step attempts match\n';
  const body = rows.map((r) => [
    r.run,
    clusterLabel(r.cluster),
    r.context ?? '',
    r.step,
    String(r.attempt),
    (r.startedAt ?? '').replace('T', ' ').slice(0, 19),
    r.durationMs === null ? '-' : formatDuration(r.durationMs),
    r.outcome,
    r.error ? short(r.error) : '',
  ]);
  return `${table(['RUN', 'CLUSTER', 'CONTEXT', 'STEP', 'ATTEMPT', 'STARTED', 'DURATION', 'OUTCOME', 'ERROR'], body)}\n`;
}

function short(text: string): string {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length > 80 ? `${flat.slice(0, 79)}…` : flat;
}
