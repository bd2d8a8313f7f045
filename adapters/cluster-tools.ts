// The one interface steps use to reach clusters: run kubectl/istioctl argv, or stream one into another.
import type { StepId } from '../machines/steps.js';

export type Tool = 'kubectl' | 'istioctl';

// Why a step runs a command; `mesh-run plan` uses it to write the shell equivalent.
export type CommandPurpose = 'check' | 'observe' | 'act' | 'act-if-missing' | 'verify' | 'wait';

// A command as argv: never a shell string.
export interface Command {
  tool: Tool;
  args: readonly string[];
  // The kube context the command targets, for the journal.
  context: string;
  // Text written to stdin (manifests).
  stdin?: string;
  // stdin carries private keys (the cacerts secret) or a token: never journaled, shown or stored by the simulator.
  sensitiveStdin?: boolean;
  // stdout carries secret data (a token read to fingerprint it): kept in the step's memory, never journaled.
  sensitiveStdout?: boolean;
  purpose?: CommandPurpose;
  // For a check: what its output must show, in words, and as extended regexps every one of which must match
  // (scripts retry the command until they do; `accumulate`: over the outputs of all tries, as for traffic).
  expectation?: string;
  check?: { patterns: string[]; seconds: number; accumulate?: boolean };
  // For a "wait": the jsonpath whose non-empty value ends the wait, and the shell variable it fills.
  waitFor?: { jsonpath: string; variable: string; timeoutSeconds: number };
  // For scripts: the step issues this act (and checks its effect) only when `probe` printed `equals`; the
  // probe's answer is kept in the shell variable `variable` for the check that follows the act.
  when?: { probe: Command; equals: string; otherwise: string; variable: string };
}

export interface CommandResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

// The result of a pipe's source: its stdout went to the sink and is never exposed.
export interface SourceResult {
  exitCode: number;
  stderr: string;
}

// A started tool process, as the journal records it: its group can be stopped by a later driver.
export interface SpawnedProcess {
  pid: number;
  pgid: number;
  // "<boot id>:<start ticks>" on Linux: tells this process from a later one with the same pid.
  start?: string;
}

export interface RunOptions {
  signal: AbortSignal;
  timeoutMs: number;
  // Which step and cluster the command belongs to (journaling, simulator fault injection).
  step: StepId;
  cluster: string;
  // The run the command belongs to: real processes carry it in their environment.
  runId?: string;
  // The lease its driver holds the run with: simulated clusters take a command only while it holds.
  leaseToken?: string;
  // Called once a real process has started (a pipe's source and sink each call it).
  onSpawn?: (role: 'command' | 'source' | 'sink', process: SpawnedProcess) => void;
}

// A bearer token to present to an API server on its own, as anyone holding it could (secrets rotate checks
// the old one is refused): the server and its CA as a kubeconfig names them.
export interface TokenProbe {
  server: string;
  // certificate-authority-data (base64 PEM); absent: the system's roots.
  caData?: string;
  token: string;
  // Also ask, as the token's subject, whether it may do this (a SelfSubjectAccessReview, cluster-wide).
  access?: AccessQuestion;
}

export interface AccessQuestion {
  verb: string;
  group: string;
  resource: string;
}

// The HTTP status the API server answered GET /api with (401: it refused the token), and when the probe asked
// about access and the token was accepted, the review's answer; or why the server could not be asked; or why
// the token was not sent at all (`refused`: nothing left this process).
export type TokenAnswer = { status: number; allowed?: boolean } | { error: string } | { refused: string };

export interface ClusterTools {
  readonly mode: 'real' | 'dry-run';
  run(command: Command, options: RunOptions): Promise<CommandResult>;
  // Runs `source` with its stdout streamed straight into `sink`'s stdin; the stream is never buffered for logs.
  pipe(source: Command, sink: Command, options: RunOptions): Promise<{ source: SourceResult; sink: CommandResult }>;
  // Presents a token in a request header, from this process: the token is in no argv, file or pipe.
  presentToken(probe: TokenProbe, options: Pick<RunOptions, 'signal' | 'timeoutMs' | 'runId' | 'leaseToken'>): Promise<TokenAnswer>;
}
