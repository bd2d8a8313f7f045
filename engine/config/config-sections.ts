// The config's scalar fields and small sections: revision, timeouts, retry, tools, maxParallelRemotes, verify.
import type { RetryPolicy, VerifyConfig } from '../../shared/model.js';
import { derivedNames } from '../activities/manifests.js';
import { DEFAULTS } from './config-defaults.js';
import { describe, type Problems } from './field-problems.js';
import { checkLabel, isPathLike, readDuration, readPath, readSection, readString } from './field-readers.js';
import { boundsOf, fieldNode, fieldsOf } from './schema.js';

// The fields each section allows, and the bounds of its numbers, from the schema editors get (engine/config/schema.ts).
const VERIFY_KEYS = fieldsOf(fieldNode('verify'));
const TIMEOUT_KEYS = fieldsOf(fieldNode('timeouts'));
const RETRY_KEYS = fieldsOf(fieldNode('retry'));
const TOOL_KEYS = ['kubectl', 'istioctl'] as const;
const ATTEMPTS = boundsOf('retry', 'attempts');
const FACTOR = boundsOf('retry', 'factor');
const PARALLEL = boundsOf('maxParallelRemotes');

type Raw = Record<string, unknown>;

export function readRevision(raw: Raw, problems: Problems): string | undefined {
  if (raw.revision === undefined || raw.revision === null || raw.revision === '') return undefined;
  const revision = readString(raw.revision, 'revision', problems, '');
  if (revision) checkLabel(revision, 'revision', problems);
  if (revision === 'default') problems.add('revision', '"default" is the unrevisioned control plane; leave revision unset instead');
  // Every name derived from the revision must fit Kubernetes' limits, or the API server refuses it mid-install.
  const tooLong = derivedNames(revision).filter((n) => n.name.length > n.limit);
  if (revision && tooLong.length > 0) {
    const room = Math.min(...derivedNames(revision).map((n) => n.limit - (n.name.length - revision.length)));
    const worst = tooLong.reduce((a, b) => (b.name.length - b.limit > a.name.length - a.limit ? b : a));
    problems.add(
      'revision',
      `${describe(revision)} makes ${worst.what} ${worst.name.length} characters, over Kubernetes' limit of ${worst.limit}; use a revision of at most ${room} characters`,
    );
  }
  return revision;
}

export function readTimeouts(raw: Raw, problems: Problems): { gatewayAddressMs: number; commandMs: number } {
  const timeoutsRaw = readSection(raw, 'timeouts', TIMEOUT_KEYS, problems);
  return {
    gatewayAddressMs: readDuration(timeoutsRaw.gatewayAddress, 'timeouts.gatewayAddress', problems, DEFAULTS.gatewayAddress, 24 * 3_600_000),
    commandMs: readDuration(timeoutsRaw.command, 'timeouts.command', problems, DEFAULTS.command, 24 * 3_600_000),
  };
}

export function readRetry(raw: Raw, problems: Problems): RetryPolicy {
  const retryRaw = readSection(raw, 'retry', RETRY_KEYS, problems);
  let attempts: number = DEFAULTS.retry.attempts;
  if (retryRaw.attempts !== undefined) {
    if (
      typeof retryRaw.attempts !== 'number' ||
      !Number.isInteger(retryRaw.attempts) ||
      retryRaw.attempts < ATTEMPTS.minimum ||
      retryRaw.attempts > ATTEMPTS.maximum
    ) {
      problems.add('retry.attempts', `${describe(retryRaw.attempts)} is not a whole number from ${ATTEMPTS.minimum} to ${ATTEMPTS.maximum} (1 means no retry)`);
    } else attempts = retryRaw.attempts;
  }
  let factor: number = DEFAULTS.retry.factor;
  if (retryRaw.factor !== undefined) {
    if (typeof retryRaw.factor !== 'number' || !(retryRaw.factor >= FACTOR.minimum && retryRaw.factor <= FACTOR.maximum)) {
      problems.add('retry.factor', `${describe(retryRaw.factor)} is not a number from ${FACTOR.minimum} to ${FACTOR.maximum}`);
    } else factor = retryRaw.factor;
  }
  return {
    attempts,
    factor,
    initialDelayMs: readDuration(retryRaw.initialDelay, 'retry.initialDelay', problems, DEFAULTS.retry.initialDelay, 3_600_000),
    maxDelayMs: readDuration(retryRaw.maxDelay, 'retry.maxDelay', problems, DEFAULTS.retry.maxDelay, 3_600_000),
  };
}

export function readTools(raw: Raw, problems: Problems): { kubectl: string; istioctl: string; kubeconfig?: string } {
  const toolsRaw = readSection(raw, 'tools', [...TOOL_KEYS, 'kubeconfig'], problems);
  const kubeconfig = toolsRaw.kubeconfig === undefined ? undefined : readString(toolsRaw.kubeconfig, 'tools.kubeconfig', problems, '');
  if (kubeconfig !== undefined && !isPathLike(kubeconfig)) problems.add('tools.kubeconfig', `${describe(kubeconfig)} is not a file path`);
  const tools = {
    kubectl: readString(toolsRaw.kubectl, 'tools.kubectl', problems, 'kubectl'),
    istioctl: readString(toolsRaw.istioctl, 'tools.istioctl', problems, 'istioctl'),
    ...(kubeconfig ? { kubeconfig } : {}),
  };
  for (const key of TOOL_KEYS) {
    const value = tools[key];
    if (value.length === 0 || value.length > 4096 || /[\p{Cc}]/u.test(value) || value.startsWith('-'))
      problems.add(`tools.${key}`, `${describe(value)} is not a program name or path`);
  }
  return tools;
}

export function readMaxParallelRemotes(raw: Raw, problems: Problems): number {
  if (raw.maxParallelRemotes === undefined) return DEFAULTS.maxParallelRemotes;
  if (
    typeof raw.maxParallelRemotes !== 'number' ||
    !Number.isInteger(raw.maxParallelRemotes) ||
    raw.maxParallelRemotes < PARALLEL.minimum ||
    raw.maxParallelRemotes > PARALLEL.maximum
  ) {
    problems.add('maxParallelRemotes', `${describe(raw.maxParallelRemotes)} is not a whole number from ${PARALLEL.minimum} to ${PARALLEL.maximum}`);
    return DEFAULTS.maxParallelRemotes;
  }
  return raw.maxParallelRemotes;
}

export function readVerify(raw: Raw, source: string, problems: Problems): VerifyConfig {
  const verifyRaw = readSection(raw, 'verify', VERIFY_KEYS, problems);
  const verify: VerifyConfig = { timeoutMs: readDuration(verifyRaw.timeout, 'verify.timeout', problems, DEFAULTS.verifyTimeout, 3_600_000) };
  if (verifyRaw.samplesDir !== undefined) {
    const dir = readPath(verifyRaw.samplesDir, 'verify.samplesDir', source, problems);
    if (dir) verify.samplesDir = dir;
  }
  return verify;
}
