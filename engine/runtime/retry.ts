import type { RetryPolicy } from '../../shared/model.js';
// Backoff for transient step failures: exponential, capped, with full jitter.

// Delay before attempt `next` (2, 3, ...) given the policy; `random` in [0,1) for jitter.
export function backoffDelay(policy: RetryPolicy, next: number, random: number = Math.random()): number {
  const exp = policy.initialDelayMs * policy.factor ** Math.max(0, next - 2);
  const capped = Math.min(policy.maxDelayMs, exp);
  // Full jitter, but never below half the delay: spreads retries without collapsing to zero.
  return Math.round(capped / 2 + (capped / 2) * random);
}
