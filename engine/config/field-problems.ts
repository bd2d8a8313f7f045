// How a config's problems are collected and worded: every problem at once, each naming its field.
import { closest } from './did-you-mean.js';

// Collects problems while walking the raw document, so a user sees all of them at once.
export class Problems {
  readonly list: string[] = [];
  constructor(private readonly source: string) {}
  add(field: string, problem: string): void {
    const prefix = this.source ? `${this.source}: ` : '';
    this.list.push(`${prefix}${field}: ${problem}`);
  }
}

export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function checkKeys(obj: Record<string, unknown>, allowed: readonly string[], path: string, problems: Problems): void {
  for (const key of Object.keys(obj)) {
    if (allowed.includes(key)) continue;
    const suggestion = closest(key, allowed);
    const field = path ? `${path}.${key}` : key;
    problems.add(field, `unknown field${suggestion ? `; did you mean "${suggestion}"?` : `; allowed fields are ${allowed.join(', ')}`}`);
  }
}
