// mesh-run drift --watch [--interval 60s] [--repair [--yes]]: a drift check every interval, a line (or a JSON
// line) per change, and with --repair a repair run when drift is found (engine/drift-watch.ts). Ctrl-C or SIGTERM
// stops it: exit 0 once stopped, or 130/143 when the stop interrupted a repair run (resumable); a second signal
// leaves at once.
import type { Command } from 'commander';
import { storeLocation } from '../../engine/composition.js';
import type { DriftReport, WatchEvent } from '../../engine/types.js';
import { formatDuration, parseDuration } from '../../shared/durations.js';
import { ExitCode, UsageError } from '../../shared/errors.js';
import { sleep } from '../../shared/sleep.js';
import { resumeHint } from '../common.js';
import { ExitRequest } from '../exit.js';
import { painter, type Streams } from '../output.js';
import { renderDocument } from '../output-format.js';
import { watchEventText } from '../render/drift-watch.js';

export interface WatchFlags {
  mesh?: string;
  db?: string;
  store?: string;
  watch?: boolean;
  interval?: string;
  repair?: boolean;
  yes?: boolean;
}

const DEFAULT_INTERVAL = '60s';
// Below a quarter second a watch is a busy loop against the clusters' API servers; above a day, a cron job's.
const MIN_INTERVAL_MS = 250;
const MAX_INTERVAL_MS = 24 * 3_600_000;

export function addWatchOptions(command: Command): Command {
  return command
    .option('-w, --watch', 'stay up: check every --interval and print only what changed (a drift found or gone, a cluster unreadable or readable again)')
    .option('--interval <duration>', `with --watch: how long between checks, from 250ms to 24h (default ${DEFAULT_INTERVAL})`)
    .option('--repair', 'with --watch: start a repair run (as "mesh-run repair") when drift it repairs is found; one watcher repairs a mesh at a time')
    .option('-y, --yes', 'with --watch --repair on real clusters: repair without asking (required: a watch cannot ask)');
}

export const WATCH_HELP = `
--watch checks every --interval (the wait runs from the end of one check to the start of the next) and prints
only changes, each stamped with when it was seen; with -o json, one JSON document per line (NDJSON), each with
"type" (drift-found, drift-gone, unreadable, readable, watching, check-failed, check-recovered, repair-started,
repair-ended, repair-busy, repair-refused), "at" and "mesh". With --repair, drift of the kinds "mesh-run repair"
puts back starts a repair run, which claims the mesh's clusters: another watcher (or run) holding them is said
("not repaired now") and the repair tried next interval. A repair run that failed waits 1, 2, 4 … checks of
the same drift before the next; the watch goes on. Ctrl-C or SIGTERM stops it: exit 0, or 130/143 when that interrupted a repair run (resumable).
  mesh-run drift --mesh prod --watch --interval 5m --repair --yes -o json >> drift.ndjson`;

// The interval --interval asks for, in milliseconds (exit 2 naming the flag when it is not one).
export function parseInterval(value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined || ms < MIN_INTERVAL_MS || ms > MAX_INTERVAL_MS)
    throw new UsageError(`--interval "${value}": expected a duration from 250ms to 24h, such as 30s or 5m`);
  return ms;
}

// Whether the watch flags ask for a watch; the flags that need --watch (or --repair) are refused without it.
export function wantsWatch(options: WatchFlags): boolean {
  if (!options.watch) {
    const stray = options.interval !== undefined ? '--interval' : options.repair ? '--repair' : options.yes ? '--yes' : undefined;
    if (stray === '--repair') throw new UsageError('--repair without --watch: a one-off repair is "mesh-run repair --mesh <mesh>"');
    if (stray) throw new UsageError(`${stray} without --watch: it applies to a watch only; add --watch`);
    return false;
  }
  if (options.yes && !options.repair) throw new UsageError('--yes without --repair: a watch only asks before repairing; add --repair or drop --yes');
  return true;
}

// The watch, until a signal stops it.
export async function watchMeshDrift(options: WatchFlags, format: string, streams: Streams): Promise<void> {
  const intervalMs = parseInterval(options.interval ?? DEFAULT_INTERVAL);
  const { checkDrift, recordDriftCheck, watchDrift, watchRepairer } = await import('../../engine/run-api.js');
  const target = { meshRef: options.mesh as string, store: storeLocation(options) };
  const repairer = options.repair ? watchRepairer(target) : undefined;
  const check = async (): Promise<DriftReport> => {
    const report = await checkDrift(target);
    if (repairer && report.mode === 'real' && !options.yes)
      throw new UsageError(
        `--repair on mesh ${report.mesh}: its clusters are real and a watch repairs them without asking; add --yes (or watch without --repair)`,
      );
    return report;
  };
  const paint = painter(streams.stdout);
  const emit = (event: WatchEvent) => {
    if (format === 'json') streams.stdout.write(`${JSON.stringify(event)}\n`);
    else if (format === 'yaml') streams.stdout.write(`---\n${renderDocument(event, 'yaml')}`);
    else streams.stdout.write(watchEventText(event, paint));
  };

  const stopping = new AbortController();
  let signalled: 'SIGINT' | 'SIGTERM' | undefined;
  let leaveNow!: (request: ExitRequest) => void;
  const abandoned = new Promise<never>((_, reject) => {
    leaveNow = reject;
  });
  const exitFor = (signal: 'SIGINT' | 'SIGTERM') => (signal === 'SIGTERM' ? ExitCode.sigterm : ExitCode.sigint);
  const onSignal = (signal: 'SIGINT' | 'SIGTERM') => {
    // A second signal: the user insists; a repair's tool processes are killed and the watch leaves at once.
    if (signalled) {
      repairer?.killChildren();
      leaveNow(new ExitRequest(exitFor(signal)));
      return;
    }
    signalled = signal;
    stopping.abort(signal);
  };
  const sigint = () => onSignal('SIGINT');
  const sigterm = () => onSignal('SIGTERM');
  // Nobody reads any more (a pipe closed, as head closes it; a full disk): a watch that cannot say what changed
  // stops, at the first change it cannot write.
  const unread = () => stopping.abort('output');
  process.on('SIGINT', sigint);
  process.on('SIGTERM', sigterm);
  streams.stdout.once('error', unread);
  try {
    // The journal gets a drift run for the first check and for each check that changed something: that run
    // reads the clusters again itself, so what it records is its own commands' evidence. A stop lets it finish
    // (one short check), so the change it records is not lost; a second signal leaves at once.
    const record = async () => {
      await recordDriftCheck(target);
    };
    const watched = watchDrift(
      { check, onChange: record, ...(repairer ? { repair: repairer.repair } : {}), sleep, now: Date.now, emit },
      { intervalMs, signal: stopping.signal },
    );
    watched.catch(() => undefined);
    const summary = await Promise.race([watched, abandoned]);
    const checks = `after ${summary.checks} check${summary.checks === 1 ? '' : 's'}${repairer ? ` and ${summary.repairs} repair run${summary.repairs === 1 ? '' : 's'}` : ''}`;
    if (summary.interruptedRun) {
      streams.stderr.write(
        `stopped watching mesh ${options.mesh} ${checks}; repair run ${summary.interruptedRun} interrupted: continue with ${resumeHint(options)(summary.interruptedRun)}\n`,
      );
      throw new ExitRequest(exitFor(signalled ?? 'SIGINT'));
    }
    streams.stderr.write(`stopped watching mesh ${options.mesh} ${checks} (every ${formatDuration(intervalMs)})\n`);
  } finally {
    process.off('SIGINT', sigint);
    process.off('SIGTERM', sigterm);
    streams.stdout.off('error', unread);
  }
}
