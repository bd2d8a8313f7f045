// The example configs, copied for a test: the configs only, never a certs/ directory a run left in the tree,
// so every copy starts without a CA (a trust: example writes its own next to the config).
import { cpSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const EXAMPLES = fileURLToPath(new URL('../../examples', import.meta.url));

export function copyExamples(to: string): void {
  mkdirSync(to, { recursive: true });
  for (const name of readdirSync(EXAMPLES).filter((n) => /\.(ya?ml|json)$/.test(n))) cpSync(join(EXAMPLES, name), join(to, name));
}
