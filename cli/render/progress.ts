// Progress of a run on stderr: a live block on a terminal, one line per transition otherwise, NDJSON with --json.

import type { ProgressEvent, ProgressListener } from '../../engine/types.js';
import { type StepId, slotLabel } from '../../engine/types.js';
import { formatDuration } from '../../shared/durations.js';
import { count } from '../../shared/words.js';
import { painter } from '../output.js';
import { fitRows, isGroupRow, isMoreRow } from './fit-rows.js';

export type ProgressMode = 'live' | 'lines' | 'ndjson' | 'quiet';

interface SlotState {
  step: StepId;
  cluster: string;
  status: 'pending' | 'running' | 'succeeded' | 'failed' | 'retrying';
  attempt: number;
  startedAt?: number;
  endedAt?: number;
  note?: string;
  // A wait with a deadline: redrawn with the time waited and left.
  since?: number;
  deadline?: number;
  error?: string;
}

export interface ProgressRenderer {
  listener: ProgressListener;
  stop(): void;
}

// Picks live rendering only for a real terminal with a width (some ptys report 0 columns).
export function progressMode(stream: NodeJS.WriteStream, json: boolean, quiet: boolean): ProgressMode {
  if (json) return 'ndjson';
  if (quiet) return 'quiet';
  return stream.isTTY && (stream.columns ?? 0) > 0 ? 'live' : 'lines';
}

const clock = (at: number) => new Date(at).toISOString().slice(11, 19);

// "waited 1m 5s; gives up at 12:34:56, in 3m 55s"
function waited(wait: { since?: number | undefined; deadline?: number | undefined; at: number }, now: number): string {
  const since = wait.since ?? wait.at;
  const deadline = wait.deadline as number;
  return `waited ${formatDuration(Math.max(0, now - since))}; gives up at ${clock(deadline)}, in ${formatDuration(Math.max(0, deadline - now))}`;
}
const label = slotLabel;

// What an event changes in the live block's rows.
function applyEvent(states: Map<string, SlotState>, event: ProgressEvent): void {
  if (event.type === 'run') return;
  const key = label(event.step, event.cluster);
  const state = states.get(key) ?? { step: event.step, cluster: event.cluster, status: 'pending', attempt: 0 };
  states.set(key, state);
  if (event.type === 'note') {
    state.note = event.message;
    if (event.deadline !== undefined) {
      state.deadline = event.deadline;
      state.since = event.since ?? event.at;
    }
    return;
  }
  state.status = event.status;
  state.attempt = Math.max(state.attempt, event.attempt);
  if (event.status === 'running') {
    state.startedAt = event.at;
    delete state.endedAt;
    delete state.error;
    delete state.note;
    delete state.deadline;
  } else if (event.status === 'retrying') {
    state.error = `${event.error?.message ?? ''} (retry in ${formatDuration(event.retryInMs ?? 0)})`;
  } else {
    state.endedAt = event.at;
    delete state.note;
    if (event.error) state.error = event.error.message;
  }
}

type Painter = ReturnType<typeof painter>;

function symbol(paint: Painter, s: SlotState, frame: number): string {
  switch (s.status) {
    case 'succeeded':
      return paint('green', '✔');
    case 'failed':
      return paint('red', '✖');
    case 'running':
    case 'retrying':
      return paint('cyan', ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'][frame % 10] as string);
    default:
      return paint('dim', '·');
  }
}

// The plain line an event prints (lines mode, and after the live block stopped); undefined: none.
function lineOf(paint: Painter, states: ReadonlyMap<string, SlotState>, lastNote: Map<string, number>, event: ProgressEvent): string | undefined {
  if (event.type === 'run') {
    const text =
      event.status === 'started' || event.status === 'resumed'
        ? `run ${event.runId} ${event.status} (${event.mode}${event.mesh ? `; ${event.mesh}` : ''})`
        : `run ${event.runId} ${event.status}`;
    return `${clock(event.at)} ${text}\n`;
  }
  const key = label(event.step, event.cluster);
  if (event.type === 'note' && event.kind === 'warn') {
    return `${clock(event.at)} ${paint('yellow', 'warning:')} ${key}: ${event.message}\n`;
  }
  if (event.type === 'note' && event.kind === 'info') {
    return `${clock(event.at)} ${key}: ${event.message}\n`;
  }
  if (event.type === 'note') {
    // A wait says so once, then once a minute (not on every probe), with how long it has waited and
    // when it gives up.
    const previous = lastNote.get(key);
    if (previous !== undefined && event.at - previous < 60_000) return undefined;
    lastNote.set(key, event.at);
    const started = event.since ?? states.get(key)?.startedAt ?? event.at;
    const how = event.deadline !== undefined ? waited(event, event.at) : formatDuration(event.at - started);
    return `${clock(event.at)} ${key} waiting: ${event.message} (${how})\n`;
  }
  const state = states.get(key);
  if (event.status === 'running') return `${clock(event.at)} ${key} started (attempt ${event.attempt})\n`;
  if (event.status === 'succeeded')
    return `${clock(event.at)} ${key} ${paint('green', 'succeeded')} in ${formatDuration(event.at - (state?.startedAt ?? event.at))}\n`;
  if (event.status === 'retrying')
    return `${clock(event.at)} ${key} ${paint('yellow', 'attempt failed')}, retrying in ${formatDuration(event.retryInMs ?? 0)}: ${event.error?.message ?? ''}\n`;
  return `${clock(event.at)} ${key} ${paint('red', 'failed')}: ${event.error?.message ?? ''}\n`;
}

export function createProgressRenderer(
  stream: NodeJS.WriteStream,
  mode: ProgressMode,
  slots: ReadonlyArray<{ step: StepId; cluster: string }>,
): ProgressRenderer {
  const paint = painter(stream);
  const states = new Map<string, SlotState>(slots.map((s) => [label(s.step, s.cluster), { ...s, status: 'pending', attempt: 0 }]));
  const lastNote = new Map<string, number>();
  let drawnLines = 0;
  let timer: NodeJS.Timeout | undefined;

  let frame = 0;
  let stopped = false;
  // Every row is cut to the terminal's width, so one row of text is one row on screen and the block
  // can be redrawn by moving up exactly the rows it drew.
  // Never more rows than the terminal has, less the one the cursor rests on (see fit-rows.ts).
  const draw = () => {
    const width = Math.max(1, (stream.columns ?? 100) - 1);
    const height = stream.rows ? Math.max(1, stream.rows - 1) : Number.POSITIVE_INFINITY;
    const now = Date.now();
    const lines = fitRows([...states.values()], height).map((s) => {
      if (isGroupRow(s)) {
        const what = `${s.names.join(', ')} (${count(s.steps, 'step')})`;
        return fitWidth(s.group === 'finished' ? `${paint('green', '✔')} finished: ${what}` : `${paint('dim', '·')} not started: ${what}`, width);
      }
      if (isMoreRow(s)) {
        const active = s.more - s.finished - s.pending;
        const parts = [
          ...(active > 0 ? [`${active} running or failed`] : []),
          ...(s.finished > 0 ? [`${s.finished} finished`] : []),
          ...(s.pending > 0 ? [`${s.pending} not started`] : []),
        ];
        return fitWidth(paint('dim', `… ${count(s.more, 'more step')}: ${parts.join(', ')}`), width);
      }
      const elapsed = s.startedAt ? formatDuration((s.endedAt ?? now) - s.startedAt) : '';
      const note =
        s.note && s.deadline !== undefined && s.status === 'running' ? `${s.note} (${waited({ at: now, since: s.since, deadline: s.deadline }, now)})` : s.note;
      const extra = s.status === 'failed' || s.status === 'retrying' ? paint('red', s.error ?? '') : note ? paint('dim', note) : '';
      const attempt = s.attempt > 1 ? paint('yellow', ` (attempt ${s.attempt})`) : '';
      return fitWidth(`${symbol(paint, s, frame)} ${label(s.step, s.cluster).padEnd(36)} ${elapsed.padStart(7)}${attempt} ${extra}`, width);
    });
    // Back to column 1 first: the terminal may have echoed something (^C) where the cursor was.
    let out = drawnLines > 0 ? `\r\x1b[${drawnLines}A` : '';
    for (const line of lines) out += `\x1b[2K${line}\n`;
    // A frame shorter than the last (rows were summed up) clears what the last one left below it.
    if (lines.length < drawnLines) out += '\x1b[0J';
    stream.write(out);
    drawnLines = lines.length;
    frame++;
  };

  // A line that must stay on screen (a warning): written above the live block, which is drawn again below it.
  const above = (text: string) => {
    let out = drawnLines > 0 ? `\r\x1b[${drawnLines}A\x1b[0J` : '';
    out += `${text}\n`;
    stream.write(out);
    drawnLines = 0;
    draw();
  };

  const listener: ProgressListener = (event) => {
    if (mode === 'quiet') return;
    if (mode === 'ndjson') {
      stream.write(`${JSON.stringify(event)}\n`);
      return;
    }
    // Once stopped (the run ends, or a signal message is about to be printed), events are plain lines.
    if (mode === 'lines' || stopped) {
      const text = lineOf(paint, states, lastNote, event);
      if (text !== undefined) stream.write(text);
    }
    applyEvent(states, event);
    if (mode === 'lines' || stopped) return;
    if (event.type === 'note' && event.kind === 'warn') {
      above(`${paint('yellow', 'warning:')} ${label(event.step, event.cluster)}: ${event.message}`);
      return;
    }
    if (!timer) {
      timer = setInterval(draw, 120);
      timer.unref();
    }
    draw();
  };

  return {
    listener,
    stop() {
      if (stopped) return;
      stopped = true;
      if (timer) clearInterval(timer);
      timer = undefined;
      if (mode === 'live' && drawnLines > 0) draw();
    },
  };
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: it matches terminal escape sequences, which start with ESC
const ANSI = /\x1b\[[0-9;]*[A-Za-z]/y;

// Cuts `text` to `width` visible characters, keeping colour codes whole and closing any left open.
export function fitWidth(text: string, width: number): string {
  let out = '';
  let visible = 0;
  for (let i = 0; i < text.length; ) {
    ANSI.lastIndex = i;
    const code = ANSI.exec(text);
    if (code) {
      out += code[0];
      i += code[0].length;
      continue;
    }
    const char = String.fromCodePoint(text.codePointAt(i) as number);
    if (visible === width) return `${out}\x1b[0m`;
    out += char;
    visible++;
    i += char.length;
  }
  return out;
}
