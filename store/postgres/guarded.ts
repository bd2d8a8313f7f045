// Every PostgreSQL store method's errors in mesh-run's words (a StoreError saying what happened and what to do).
import type { PostgresLocation } from '../location.js';
import { asPgStoreError } from './connection.js';

export function guardedPg<T extends object>(target: T, location: PostgresLocation): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(target)) {
    if (typeof value !== 'function') continue;
    wrapped[name] = async (...args: unknown[]) => {
      try {
        return await (value as (...a: unknown[]) => Promise<unknown>)(...args);
      } catch (error) {
        throw asPgStoreError(error, location);
      }
    };
  }
  return wrapped as T;
}
