// A run's full timeline from the journal: attempts per step and cluster, each with its commands.
import type { StepId } from '../../machines/steps.js';
import type { AttemptRecord, CommandRecord, RunEventRecord, RunRecord } from '../../store/contract.js';
import { maybeRunConfig } from './run-config.js';
import { attemptsBySlot, slotsFor } from './run-slots.js';

export interface CommandView {
  argv: string[];
  context: string | null;
  startedAt: number;
  durationMs: number | null;
  exitCode: number | null;
  stdoutTail: string | null;
  stderrTail: string | null;
}

export interface AttemptView {
  attempt: number;
  outcome: AttemptRecord['outcome'];
  startedAt: number;
  endedAt: number | null;
  error: AttemptRecord['error'];
  commands: CommandView[];
}

export interface SlotTimeline {
  step: StepId;
  cluster: string;
  attempts: AttemptView[];
}

export interface Timeline {
  run: RunRecord;
  events: RunEventRecord[];
  slots: SlotTimeline[];
}

export function buildTimeline(
  run: RunRecord,
  attempts: readonly AttemptRecord[],
  commands: readonly CommandRecord[],
  events: readonly RunEventRecord[],
): Timeline {
  const config = maybeRunConfig(run);
  const byAttempt = new Map<number, CommandView[]>();
  for (const c of commands) {
    if (c.attemptId === null) continue;
    const list = byAttempt.get(c.attemptId) ?? [];
    list.push({
      argv: c.argv,
      context: c.context,
      startedAt: c.startedAt,
      durationMs: c.durationMs,
      exitCode: c.exitCode,
      stdoutTail: c.stdoutTail,
      stderrTail: c.stderrTail,
    });
    byAttempt.set(c.attemptId, list);
  }
  const of = attemptsBySlot(attempts);
  const slots = (config ? slotsFor(run.kind, config, attempts) : []).map(({ step, cluster }) => ({
    step,
    cluster,
    attempts: of(step, cluster).map((a) => ({
      attempt: a.attempt,
      outcome: a.outcome,
      startedAt: a.startedAt,
      endedAt: a.endedAt,
      error: a.error,
      commands: byAttempt.get(a.id) ?? [],
    })),
  }));
  return { run, events: [...events], slots };
}

// The last moment an attempt is known to have been at work. A driver that was killed leaves its attempt open;
// the next resume closes it, at the resume's time, which says nothing of when the work stopped: that is the
// end of its last finished command (or the start of the one it was in), or the attempt's start. An attempt
// closed by an interrupt (a signal, a cancel) ended then.
export function lastKnownEnd(attempt: AttemptView, events: readonly RunEventRecord[]): number | null {
  if (attempt.outcome !== 'interrupted' || attempt.endedAt === null) return attempt.endedAt;
  const at = attempt.endedAt;
  const closedByResume = events.some((e) => e.type === 'resumed' && e.at === at) && !events.some((e) => e.type === 'interrupted' && e.at === at);
  if (!closedByResume) return at;
  return Math.max(attempt.startedAt, ...attempt.commands.map((c) => c.startedAt + (c.durationMs ?? 0)));
}
