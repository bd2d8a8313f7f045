// What a step activity may do: run journaled commands on its clusters, and notice cancellation.
import type { Command, CommandPurpose, CommandResult, SourceResult } from '../adapters/cluster-tools.js';

export interface StepRuntime {
  readonly signal: AbortSignal;
  run(command: Command): Promise<CommandResult>;
  // Streams `source`'s stdout into `sink`; the streamed bytes are never journaled or returned.
  pipe(source: Command, sink: Command): Promise<{ source: SourceResult; sink: CommandResult }>;
  // Reports a wait in progress ("no address yet"), or with 'info' a finding worth showing (CA fingerprint, answers).
  note(message: string, kind?: 'wait' | 'info'): void;
  now(): number;
}

// kubectl argv with the context first, the way the Istio docs write it.
export function kubectl(context: string, args: readonly string[], purpose: CommandPurpose, stdin?: string): Command {
  return { tool: 'kubectl', args: [`--context=${context}`, ...args], context, purpose, ...(stdin !== undefined ? { stdin } : {}) };
}

export function istioctl(context: string, args: readonly string[], purpose: CommandPurpose, stdin?: string): Command {
  return { tool: 'istioctl', args: [args[0] as string, `--context=${context}`, ...args.slice(1)], context, purpose, ...(stdin !== undefined ? { stdin } : {}) };
}
