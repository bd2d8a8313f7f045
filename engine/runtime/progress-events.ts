// Events the engine reports while a run moves; renderers (TTY, lines, NDJSON) subscribe to them.
import type { StepId } from '../../machines/steps.js';
import type { RunStatus } from '../../shared/model.js';

export type ProgressEvent =
  | {
      type: 'run';
      runId: string;
      status: RunStatus | 'resumed' | 'started';
      at: number;
      mode: 'dry-run' | 'real';
      // On start and resume: the mesh as mesh-run derived it ("mixed: 2 primaries, 3 remotes, 2 networks").
      mesh?: string;
      error?: { message: string; hint?: string; step?: string; cluster?: string };
    }
  | {
      type: 'step';
      runId: string;
      step: StepId;
      cluster: string;
      status: 'running' | 'succeeded' | 'failed' | 'retrying';
      attempt: number;
      at: number;
      error?: { message: string; hint?: string };
      retryInMs?: number;
    }
  | {
      type: 'note';
      runId: string;
      step: StepId;
      cluster: string;
      message: string;
      at: number;
      kind?: 'wait' | 'info' | 'warn';
      // A wait: when its attempt started waiting, and when it gives up (absent: no deadline of its own).
      since?: number;
      deadline?: number;
    };

export type ProgressListener = (event: ProgressEvent) => void;
