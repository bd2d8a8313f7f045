// resume --from <step>[@cluster]: which slots run again and which replay what they returned before.
// "After" is the order the journal recorded: the chosen slot and every slot whose latest successful
// attempt started at or after the chosen one's latest attempt run again; everything that succeeded before
// it replays its recorded result (no command runs, no attempt is added). A step that depends on the chosen
// one started after it finished, so it always runs again; independent steps that happened to start later
// run again too, which is safe because every step converges.
import type { StepId } from '../../machines/steps.js';
import { NotResumableError, UsageError } from '../../shared/errors.js';
import type { AttemptRecord } from '../../store/contract.js';

export interface RerunPlan {
  // The slots chosen with --from (one, or the step on every cluster it runs on).
  chosen: string[];
  // slot -> the JSON its latest successful attempt returned.
  replay: Map<string, string>;
  // The slots that run again, in the order they first ran (for the journal and the progress line).
  rerun: string[];
}

export const slotKey = (slot: { step: string; cluster: string }): string => `${slot.step}@${slot.cluster}`;

export function planRerun(
  runId: string,
  kind: string,
  from: string,
  slots: ReadonlyArray<{ step: StepId; cluster: string }>,
  attempts: readonly AttemptRecord[],
): RerunPlan {
  const [step, cluster, extra] = from.split('@');
  if (!step || extra !== undefined || cluster === '')
    throw new UsageError(`--from "${from}": expected <step> or <step>@<cluster>, e.g. install-remote@cluster2`);
  const steps = [...new Set(slots.map((s) => s.step))];
  if (!steps.includes(step as StepId)) {
    throw new UsageError(`--from "${from}": ${kind} run ${runId} has no step "${step}"; its steps: ${steps.join(', ')}`);
  }
  const on = slots.filter((s) => s.step === step);
  const chosenSlots = cluster === undefined ? on : on.filter((s) => s.cluster === cluster);
  if (chosenSlots.length === 0) {
    throw new UsageError(`--from "${from}": in run ${runId}, ${step} runs on ${on.map((s) => s.cluster).join(', ')}; name one of them or drop @${cluster}`);
  }
  const chosen = chosenSlots.map(slotKey);
  const latest = new Map<string, AttemptRecord>();
  const latestSucceeded = new Map<string, AttemptRecord>();
  for (const a of attempts) {
    const key = slotKey(a);
    if (!latest.has(key) || (latest.get(key) as AttemptRecord).attempt < a.attempt) latest.set(key, a);
    if (a.outcome === 'succeeded' && (!latestSucceeded.has(key) || (latestSucceeded.get(key) as AttemptRecord).attempt < a.attempt))
      latestSucceeded.set(key, a);
  }
  // A chosen slot that never ran: everything that succeeded replays, as a plain resume would keep it.
  const startedAt = chosen.map((k) => latest.get(k)?.startedAt).filter((t): t is number => t !== undefined);
  const from_ = startedAt.length > 0 ? Math.min(...startedAt) : Number.POSITIVE_INFINITY;
  const replay = new Map<string, string>();
  const rerun: Array<{ key: string; at: number }> = [];
  for (const slot of slots) {
    const key = slotKey(slot);
    const done = latestSucceeded.get(key);
    if (!chosen.includes(key) && done && done.startedAt < from_) {
      if (done.output === undefined || done.output === null || !parses(done.output)) {
        throw new NotResumableError(
          'no-recorded-result',
          `run ${runId} did not keep what ${key} returned (it was recorded by an older mesh-run); --from cannot replay it`,
          {
            hint: `resume --from an earlier step, or start a new ${kind} run (steps are idempotent)`,
          },
        );
      }
      replay.set(key, done.output);
    } else rerun.push({ key, at: latest.get(key)?.startedAt ?? Number.POSITIVE_INFINITY });
  }
  rerun.sort((a, b) => a.at - b.at);
  return { chosen, replay, rerun: rerun.map((r) => r.key) };
}

function parses(json: string): boolean {
  try {
    JSON.parse(json);
    return true;
  } catch {
    return false;
  }
}
