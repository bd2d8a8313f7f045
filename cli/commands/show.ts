// mesh-run show <id> (one run's timeline with its commands) and mesh-run logs <id> (their output tails).
import { Command } from 'commander';
import { checkRunIdFormat, followRunCommands, runTimeline } from '../../engine/query-api.js';
import type { SlotFilter, Timeline } from '../../engine/types.js';
import { slotLabel } from '../../engine/types.js';
import { formatDuration } from '../../shared/durations.js';
import { dbOption, withStore } from '../common.js';
import { painter, type Streams } from '../output.js';
import { addOutputOption, formatOf, type OutputFlags, renderDocument } from '../output-format.js';
import { displayArgv } from '../render/argv.js';
import { untilInterrupted } from '../until-interrupted.js';

interface ShowOptions extends OutputFlags {
  db?: string;
  step?: string;
  cluster?: string;
  follow?: boolean;
}

function loadTimeline(id: string, options: ShowOptions, filter: SlotFilter = {}): Promise<Timeline> {
  checkRunIdFormat(id);
  return withStore(options, (runs) => runTimeline(runs, id, filter));
}

// --step and --cluster as typed: the engine checks them against the run.
function filterOf(options: ShowOptions): SlotFilter {
  return { ...(options.step !== undefined ? { step: options.step } : {}), ...(options.cluster !== undefined ? { cluster: options.cluster } : {}) };
}

const SHOW_FORMATS = ['text', 'json', 'yaml'] as const;
const LOGS_FORMATS = ['text', 'json'] as const;

const clock = (ms: number) => new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
const label = slotLabel;

export function showCommand(streams: Streams): Command {
  return addOutputOption(
    new Command('show')
      .description("one run's timeline: each step per cluster, its attempts, and the commands they ran (redacted)")
      .argument('<id>', 'run id (or a unique prefix of it)')
      .addOption(dbOption()),
    SHOW_FORMATS,
  )
    .addHelpText(
      'after',
      `
Examples:
  mesh-run show mr-k3x9p2qa                   every step, attempt and command of the run
  mesh-run show mr-k3x9p2qa -o json | jq '.steps[] | select(.attempts | length > 1)'

Exit codes: 0 shown, 2 bad input, 3 store problem, 4 no such run.`,
    )
    .action(async (id: string, options: ShowOptions) => {
      const format = formatOf(options, SHOW_FORMATS);
      const t = await loadTimeline(id, options);
      if (format !== 'text') {
        // The saved machine state and the lease token are the engine's, not the reader's.
        const { snapshot: _s, lease: _l, storedKind, ...run } = t.run;
        const shown = run.damaged.includes('kind') ? { ...run, kind: storedKind } : run;
        streams.stdout.write(renderDocument({ run: shown, events: t.events, steps: t.slots }, format));
        return;
      }
      const paint = painter(streams.stdout);
      const color = { succeeded: 'green', failed: 'red', running: 'cyan', interrupted: 'yellow' } as const;
      const spawned = t.slots.reduce((n, slot) => n + slot.attempts.reduce((m, a) => m + a.commands.length, 0), 0);
      const lines: string[] = [
        `run ${t.run.id}  (${t.run.kind} ${t.run.topology}, ${t.run.mode})  ${paint(color[t.run.status], t.run.status)}  ${spawned} tool processes`,
      ];
      for (const e of t.events)
        lines.push(
          `  ${clock(e.at)}  ${e.type.padEnd(19)} by ${e.user ?? '?'}@${e.host ?? '?'} (pid ${e.pid ?? '?'})${e.step ? `  ${label(e.step, e.cluster ?? '')}:` : ''}${e.detail ? `  ${e.detail}` : ''}`,
        );
      for (const slot of t.slots) {
        lines.push('', paint('bold', label(slot.step, slot.cluster)));
        if (slot.attempts.length === 0) lines.push(paint('dim', '  not started'));
        for (const a of slot.attempts) {
          const duration = a.endedAt === null ? 'open' : formatDuration(a.endedAt - a.startedAt);
          // Every recorded command is one kubectl or istioctl process (a pipe records both ends).
          const processes = a.commands.length === 1 ? '1 process' : `${a.commands.length} processes`;
          lines.push(
            `  #${a.attempt} ${paint(color[a.outcome], a.outcome.padEnd(11))} ${clock(a.startedAt)}  ${duration}  ${processes}${a.error ? `  ${a.error.message}` : ''}`,
          );
          for (const c of a.commands) {
            const exit = c.exitCode === null ? 'no exit recorded' : `exit ${c.exitCode}`;
            lines.push(paint('dim', `      $ ${displayArgv(c.argv)}   ${exit}${c.durationMs !== null ? `, ${formatDuration(c.durationMs)}` : ''}`));
          }
        }
      }
      streams.stdout.write(`${lines.join('\n')}\n`);
    });
}

// One command as logs prints it: a header line, its stdout tail, its stderr tail marked.
function commandBlock(
  where: string,
  attempt: number,
  c: { argv: string[]; startedAt: number; exitCode: number | null; stdoutTail: string | null; stderrTail: string | null },
): string[] {
  const out = [`==> ${where} #${attempt} ${clock(c.startedAt)}: $ ${displayArgv(c.argv)} (${c.exitCode === null ? 'no exit recorded' : `exit ${c.exitCode}`})`];
  if (c.stdoutTail) out.push(c.stdoutTail.trimEnd());
  if (c.stderrTail)
    out.push(
      ...c.stderrTail
        .trimEnd()
        .split('\n')
        .map((l) => `stderr: ${l}`),
    );
  return out;
}

export function logsCommand(streams: Streams): Command {
  return addOutputOption(
    new Command('logs')
      .description("the redacted output tails the journal kept for a run's commands")
      .argument('<id>', 'run id (or a unique prefix of it)')
      .option('--step <id>', 'only this step of the run (an unknown one lists those it has)')
      .option('--cluster <name>', 'only this cluster of the run ("all" for the steps that span all clusters)')
      .option('-f, --follow', 'keep printing commands as they finish (the run driven here or on any other machine), until it ends')
      .addOption(dbOption()),
    LOGS_FORMATS,
    'output format (json: one object per command, per line)',
  )
    .addHelpText(
      'after',
      `
Examples:
  mesh-run logs mr-k3x9p2qa --step install-remote --cluster cluster2
  mesh-run logs mr-k3x9p2qa --follow          as commands finish, until the run ends
  mesh-run logs mr-k3x9p2qa -o json | jq -r 'select(.exitCode != 0) | .argv | join(" ")'

Exit codes: 0 shown, 2 bad input, 3 store problem, 4 no such run.`,
    )
    .action(async (id: string, options: ShowOptions) => {
      const format = formatOf(options, LOGS_FORMATS);
      const filter = filterOf(options);
      if (options.follow) return follow(id, options, format, streams, filter);
      const t = await loadTimeline(id, options, filter);
      const out: string[] = [];
      for (const slot of t.slots) {
        for (const a of slot.attempts)
          for (const c of a.commands)
            out.push(...(format === 'json' ? [commandJson(slot, a.attempt, c)] : commandBlock(label(slot.step, slot.cluster), a.attempt, c)));
      }
      streams.stdout.write(out.length ? `${out.join('\n')}\n` : format === 'json' ? '' : 'no commands match\n');
    });
}

// One command as a JSON line (logs -o json): where it ran, what, and its redacted output tails.
function commandJson(
  slot: { step: string; cluster: string },
  attempt: number,
  c: { argv: string[]; startedAt: number; exitCode: number | null; durationMs?: number | null; stdoutTail: string | null; stderrTail: string | null },
): string {
  return JSON.stringify({
    step: slot.step,
    cluster: slot.cluster,
    attempt,
    argv: c.argv,
    startedAt: new Date(c.startedAt).toISOString(),
    exitCode: c.exitCode,
    durationMs: c.durationMs ?? null,
    stdout: c.stdoutTail,
    stderr: c.stderrTail,
  });
}

async function follow(id: string, options: ShowOptions, format: string, streams: Streams, filter: SlotFilter): Promise<void> {
  checkRunIdFormat(id);
  const run = await untilInterrupted((signal) =>
    withStore(options, (runs) =>
      followRunCommands(
        runs,
        id,
        (c, attempt) => {
          const text =
            format === 'json' ? commandJson(attempt, attempt.attempt, c) : commandBlock(label(attempt.step, attempt.cluster), attempt.attempt, c).join('\n');
          streams.stdout.write(`${text}\n`);
        },
        signal,
        filter,
      ),
    ),
  );
  streams.stderr.write(`run ${run.id} ${run.status === 'running' ? `is no longer driven; "mesh-run resume ${run.id}" continues it` : run.status}\n`);
}
