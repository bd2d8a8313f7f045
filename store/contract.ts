// The store contract: every named operation the engine and the CLI use to keep and read runs, their
// attempts, commands, events, observations, leases and claims, and the simulated clusters of dry runs.
// Asynchronous, so a networked database can implement it as well as SQLite does; its behaviour is pinned by
// the contract suite in test/support/store-contract.ts, which any backend runs.

import type { AttemptOutcome, MeshConfig, RunKind, RunMode, RunStatus } from '../shared/model.js';
import type { SnapshotWrite } from './snapshot-parts.js';
import type { WorldSeed, WorldStore } from './world-contract.js';

// The simulated clusters' contract lives beside this one; importers find every name here.
export type { SimFault, SimObjectKey, WorldExport, WorldLease, WorldObjects, WorldSeed, WorldStore } from './world-contract.js';

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

// A run as recorded: its config parsed once (with the defaults newer versions added), its kind as a union.
// A row that does not read back whole is still returned, marked damaged, so one bad row never hides the rest.
export interface RunRecord {
  id: string;
  kind: RunKind;
  topology: string;
  mode: RunMode;
  status: RunStatus;
  // null when the stored config does not parse (`damaged` says so).
  config: MeshConfig | null;
  configHash: string;
  configPath: string | null;
  createdAt: number;
  updatedAt: number;
  finishedAt: number | null;
  machineVersion: number;
  // The machine's persisted snapshot, as JSON; the engine checks it restores before resuming. getRun puts
  // its parts together; runs from listings carry the root's part only (no reader of a list restores one).
  snapshot: string | null;
  error: ErrorInfo | null;
  lease: LeaseHolder | null;
  // The install run a verify or uninstall run acts on (null when it was given a config file).
  targetRun: string | null;
  // Dry runs: the simulated world its commands go to.
  simWorld: string;
  // What of the row did not read back: its kind (then `storedKind` holds it), config or error.
  damaged: Array<'kind' | 'config' | 'error'>;
  storedKind: string;
}

export interface NewRun {
  id: string;
  kind: RunKind;
  topology: string;
  mode: RunMode;
  config: MeshConfig;
  configHash: string;
  configPath: string | null;
  createdAt: number;
  machineVersion: number;
  targetRun?: string | null;
  simWorld?: string | null;
  // Events recorded with the run's "started" one (uninstall --force says what it skipped).
  events?: ReadonlyArray<{ type: string; detail: string }>;
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
  // What a succeeded attempt's step returned (JSON, redacted), replayed by resume --from.
  output?: string | null;
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
  // JSON of what the step returned (succeeded attempts).
  output?: string;
  at: number;
}

// Filters of `mesh-run history`; every field narrows the result, all combine.
export interface HistoryFilter {
  runId?: string;
  cluster?: string;
  step?: string;
  outcome?: AttemptOutcome;
  since?: number;
  until?: number;
  kind?: RunKind;
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

import type { Fence } from './fence.js';

export type { Fence } from './fence.js';

export interface RunStore {
  // One transaction: the run, its "started" event, its lease, its claim on its clusters, and (dry runs)
  // its simulated world and injected faults; or nothing at all when a live run holds one of the clusters.
  createRun(run: NewRun, actor: Actor, claim: ClaimRequest, seed?: WorldSeed): Promise<CreateResult>;
  getRun(id: string): Promise<RunRecord | undefined>;
  // Ids that start with `prefix`, at most `limit` of them.
  findRunIds(prefix: string, limit: number): Promise<string[]>;
  listRuns(limit: number): Promise<RunRecord[]>;
  // Runs that act on `runId` (verify and uninstall runs naming it as their target), oldest first.
  listRunsTargeting(runId: string): Promise<RunRecord[]>;
  // The config a run continues with (resume --force accepted a changed file).
  updateRunConfig(runId: string, fence: Fence, config: MeshConfig, configHash: string): Promise<void>;

  // One transaction: the parts of the machine snapshot that changed, plus the attempts its transition closed.
  commitTransition(runId: string, fence: Fence, snapshot: SnapshotWrite, closes: readonly AttemptClose[], at: number): Promise<void>;
  // One transaction: the snapshot as it stands, attempts closed since the last write, and a new attempt row.
  openAttempt(
    runId: string,
    fence: Fence,
    snapshot: SnapshotWrite | null,
    slot: { step: string; cluster: string; context: string | null },
    at: number,
    closes?: readonly AttemptClose[],
  ): Promise<AttemptRecord>;
  // Closes an attempt outside a transition (a failed try the retry policy repeats).
  closeAttempt(runId: string, fence: Fence, attemptId: number, outcome: 'failed' | 'interrupted', error: ErrorInfo | null, at: number): Promise<void>;
  // One transaction: open attempts and commands closed as interrupted, the run back to running, a "resumed" event.
  beginResume(runId: string, fence: Fence, reason: string, actor: Actor, at: number, detail?: string): Promise<void>;
  // One transaction: the run's final (or interrupted) status, the event that says who ended it, and the lease
  // and the run's claims let go: no other driver can take the run between its end and its release.
  endRun(runId: string, fence: Fence, status: Exclude<RunStatus, 'running'>, actor: Actor, at: number, error: ErrorInfo | null, detail?: string): Promise<void>;
  listAttempts(runId: string): Promise<AttemptRecord[]>;

  // One transaction for many command rows of one run (group commit): new rows, processes started, results.
  // Returns the new ids. A command starts only once its row is in: this is the fence every command passes.
  journalCommands(
    runId: string,
    fence: Fence,
    starts: readonly NewCommand[],
    finishes: readonly CommandFinish[],
    spawns?: readonly CommandSpawn[],
  ): Promise<number[]>;
  listCommands(runId: string): Promise<CommandRecord[]>;

  // `fence` null: an operator's request that needs no lease (cancel-requested); a driver's events pass theirs.
  addEvent(
    runId: string,
    fence: Fence | null,
    type: string,
    actor: Actor,
    at: number,
    detail?: string,
    where?: { step: string; cluster: string },
  ): Promise<void>;
  listEvents(runId: string): Promise<RunEventRecord[]>;
  // Keeps the first observation of each (run, cluster, subject); later ones are ignored.
  recordObservations(runId: string, fence: Fence, observations: readonly Observation[]): Promise<void>;
  // The observations of these runs, oldest first.
  listObservations(runIds: readonly string[]): Promise<Observation[]>;

  // Step attempts matching the filter, newest first.
  queryAttempts(filter: HistoryFilter): Promise<AttemptRecord[]>;
  // Operator actions (started, resumed, forced, interrupted ...) matching the filter, newest first.
  queryEvents(filter: Pick<HistoryFilter, 'runId' | 'since' | 'until' | 'kind' | 'limit'>): Promise<RunEventRecord[]>;

  // The run's lease, and (when keys are given) its claim on its clusters, in one transaction.
  acquireLease(
    runId: string,
    candidate: LeaseHolder,
    staleAfterMs: number,
    isAlive: (holder: LeaseHolder) => boolean,
    keys?: readonly string[],
  ): Promise<LeaseResult>;
  heartbeat(runId: string, token: string, at: number): Promise<boolean>;
  // Lets go of the lease and the run's claims (only the holder with this token can).
  releaseLease(runId: string, token: string): Promise<void>;
  // Calls `onLost` at once if this process loses what holds the run's lease beside its row (PostgreSQL: the
  // session holding its advisory lock died), so a driver stops before its next command, not at its next
  // heartbeat. Resolves to the function that stops watching. SQLite has no such session: it never calls.
  watchLease(runId: string, onLost: (error: Error) => void): Promise<() => void>;
  // mesh-run unlock: an operator lets go of a lease whose holder is gone, if `token` still holds it. One
  // transaction: the lease and the run's claims cleared, an "unlocked" event naming who did it. 'connected':
  // the holder's database session still holds the run's lock (it is not gone), and nothing was changed.
  breakLease(runId: string, token: string, actor: Actor, at: number, detail: string): Promise<'released' | 'changed' | 'connected'>;

  // Calls `onChange` when the run changes, in this process or another (status --watch, logs --follow);
  // resolves to the function that stops watching.
  watchRun(runId: string, onChange: () => void): Promise<() => Promise<void>>;

  // A run with everything recorded about it, as stored, its snapshot in its parts (for mesh-run store copy);
  // undefined if absent.
  exportRun(runId: string): Promise<RunExport | undefined>;
  // Records an exported run under its id, in one transaction, snapshot parts and all (its rows get new ids
  // here); no lease.
  importRun(data: RunExport): Promise<void>;
}

// A run row as stored, every field raw (a damaged config or kind is copied as it is).
export interface StoredRun {
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
  // The snapshot's root part as stored: each child's snapshot a {"$part": id} reference when it has parts.
  snapshotJson: string | null;
  errorJson: string | null;
  targetRun: string | null;
  simWorld: string | null;
}

export interface RunExport {
  run: StoredRun;
  // The snapshot's parts as stored, by part id (store/snapshot-parts.ts puts them back together).
  parts: Array<{ part: string; json: string }>;
  attempts: AttemptRecord[];
  // attemptId refers to the ids in `attempts`.
  commands: CommandRecord[];
  events: RunEventRecord[];
  observations: Observation[];
}

// A store backend: the journal, the simulated worlds, and the one way to let go of both.
export interface Store {
  runs: RunStore;
  worlds: WorldStore;
  // Where it is, for messages (a path, or a URL with its password masked).
  location: string;
  close(): Promise<void>;
}
