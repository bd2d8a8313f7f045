// Run ids: short, typeable, unambiguous (no 0/o, 1/l), prefixed so they stand out in logs.
import { randomBytes } from 'node:crypto';

const ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';

export function newRunId(): string {
  const bytes = randomBytes(8);
  let id = '';
  for (const byte of bytes) id += ALPHABET[byte % ALPHABET.length];
  return `mr-${id}`;
}
