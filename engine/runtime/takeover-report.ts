// Who took a run from a driver that lost it, as the journal tells it (read only), for that driver's last words.
import { FencedError } from '../../shared/errors.js';
import type { Actor, RunStore } from '../../store/contract.js';

// The holder the refused write found, else the last driver or operator that took the run up after this one
// did; else what the refused write knew.
export async function takeoverReport(store: RunStore, runId: string, operator: Actor, error: FencedError): Promise<FencedError> {
  const tail = 'this process stopped and changed nothing more';
  if (error.holder) {
    const h = error.holder;
    return new FencedError(runId, h, error.runStatus, `run ${runId} was taken over by pid ${h.pid} on ${h.host} (user ${h.user}); ${tail}`);
  }
  try {
    const events = await store.listEvents(runId);
    const mine = (e: { pid: number | null; host: string | null }) => e.pid === operator.pid && e.host === operator.host;
    const since = events.findLastIndex((e) => mine(e) && (e.type === 'started' || e.type === 'resumed' || e.type === 'lease-taken-over'));
    const taker = events.slice(since + 1).findLast((e) => !mine(e) && ['lease-taken-over', 'resumed', 'unlocked'].includes(e.type));
    const run = await store.getRun(runId);
    const now = run ? `; it is ${run.status} now` : '';
    if (taker?.type === 'unlocked')
      return new FencedError(runId, null, run?.status ?? error.runStatus, `run ${runId} was unlocked by ${taker.user}@${taker.host}${now}; ${tail}`);
    if (taker)
      return new FencedError(
        runId,
        null,
        run?.status ?? error.runStatus,
        `run ${runId} was taken over by pid ${taker.pid} on ${taker.host} (user ${taker.user})${now}; ${tail}`,
      );
  } catch {
    // the journal cannot be read: say what the refused write knew
  }
  return error;
}
