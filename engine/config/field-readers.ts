// Reading one field of a config: its type, its form (labels, contexts, durations, paths, URLs) and its fallback.
import { dirname, isAbsolute, resolve as resolvePath } from 'node:path';
import { parseDuration } from '../../shared/durations.js';
import { checkKeys, describe, isRecord, type Problems } from './field-problems.js';
import { API_SERVER_URL, DNS1123_LABEL as DNS1123, LABEL_VALUE as LABEL } from './schema.js';

const DNS1123_LABEL = new RegExp(DNS1123);
const LABEL_VALUE = new RegExp(LABEL);
const CONTROL_OR_SPACE = /[\s\p{Cc}]/u;

export function readString(value: unknown, field: string, problems: Problems, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string') {
    problems.add(field, `expected a string, got ${describe(value)}; quote the value`);
    return fallback;
  }
  return value;
}

export function checkLabel(value: string, field: string, problems: Problems): void {
  if (value.length > 63 || !DNS1123_LABEL.test(value)) {
    const hint =
      value
        .toLowerCase()
        .replace(/[^a-z0-9-]+/g, '-')
        .replace(/^-+|-+$/g, '')
        .slice(0, 63) || 'cluster2';
    problems.add(
      field,
      `${describe(value)} is not a DNS-1123 label; use at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit (e.g. "${hint}")`,
    );
  }
}

export function checkLabelValue(value: string, field: string, problems: Problems): void {
  if (value.length > 63 || !LABEL_VALUE.test(value)) {
    problems.add(
      field,
      `${describe(value)} is not usable as a Kubernetes label value; use at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit`,
    );
  }
}

export function checkContext(value: string, field: string, problems: Problems): void {
  if (value.length === 0 || value.length > 512 || CONTROL_OR_SPACE.test(value) || value.startsWith('-')) {
    problems.add(field, `${describe(value)} is not a kube context name; use the name shown by "kubectl config get-contexts -o name"`);
  }
}

export function readDuration(value: unknown, field: string, problems: Problems, fallback: string, maxMs: number): number {
  const text = value === undefined ? fallback : value;
  if (typeof text !== 'string') {
    problems.add(field, `expected a duration such as "90s" or "5m", got ${describe(text)}`);
    return parseDuration(fallback) as number;
  }
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0 || ms > maxMs) {
    problems.add(field, `${describe(text)} is not a duration between 1ms and ${maxMs / 3_600_000}h; write it like "500ms", "90s", "5m" or "1h"`);
    return parseDuration(fallback) as number;
  }
  return ms;
}

// A nested mapping such as timeouts: checked for shape and unknown keys; {} when absent or wrong.
export function readSection(raw: Record<string, unknown>, name: string, keys: readonly string[], problems: Problems): Record<string, unknown> {
  const value = raw[name];
  if (value === undefined) return {};
  if (!isRecord(value)) {
    problems.add(name, `expected a mapping (${keys.join(', ')}), got ${describe(value)}`);
    return {};
  }
  checkKeys(value, keys, name, problems);
  return value;
}

// A file path a person could mean: not empty, no control characters, not an option.
export function isPathLike(value: string): boolean {
  return value.length > 0 && value.length <= 4096 && !/[\p{Cc}]/u.test(value) && !value.startsWith('-');
}

export function readApiServer(value: unknown, field: string, problems: Problems): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !new RegExp(API_SERVER_URL).test(value)) {
    problems.add(`${field}.apiServer`, `${describe(value)} is not an API server URL; write it like "https://10.0.0.12:6443"`);
    return undefined;
  }
  return value;
}

// A directory named in the config, resolved against the config file's directory (the cwd without a file).
export function readPath(value: unknown, field: string, source: string, problems: Problems): string | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > 4096 || /[\p{Cc}]/u.test(value)) {
    problems.add(field, `expected a directory path, got ${describe(value)}`);
    return undefined;
  }
  const base = source && source !== 'config' ? dirname(resolvePath(source)) : process.cwd();
  return isAbsolute(value) ? value : resolvePath(base, value);
}

export function readWholeNumber(
  value: unknown,
  field: string,
  problems: Problems,
  fallback: number,
  allowed: (n: number) => boolean,
  expected: string,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || !allowed(value)) {
    problems.add(field, `${describe(value)} is not ${expected}`);
    return fallback;
  }
  return value;
}
