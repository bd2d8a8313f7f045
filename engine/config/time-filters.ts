// Parses --since/--until: a duration back from now ("24h", "7d", "90m") or an ISO date/time.
import { parseDuration } from '../../shared/durations.js';
import { UsageError } from '../../shared/errors.js';

export function parseTimeBound(value: string | undefined, flag: string, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const ago = parseDuration(value);
  if (ago !== undefined) return now - ago;
  if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value.trim())) {
    const at = Date.parse(value.trim());
    if (!Number.isNaN(at)) return at;
  }
  throw new UsageError(`${flag} "${value}": expected a duration back from now (24h, 7d, 90m) or an ISO date (2026-11-20 or 2026-11-20T08:00:00Z)`);
}
