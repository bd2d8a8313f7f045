// Journals commands with group commit: every row queued in one turn of the event loop shares one
// transaction (one fsync), and a command may start only once its row is durable.
import type { Command, SpawnedProcess } from '../../adapters/cluster-tools.js';
import { redactArgv, redactedTail } from '../../adapters/redact.js';
import type { CommandFinish, CommandSpawn, NewCommand, RunStore } from '../../store/contract.js';
import type { WriteQueue } from './write-queue.js';

interface PendingStart {
  row: NewCommand;
  resolve: (id: number) => void;
  reject: (error: unknown) => void;
}

export class CommandJournal {
  private starts: PendingStart[] = [];
  private finishes: CommandFinish[] = [];
  private spawns: CommandSpawn[] = [];
  private queued = false;
  private closed = false;

  constructor(
    private readonly store: RunStore,
    private readonly writes: WriteQueue,
    private readonly runId: string,
    // The driver's lease token: every batch is written under it, so no command of a driver that lost its
    // run gets a row, and none starts without one.
    private readonly fence: () => string,
    private readonly now: () => number,
    // Called when the store refuses a batch (disk full, read-only, another driver holds the run...).
    private readonly onStoreError: (error: unknown) => void,
  ) {}

  // Resolves with the command's row id once the row is committed.
  // `at`: when it started, for a command that ran before its run was recorded (a precheck's check).
  start(attemptId: number, command: Command, at = this.now()): Promise<number> {
    if (this.closed) return Promise.reject(new Error('run is stopping'));
    return new Promise((resolve, reject) => {
      this.starts.push({
        row: {
          runId: this.runId,
          attemptId,
          tool: command.tool,
          argv: redactArgv([command.tool, ...command.args]),
          context: command.context || null,
          at,
        },
        resolve,
        reject,
      });
      this.schedule();
    });
  }

  // Records the process a command started (with the next batch), so a later driver can find it.
  spawned(id: number, process: SpawnedProcess): void {
    if (this.closed) return;
    this.spawns.push({ id, pid: process.pid, pgid: process.pgid, procStart: process.start ?? null });
    this.schedule();
  }

  // Records a command's result (redacted) with the next batch.
  finish(id: number, started: number, exitCode: number, stdout: string, stderr: string, at = this.now()): void {
    if (this.closed) return;
    this.finishes.push({ id, exitCode, durationMs: at - started, stdoutTail: redactedTail(stdout), stderrTail: redactedTail(stderr), at });
    this.schedule();
  }

  // Queues whatever is pending now as one batch; resolves once it is written (or refused).
  flush(): Promise<void> {
    // Closed: the run is over or stopping (the store may be closed too); the next resume closes what is open.
    if (this.closed) return Promise.resolve();
    const { starts, finishes, spawns } = this;
    if (starts.length === 0 && finishes.length === 0 && spawns.length === 0) return Promise.resolve();
    this.starts = [];
    this.finishes = [];
    this.spawns = [];
    return this.writes.push(async () => {
      try {
        const ids = await this.writes.persist(() =>
          this.store.journalCommands(
            this.runId,
            this.fence(),
            starts.map((s) => s.row),
            finishes,
            spawns,
          ),
        );
        for (const [i, s] of starts.entries()) s.resolve(ids[i] as number);
      } catch (error) {
        for (const s of starts) s.reject(error);
        this.onStoreError(error);
      }
    });
  }

  // No more rows: the run is over or stopping (open commands are closed by the next resume).
  close(): void {
    this.closed = true;
  }

  private schedule(): void {
    if (this.queued) return;
    this.queued = true;
    setImmediate(() => {
      this.queued = false;
      void this.flush();
    });
  }
}
