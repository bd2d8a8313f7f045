// Answers to read-only checks made before a run was recorded (the precheck of a real install), kept so the
// run's preflight step journals them instead of asking the clusters the same questions seconds later.
// Each answer serves once, and only while it is fresh.
import type { Command, CommandResult } from '../../adapters/cluster-tools.js';

export interface Answer {
  result: CommandResult;
  startedAt: number;
  endedAt: number;
}

// How long an answer stands for the cluster's current state (the run starts right after its precheck).
const FRESH_MS = 60_000;

const keyOf = (command: Command) => JSON.stringify([command.tool, command.context, command.args, command.stdin ?? null]);

export class AnswerBook {
  private readonly answers = new Map<string, Answer[]>();

  record(command: Command, answer: Answer): void {
    if (command.purpose !== 'check' || command.sensitiveStdout) return;
    const key = keyOf(command);
    this.answers.set(key, [...(this.answers.get(key) ?? []), answer]);
  }

  // The answer to this check, if one is fresh; it is not given out again.
  take(command: Command, now: number): Answer | undefined {
    if (command.purpose !== 'check') return undefined;
    const list = this.answers.get(keyOf(command));
    const answer = list?.shift();
    return answer && now - answer.endedAt <= FRESH_MS ? answer : undefined;
  }
}

// The same check asked twice in one precheck gets the first answer (both askers wait for one process).
export function askOnce(run: (command: Command) => Promise<CommandResult>): (command: Command) => Promise<CommandResult> {
  const asked = new Map<string, Promise<CommandResult>>();
  return (command) => {
    if (command.purpose !== 'check' || command.stdin !== undefined) return run(command);
    const key = keyOf(command);
    let pending = asked.get(key);
    if (!pending) {
      pending = run(command);
      asked.set(key, pending);
    }
    return pending;
  };
}
