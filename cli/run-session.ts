// Runs any run verb (install, verify, uninstall, cluster add and remove, secrets rotate, upgrade and its
// rollback, resume) to its end: progress, the run-id line, signals, the final report and exit code, and the
// store closed whatever happens.

import { runSummary, runView, slotsOfRun, slotViews } from '../engine/query-api.js';
import type { FinishedRun, PreparedRun, ProgressListener, RunRecord } from '../engine/types.js';
import { ALL_CLUSTERS, slotLabel } from '../engine/types.js';
import { ExitCode } from '../shared/errors.js';
import { type CommonOptions, resumeHint } from './common.js';
import { ExitRequest } from './exit.js';
import { painter, type Streams } from './output.js';
import { createProgressRenderer, type ProgressRenderer, progressMode } from './render/progress.js';

interface SessionOptions {
  json: boolean;
  streams: Streams;
  progress: ProgressRenderer;
  // How a person would type the resume command for this database.
  resumeHint: (runId: string) => string;
}

export interface RunVerbOptions extends CommonOptions {
  quiet?: boolean;
}

// Prepares the run (every check happens there, before anything is written), then drives it with a
// progress display over its steps; `headline` is the line that names the run on stdout.
export async function runVerb(
  streams: Streams,
  options: RunVerbOptions,
  prepare: (listener: ProgressListener) => Promise<PreparedRun>,
  headline: (run: RunRecord) => string,
): Promise<void> {
  const json = Boolean(options.json);
  let progress: ProgressRenderer | undefined;
  const prepared = await prepare((event) => progress?.listener(event));
  try {
    progress = createProgressRenderer(streams.stderr, progressMode(streams.stderr, json, Boolean(options.quiet)), slotsOfRun(prepared.run));
    if (!json) streams.stdout.write(`${headline(prepared.run)}\n`);
    const paint = painter(streams.stderr);
    if (!json && !options.quiet) for (const w of prepared.warnings ?? []) streams.stderr.write(`${paint('yellow', 'warning:')} ${w}\n`);
    await runSession(prepared, { json, streams, progress, resumeHint: resumeHint(options) });
  } finally {
    await prepared.close();
  }
}

async function runSession(prepared: PreparedRun, options: SessionOptions): Promise<void> {
  const { streams } = options;
  let signalled: 'SIGINT' | 'SIGTERM' | undefined;
  let leaveNow!: (request: ExitRequest) => void;
  const abandoned = new Promise<never>((_, reject) => {
    leaveNow = reject;
  });
  const onSignal = (signal: 'SIGINT' | 'SIGTERM') => {
    if (signalled) {
      // A second Ctrl-C: the user insists. Kill the tool processes at once and leave (the entry point
      // exits); the journal already says "interrupted", or the next resume takes the run over.
      prepared.driver.killChildren();
      leaveNow(new ExitRequest(signal === 'SIGINT' ? ExitCode.sigint : ExitCode.sigterm));
      return;
    }
    signalled = signal;
    // The live display stops first, so it never draws over this line.
    options.progress.stop();
    if (!options.json) streams.stderr.write(`${signal} received: stopping child processes and saving the run...\n`);
    void prepared.driver.interrupt(signal);
  };
  const sigint = () => onSignal('SIGINT');
  const sigterm = () => onSignal('SIGTERM');
  process.on('SIGINT', sigint);
  process.on('SIGTERM', sigterm);
  const driven = prepared.begin();
  // Abandoned on a second signal, the run's end is nobody's business any more.
  driven.catch(() => undefined);
  let finished: FinishedRun;
  try {
    finished = await Promise.race([driven, abandoned]);
  } finally {
    process.off('SIGINT', sigint);
    process.off('SIGTERM', sigterm);
    options.progress.stop();
  }
  const { outcome, run, attempts, unfiredFaults = [], caveats = [] } = finished;
  if (outcome.storeError) throw outcome.storeError;
  const runId = prepared.run.id;
  let exitCode: number =
    outcome.status === 'succeeded'
      ? ExitCode.ok
      : outcome.status === 'interrupted'
        ? signalled === 'SIGTERM'
          ? ExitCode.sigterm
          : ExitCode.sigint
        : ExitCode.runFailed;
  // A fault that never fired was bad input only the run could find out (injected faults exist on simulated
  // clusters only, so exit 2 still means no real cluster changed).
  if (unfiredFaults.length > 0) exitCode = ExitCode.usage;
  if (options.json) {
    const view = run ? runView(run, attempts, Date.now(), () => false) : undefined;
    const doc = {
      ok: exitCode === ExitCode.ok,
      run: view,
      ...(unfiredFaults.length > 0 ? { unfiredFaults } : {}),
      ...(caveats.length > 0 ? { caveats } : {}),
      steps: run ? slotViews(run, attempts) : [],
      ...(outcome.status !== 'succeeded' ? { resume: options.resumeHint(runId) } : {}),
    };
    streams.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  } else {
    const paint = painter(streams.stderr);
    if (outcome.status === 'succeeded') {
      streams.stdout.write(`${paint('green', '✔')} ${run ? runSummary(run, caveats.length) : 'done'} (run ${runId})\n`);
      for (const line of caveats) streams.stderr.write(`${paint('yellow', '!')} ${line}\n`);
      for (const line of unfiredFaults) streams.stderr.write(`${paint('red', '✖')} ${line}\n`);
      if (unfiredFaults.length > 0)
        streams.stderr.write(
          `  hint: the run succeeded without it, and no later run will meet it; name a step and cluster or wave the run reaches ("mesh-run status ${runId}" lists them)\n`,
        );
    } else {
      const error = outcome.error;
      const where = error?.step ? ` at ${slotLabel(error.step, error.cluster ?? ALL_CLUSTERS)}` : '';
      streams.stderr.write(`${paint('red', '✖')} run ${runId} ${outcome.status}${where}: ${error?.message ?? ''}\n`);
      if (error?.hint) streams.stderr.write(`  hint: ${error.hint}\n`);
      streams.stderr.write(`  continue with: ${options.resumeHint(runId)}\n`);
    }
  }
  throw new ExitRequest(exitCode);
}
