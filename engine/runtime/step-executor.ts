// Runs one step activity: waits for a remote slot if it needs one, opens (or continues) its attempt, and
// tries it again after a transient failure, per the config's retry policy.
import { setMaxListeners } from 'node:events';
import { stepInfo } from '../../machines/steps.js';
import type { StepInput } from '../../machines/types.js';
import { toStepFailure } from '../../shared/errors.js';
import { sleep } from '../../shared/sleep.js';
import type { AttemptRecord } from '../../store/contract.js';
import type { StepRuntime } from '../activities/step-runtime.js';
import { AttemptRuntime, type RuntimeDeps } from './attempt-runtime.js';
import { redactFailure } from './journal-writer.js';
import { backoffDelay } from './retry.js';
import { isJournalError } from './run-session.js';
import { Semaphore } from './semaphore.js';

export class StepExecutor {
  private readonly remoteSlots: Semaphore;

  constructor(private readonly deps: RuntimeDeps) {
    this.remoteSlots = new Semaphore(deps.config.maxParallelRemotes);
  }

  // Runs one step invocation.
  async execute<T>(input: StepInput, signal: AbortSignal, body: (rt: StepRuntime) => Promise<T>): Promise<T> {
    // Let the transition that invoked us finish, so the snapshot we persist shows this step in flight.
    await new Promise((resolve) => setImmediate(resolve));
    // Per-cluster steps share a bounded number of slots (maxParallelRemotes); waiting for one is not an attempt.
    const scope = stepInfo(input.step).scope;
    if (scope !== 'remote' && scope !== 'each') return this.attempts(input, signal, body);
    await this.remoteSlots.acquire(signal);
    try {
      return await this.attempts(input, signal, body);
    } finally {
      this.remoteSlots.release();
    }
  }

  private async attempts<T>(input: StepInput, signal: AbortSignal, body: (rt: StepRuntime) => Promise<T>): Promise<T> {
    const { session: s, journal } = this.deps;
    // One signal serves every command of the step, and preflight runs one per cluster at once.
    setMaxListeners(0, signal);
    const policy = this.deps.config.retry;
    for (let tries = 1; ; tries++) {
      if (signal.aborted || s.closing) throw signal.reason ?? new Error('run is stopping');
      let attempt: AttemptRecord;
      try {
        attempt = await journal.openAttempt(input);
      } catch (error) {
        if (isJournalError(error)) s.storeFailed(error);
        throw error;
      }
      try {
        return await body(new AttemptRuntime(this.deps, attempt, input, signal).face());
      } catch (error) {
        if (isJournalError(error)) s.storeFailed(error);
        if (signal.aborted || s.closing) throw error;
        const failure = redactFailure(toStepFailure(error));
        if (!failure.retryable || tries >= policy.attempts) throw failure;
        const delay = backoffDelay(policy, tries + 1);
        await journal.closeForRetry(input, attempt, failure);
        s.listener({
          type: 'step',
          runId: s.runId,
          step: input.step,
          cluster: input.cluster,
          status: 'retrying',
          attempt: attempt.attempt,
          at: s.now(),
          error: failure,
          retryInMs: delay,
        });
        await sleep(delay, signal);
      }
    }
  }
}
