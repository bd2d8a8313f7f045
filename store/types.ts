// The narrow interface the engine and CLI use to read and write the journal. SQLite implements it today.

export type RunStatus = 'running' | 'succeeded' | 'failed' | 'interrupted';
export type AttemptOutcome = 'running' | 'succeeded' | 'failed' | 'interrupted';
export type RunMode = 'dry-run' | 'real';

export interface ErrorInfo {
  message: string;
  hint?: string;
  step?: string;
  cluster?: string;
}

export interface LeaseHolder {
  token: string;
  pid: number;
  host: string;
  user: string;
  heartbeat: number;
  // "<boot id>:<start ticks>" of the holder's process: a reused pid is not the holder.
  procStart?: string | null;
}

export interface RunRecord {
  id: string;
  kind: string;
  topology: string;
  mode: RunMode;
  status: RunStatus;
  configJson: string;
  configHash: string;
  configPath: string | null;
  createdAt: number;
  updatedAt: number;
  finishedAt: number | null;
  machineVersion: number;
  snapshotJson: string | null;
  error: ErrorInfo | null;
  // The recorded error did not parse (a damaged row): error is a placeholder.
  errorDamaged?: boolean;
  lease: LeaseHolder | null;
  // The install run a verify or uninstall run acts on (null when it was given a config file).
  targetRun: string | null;
  // Dry runs: the simulated world its commands go to.
  simWorld: string;
}

export interface NewRun {
  id: string;
  kind: string;
  topology: string;
  mode: RunMode;
  configJson: string;
  configHash: string;
  configPath: string | null;
  createdAt: number;
  machineVersion: number;
  targetRun?: string | null;
  simWorld?: string | null;
}

export interface AttemptRecord {
  id: number;
  runId: string;
  step: string;
  cluster: string;
  context: string | null;
  attempt: number;
  startedAt: number;
  endedAt: number | null;
  outcome: AttemptOutcome;
  error: ErrorInfo | null;
}

export interface CommandRecord {
  id: number;
  runId: string;
  attemptId: number | null;
  tool: string;
  argv: string[];
  context: string | null;
  startedAt: number;
  endedAt: number | null;
  exitCode: number | null;
  durationMs: number | null;
  stdoutTail: string | null;
  stderrTail: string | null;
  // The tool process (real runs): its pid, process group and start identity.
  pid: number | null;
  pgid: number | null;
  procStart: string | null;
}

export interface NewCommand {
  runId: string;
  attemptId: number | null;
  tool: string;
  argv: string[];
  context: string | null;
  at: number;
}

// A command's process, recorded once it has started.
export interface CommandSpawn {
  id: number;
  pid: number;
  pgid: number;
  procStart: string | null;
}

export interface CommandFinish {
  id: number;
  exitCode: number;
  durationMs: number;
  stdoutTail: string;
  stderrTail: string;
  at: number;
}

export interface RunEventRecord {
  id: number;
  runId: string;
  at: number;
  type: string;
  user: string | null;
  host: string | null;
  pid: number | null;
  detail: string | null;
  // Events a step reports (a value it replaced, something it kept): where.
  step: string | null;
  cluster: string | null;
}

// What a run saw before it changed anything: whether an object existed, whose it was, and the labels and
// annotations a step may replace. Uninstall keeps what was there before and restores what was replaced.
export interface Observation {
  runId: string;
  cluster: string;
  subject: string;
  present: boolean;
  owner: string | null;
  detail: Record<string, string> | null;
  at: number;
}

export interface Actor {
  user: string;
  host: string;
  pid: number;
}

// A step attempt closed by a machine transition; written in the same transaction as the snapshot.
export interface AttemptClose {
  step: string;
  cluster: string;
  outcome: 'succeeded' | 'failed';
  error?: ErrorInfo;
  at: number;
}

// Filters of `mesh-run history`; every field narrows the result, all combine.
export interface HistoryFilter {
  runId?: string;
  cluster?: string;
  step?: string;
  outcome?: AttemptRecord['outcome'];
  since?: number;
  until?: number;
  // Only runs of this kind (install, verify, uninstall).
  kind?: string;
  limit: number;
}

// A live run holding one of the clusters another run asked for.
export interface ClusterHolder {
  runId: string;
  kind: string;
  key: string;
  lease: LeaseHolder;
}

export type LeaseResult = { acquired: true; tookOverFrom?: LeaseHolder } | { acquired: false; holder: LeaseHolder } | { acquired: false; busy: ClusterHolder };

// What a driver asks for with its lease: the clusters it will act on, and how to judge other holders.
export interface ClaimRequest {
  lease: LeaseHolder;
  // context:<kube context> for real clusters, world:<id> for simulated ones.
  keys: readonly string[];
  staleAfterMs: number;
  isAlive: (holder: LeaseHolder) => boolean;
}

export type CreateResult = { created: true } | { created: false; busy: ClusterHolder };

export interface RunStore {
  createRun(run: NewRun, actor: Actor): void;
  // One transaction: the run, its "started" event, its lease and its claim on its clusters; or nothing at
  // all when a live run holds one of those clusters.
  createClaimedRun(run: NewRun, actor: Actor, claim: ClaimRequest): CreateResult;
  getRun(id: string): RunRecord | undefined;
  // Ids that start with `prefix`, at most `limit` of them.
  findRunIds(prefix: string, limit: number): string[];
  listRuns(limit: number): RunRecord[];
  // One transaction: the machine snapshot plus the journal rows its transition produced.
  commitTransition(runId: string, snapshotJson: string, closes: readonly AttemptClose[], at: number): void;
  // One transaction: the snapshot as it stands, attempts closed since the last write, and a new attempt row.
  openAttempt(
    runId: string,
    snapshotJson: string | null,
    slot: { step: string; cluster: string; context: string | null },
    at: number,
    closes?: readonly AttemptClose[],
  ): AttemptRecord;
  // Closes an attempt outside a transition (a failed try the retry policy repeats).
  closeAttempt(attemptId: number, outcome: 'failed' | 'interrupted', error: ErrorInfo | null, at: number): void;
  // Marks every attempt still open as interrupted (the process that ran it is gone); returns how many.
  interruptOpenAttempts(runId: string, reason: string, at: number): number;
  setRunStatus(runId: string, status: RunStatus, at: number, error?: ErrorInfo | null): void;
  // The config a run continues with (resume --force accepted a changed file).
  updateRunConfig(runId: string, configJson: string, configHash: string): void;
  // One transaction: open attempts closed as interrupted, the run back to running, a "resumed" event.
  beginResume(runId: string, reason: string, actor: Actor, at: number, detail?: string): void;
  // One transaction: the run's final (or interrupted) status and the event that says who ended it.
  endRun(runId: string, status: Exclude<RunStatus, 'running'>, actor: Actor, at: number, error: ErrorInfo | null, detail?: string): void;
  listAttempts(runId: string): AttemptRecord[];
  listCommands(runId: string): CommandRecord[];
  // One transaction for many command rows (group commit): new rows, and results of earlier ones. Returns the new ids.
  journalCommands(starts: readonly NewCommand[], finishes: readonly CommandFinish[], spawns?: readonly CommandSpawn[]): number[];
  addEvent(runId: string, type: string, actor: Actor, at: number, detail?: string, where?: { step: string; cluster: string }): void;
  // Keeps the first observation of each (run, cluster, subject); later ones are ignored.
  recordObservations(observations: readonly Observation[]): void;
  // The observations of these runs, oldest first.
  listObservations(runIds: readonly string[]): Observation[];
  // Runs that act on `runId` (verify and uninstall runs naming it as their target).
  listRunsTargeting(runId: string): RunRecord[];
  listEvents(runId: string): RunEventRecord[];
  // Step attempts matching the filter, newest first.
  queryAttempts(filter: HistoryFilter): AttemptRecord[];
  // Operator actions (started, resumed, forced, interrupted ...) matching the filter, newest first.
  queryEvents(filter: Pick<HistoryFilter, 'runId' | 'since' | 'until' | 'kind' | 'limit'>): RunEventRecord[];
  // The run's lease, and (when keys are given) its claim on its clusters, in one transaction.
  acquireLease(runId: string, candidate: LeaseHolder, staleAfterMs: number, isAlive: (holder: LeaseHolder) => boolean, keys?: readonly string[]): LeaseResult;
  heartbeat(runId: string, token: string, at: number): boolean;
  releaseLease(runId: string, token: string): void;
  close(): void;
}
