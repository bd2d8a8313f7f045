// Small kubectl idioms the step activities share: get as JSON (undefined when NotFound), run or fail.
import type { CommandPurpose, CommandResult } from '../adapters/cluster-tools.js';
import { StepError } from './errors.js';
import { commandFailed } from './failures.js';
import { kubectl, type StepRuntime } from './step-runtime.js';

const NOT_FOUND = /\(NotFound\)|not found/i;

export function isNotFound(result: CommandResult): boolean {
  return result.exitCode !== 0 && NOT_FOUND.test(result.stderr);
}

export async function getJson<T>(rt: StepRuntime, context: string, args: string[], what: string, purpose: CommandPurpose = 'observe'): Promise<T | undefined> {
  const result = await rt.run(kubectl(context, ['get', ...args, '-o', 'json'], purpose));
  if (isNotFound(result)) return undefined;
  if (result.exitCode !== 0) throw commandFailed(`kubectl get ${what}`, result);
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new StepError(`kubectl get ${what} printed output that is not JSON`, { retryable: true });
  }
}

export async function mustSucceed(rt: StepRuntime, command: Parameters<StepRuntime['run']>[0], what: string, hint?: string): Promise<CommandResult> {
  const result = await rt.run(command);
  if (result.exitCode !== 0) throw commandFailed(what, result, hint);
  return result;
}

