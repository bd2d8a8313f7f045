// What a step activity may do during one attempt (its StepRuntime): every command it runs is journaled
// before it starts and after it ends, fenced by the driver's lease; its notes and reports go to the listener
// and the journal.
import type { ClusterTools, Command, RunOptions, SpawnedProcess, TokenProbe } from '../../adapters/cluster-tools.js';
import { redact } from '../../adapters/redact.js';
import type { StepId } from '../../machines/steps.js';
import type { StepInput } from '../../machines/types.js';
import type { MeshConfig } from '../../shared/model.js';
import type { AttemptRecord } from '../../store/contract.js';
import { crashPoint } from '../../store/crash-points.js';
import type { AnswerBook } from '../activities/answer-book.js';
import type { ObservationInput } from '../activities/inventory.js';
import type { ReportType, StepRuntime } from '../activities/step-runtime.js';
import type { JournalWriter } from './journal-writer.js';
import type { ProcessGroups } from './process-groups.js';
import type { RunSession } from './run-session.js';
import { waitBudget } from './wait-budget.js';

// What the journal keeps of a command whose output is secret data.
const WITHHELD_STDOUT = '(secret data, read in memory; not recorded)';

export interface RuntimeDeps {
  session: RunSession;
  journal: JournalWriter;
  tools: ClusterTools;
  config: MeshConfig;
  groups: ProcessGroups;
  answers: AnswerBook | undefined;
  // Throws when the driver lost its run or is stopping: checked right before a process starts.
  stillDriving: () => void;
}

type Base = Omit<RunOptions, 'onSpawn'> & { runId: string; leaseToken: string };

export class AttemptRuntime {
  private readonly base: Base;

  constructor(
    private readonly deps: RuntimeDeps,
    private readonly attempt: AttemptRecord,
    private readonly input: StepInput,
    private readonly signal: AbortSignal,
  ) {
    this.base = {
      signal,
      timeoutMs: deps.config.timeouts.commandMs,
      step: input.step as StepId,
      cluster: input.cluster,
      runId: deps.session.runId,
      leaseToken: deps.session.leaseToken,
    };
  }

  // The face the activity sees.
  face(): StepRuntime {
    const s = this.deps.session;
    return {
      signal: this.signal,
      now: s.now,
      note: (message, kind = 'wait') => this.note(redact(message), kind),
      observe: (o) => this.observe(o),
      report: (type, detail) => this.report(type, detail),
      run: (command) => s.track(() => this.run(command)),
      pipe: (source, sink) => s.track(() => this.pipe(source, sink)),
      presentToken: (probe) => s.track(() => this.presentToken(probe)),
    };
  }

  private note(message: string, kind: 'wait' | 'info' | 'warn'): void {
    const s = this.deps.session;
    const { attempt, input } = this;
    const budget = kind === 'wait' ? waitBudget(input.step as StepId, this.deps.config) : undefined;
    const wait = budget !== undefined ? { since: attempt.startedAt, deadline: attempt.startedAt + budget } : {};
    s.listener({ type: 'note', runId: s.runId, step: input.step, cluster: input.cluster, message, at: s.now(), kind, ...wait });
  }

  private observe(o: ObservationInput): Promise<void> {
    const s = this.deps.session;
    return this.deps.journal.journal(() => s.store.recordObservations(s.runId, s.leaseToken, [{ ...o, runId: s.runId, at: s.now() }]));
  }

  private async report(type: ReportType, detail: string): Promise<void> {
    const s = this.deps.session;
    const { step, cluster } = this.input;
    const text = redact(detail);
    if (this.deps.journal.firstReport(type, text, step, cluster)) {
      await this.deps.journal.journal(() => s.store.addEvent(s.runId, s.leaseToken, type, s.operator, s.now(), text, { step, cluster }));
    }
    this.note(text, type === 'overwrote' || type === 'deleted-preexisting' || type === 'gate-skipped' ? 'warn' : 'info');
  }

  // Each started process is journaled with its command, and remembered until it ends.
  private spawned(ids: Partial<Record<'command' | 'source' | 'sink', number>>, groups: number[]): RunOptions {
    return {
      ...this.base,
      onSpawn: (role, proc: SpawnedProcess) => {
        this.deps.groups.started(proc.pgid);
        groups.push(proc.pgid);
        const id = ids[role];
        if (id !== undefined) this.deps.session.commands.spawned(id, proc);
      },
    };
  }

  private async run(command: Command) {
    const { session: s, tools, answers } = this.deps;
    const commands = s.commands;
    const answered = this.input.step === 'preflight' ? answers?.take(command, s.now()) : undefined;
    if (answered) {
      const id = await commands.start(this.attempt.id, command, answered.startedAt);
      commands.finish(id, answered.startedAt, answered.result.exitCode, answered.result.stdout, answered.result.stderr, answered.endedAt);
      return answered.result;
    }
    const id = await commands.start(this.attempt.id, command);
    this.deps.stillDriving();
    const started = s.now();
    const groups: number[] = [];
    try {
      crashPoint('before-command');
      const result = await tools.run(command, this.spawned({ command: id }, groups)).finally(() => this.deps.groups.ended(groups));
      crashPoint('after-command');
      commands.finish(id, started, result.exitCode, command.sensitiveStdout ? WITHHELD_STDOUT : result.stdout, result.stderr);
      return result;
    } catch (error) {
      commands.finish(id, started, -1, '', error instanceof Error ? error.message : String(error));
      throw error;
    }
  }

  private async pipe(source: Command, sink: Command) {
    const { session: s, tools } = this.deps;
    const commands = s.commands;
    const [sourceId, sinkId] = await Promise.all([commands.start(this.attempt.id, source), commands.start(this.attempt.id, sink)]);
    this.deps.stillDriving();
    const started = s.now();
    const groups: number[] = [];
    try {
      crashPoint('before-command');
      const result = await tools.pipe(source, sink, this.spawned({ source: sourceId, sink: sinkId }, groups)).finally(() => this.deps.groups.ended(groups));
      crashPoint('after-command');
      commands.finish(sourceId, started, result.source.exitCode, `(stdout streamed to ${sink.tool}; not recorded)`, result.source.stderr);
      commands.finish(sinkId, started, result.sink.exitCode, result.sink.stdout, result.sink.stderr);
      return result;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      commands.finish(sourceId, started, -1, '', message);
      commands.finish(sinkId, started, -1, '', message);
      throw error;
    }
  }

  private async presentToken(probe: TokenProbe) {
    const s = this.deps.session;
    this.deps.stillDriving();
    return this.deps.tools.presentToken(probe, {
      signal: this.signal,
      timeoutMs: Math.min(this.base.timeoutMs, 30_000),
      runId: s.runId,
      leaseToken: s.leaseToken,
    });
  }
}
