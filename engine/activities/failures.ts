// Turns a failed command into a StepError: a short, redacted message and whether a retry may help.

import type { CommandResult } from '../../adapters/cluster-tools.js';
import { redact } from '../../adapters/redact.js';
import { StepError } from '../../shared/errors.js';

// Failures that retrying cannot fix: credentials, RBAC, bad input, missing images or APIs.
const PERMANENT = [
  /\(Forbidden\)/i,
  /is forbidden/i,
  /\(Unauthorized\)/i,
  /must be logged in/i,
  /ImagePullBackOff|ErrImagePull/i,
  /no matches for kind/i,
  /\(BadRequest\)|\(Invalid\)/i,
  /admission webhook .* denied/i,
  /does not exist/i,
  /exceeded its progress deadline/i,
  /unknown (shorthand )?flag|unknown command/i,
];

// Failures of the network or the API server that usually pass: timeouts, refused connections, 5xx, conflicts.
const TRANSIENT = [
  /i\/o timeout/i,
  /connection refused/i,
  /connection reset/i,
  /TLS handshake timeout/i,
  /context deadline exceeded/i,
  /etcdserver: (request timed out|leader changed)/i,
  /Unable to connect to the server/i,
  /\((InternalError|ServiceUnavailable|Timeout|TooManyRequests|ServerTimeout)\)/i,
  /the server is currently unable to handle the request/i,
  /the object has been modified; please apply your changes/i,
  /timed out waiting for the condition/i,
  /because it is being terminated/i,
  /net\/http: request canceled/i,
  /\bEOF\b/,
];

export function isTransient(text: string): boolean {
  if (PERMANENT.some((p) => p.test(text))) return false;
  return TRANSIENT.some((p) => p.test(text));
}

// The meaningful lines of a tool's error output, redacted and kept short.
export function errorSummary(result: Pick<CommandResult, 'stderr'> & { stdout?: string }): string {
  const text = redact(`${result.stderr}\n${result.stdout ?? ''}`)
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^See '.* --help'/.test(l) && !l.startsWith('✔'))
    .slice(0, 4)
    .join(' | ');
  return text.length > 600 ? `${text.slice(0, 597)}...` : text || 'no error output';
}

// A StepError for a command that exited non-zero.
export function commandFailed(
  what: string,
  result: CommandResult | (Pick<CommandResult, 'stderr' | 'exitCode'> & { stdout?: string }),
  hint?: string,
): StepError {
  const summary = errorSummary(result);
  return new StepError(`${what} failed (exit ${result.exitCode}): ${summary}`, { retryable: isTransient(summary), ...(hint ? { hint } : {}) });
}
