// What each slot's step returned: the recorded results resume --from replays instead of running the steps
// again, and what the steps run here returned, kept with their attempts when they succeed.
import { redact } from '../../adapters/redact.js';
import type { StepInput, StepOutcomeParams } from '../../machines/types.js';
import { slotKey } from './rerun-plan.js';

export class StepResults {
  // resume --from: recorded results still to replay, and the slots replayed (they open no attempt).
  private readonly replay: Map<string, string>;
  private readonly replayed = new Set<string>();
  // What each slot's step returned last in this process.
  private readonly outputs = new Map<string, string>();

  constructor(
    replay: ReadonlyMap<string, string> | undefined,
    private readonly now: () => number,
  ) {
    this.replay = new Map(replay ?? []);
  }

  // The recorded result of a slot resume --from replays (once), if it is one.
  replayedOutput(input: StepInput): { output: unknown } | undefined {
    const key = slotKey(input);
    const json = this.replay.get(key);
    if (json === undefined) return undefined;
    this.replay.delete(key);
    this.replayed.add(key);
    const output = JSON.parse(json) as unknown;
    // Deadlines count from when a step finished: a replayed step finishes now.
    if (output && typeof output === 'object' && 'finishedAt' in output) return { output: { ...output, finishedAt: this.now() } };
    return { output };
  }

  remember(input: StepInput, output: unknown): void {
    this.outputs.set(slotKey(input), redact(JSON.stringify(output ?? null)));
  }

  // Whether the step that ended was a replayed one (its attempt is the one that succeeded before).
  wasReplayed(params: StepOutcomeParams): boolean {
    return this.replayed.delete(slotKey(params));
  }

  // What a step that ended returned, to keep with its attempt if it succeeded (forgotten either way).
  takeOutput(params: StepOutcomeParams, outcome: 'succeeded' | 'failed'): string | undefined {
    const output = outcome === 'succeeded' ? this.outputs.get(slotKey(params)) : undefined;
    this.outputs.delete(slotKey(params));
    return output;
  }
}
