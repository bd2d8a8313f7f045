// Asks the operator on the terminal before a verb changes something it cannot take back. Only "yes"
// confirms; without a terminal, the verb's --yes is the only way to confirm.
import { createInterface } from 'node:readline/promises';
import { UsageError } from '../shared/errors.js';
import type { Streams } from './output.js';

export async function confirm(question: string, streams: Streams, options: { yes: boolean; refusal: string }): Promise<boolean> {
  if (options.yes) return true;
  if (!process.stdin.isTTY) throw new UsageError(options.refusal);
  const prompt = createInterface({ input: process.stdin, output: streams.stderr });
  try {
    const answer = await prompt.question(`${question}\n  Only 'yes' will be accepted to confirm: `);
    return answer.trim() === 'yes';
  } finally {
    prompt.close();
  }
}
