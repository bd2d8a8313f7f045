// What a step activity may do: run journaled commands on its clusters, and notice cancellation.
import type { Command, CommandPurpose, CommandResult, SourceResult, TokenAnswer, TokenProbe } from '../../adapters/cluster-tools.js';
import type { ObservationInput } from './inventory.js';

export interface StepRuntime {
  readonly signal: AbortSignal;
  run(command: Command): Promise<CommandResult>;
  // Streams `source`'s stdout into `sink`; the streamed bytes are never journaled or returned.
  pipe(source: Command, sink: Command): Promise<{ source: SourceResult; sink: CommandResult }>;
  // Presents a bearer token to an API server from this process (no tool, no argv, no file).
  presentToken(probe: TokenProbe): Promise<TokenAnswer>;
  // Reports a wait in progress ("no address yet"), or with 'info' a finding worth showing (CA fingerprint, answers).
  note(message: string, kind?: 'wait' | 'info'): void;
  // Journals what existed before this run changed anything (the first observation per run counts).
  observe(observation: ObservationInput): Promise<void>;
  // Journals a decision or a replaced value as a run event of this step and cluster, and shows it now.
  // The same report twice in a run (a step re-run after a crash) is journaled once.
  report(type: ReportType, detail: string): Promise<void>;
  now(): number;
}

// What a step reports: a value it replaced (warning), something it kept, or removed although it was there
// before; for secrets rotate, the token it minted, the old one revoked, a gate it was told to skip (warning);
// for an upgrade, a wave gate that held with nothing to check (no pods).
// kept-valid: a token left valid on purpose (its secret was there before mesh-run): the run's end says so.
// drift: what a drift check found, in one line (its observations hold each item).
export type ReportType =
  | 'overwrote'
  | 'kept'
  | 'kept-valid'
  | 'deleted-preexisting'
  | 'restored'
  | 'token-minted'
  | 'revoked'
  | 'gate-skipped'
  | 'gate-empty'
  | 'drift';

// kubectl argv with the context first, the way the Istio docs write it.
export function kubectl(context: string, args: readonly string[], purpose: CommandPurpose, stdin?: string): Command {
  return { tool: 'kubectl', args: [`--context=${context}`, ...args], context, purpose, ...(stdin !== undefined ? { stdin } : {}) };
}

export function istioctl(context: string, args: readonly string[], purpose: CommandPurpose, stdin?: string): Command {
  return { tool: 'istioctl', args: [args[0] as string, `--context=${context}`, ...args.slice(1)], context, purpose, ...(stdin !== undefined ? { stdin } : {}) };
}
