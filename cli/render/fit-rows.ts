// The rows of the live display, fitted to the terminal's height. A block taller than the screen cannot be
// redrawn in place (the cursor cannot move above the top row), so every frame would scroll into the
// scrollback. When the slots do not fit: clusters whose steps all finished become one line, then clusters
// that have not started another; if that is still too tall, the rows that say least (finished, then not
// started) give way to a line that counts them. Running and failed rows stay as long as there is room.
import { ALL_CLUSTERS } from '../../engine/types.js';

export interface FitSlot {
  step: string;
  cluster: string;
  status: 'pending' | 'running' | 'succeeded' | 'failed' | 'retrying';
}

// A group of clusters summed up: their names (a mesh-wide step stands for itself) and how many steps.
export interface GroupRow {
  group: 'finished' | 'pending';
  names: string[];
  steps: number;
}

// The rows left out at the last resort, counted.
export interface MoreRow {
  more: number;
  finished: number;
  pending: number;
}

export type FittedRow<T extends FitSlot> = T | GroupRow | MoreRow;

export function isGroupRow<T extends FitSlot>(row: FittedRow<T>): row is GroupRow {
  return 'group' in row;
}

export function isMoreRow<T extends FitSlot>(row: FittedRow<T>): row is MoreRow {
  return 'more' in row;
}

const label = (s: FitSlot) => (s.cluster === ALL_CLUSTERS ? s.step : s.cluster);

// Slots in display order, at most `height` rows out.
export function fitRows<T extends FitSlot>(slots: readonly T[], height: number): Array<FittedRow<T>> {
  if (slots.length <= height) return [...slots];
  const limit = Math.max(1, height);
  const clusters = new Map<string, T[]>();
  for (const s of slots) {
    // A mesh-wide step is a group of its own: it finishes (or not) on its own.
    const key = s.cluster === ALL_CLUSTERS ? `*${s.step}` : s.cluster;
    clusters.set(key, [...(clusters.get(key) ?? []), s]);
  }
  const groupOf = (status: FitSlot['status']) => [...clusters.values()].filter((members) => members.every((s) => s.status === status));
  const summary = (group: GroupRow['group'], members: T[][]): GroupRow[] =>
    members.length === 0 ? [] : [{ group, names: members.map((m) => label(m[0] as T)), steps: members.reduce((n, m) => n + m.length, 0) }];

  const finished = groupOf('succeeded');
  const folded = new Set(finished.flat());
  const head = summary('finished', finished);
  let rows = slots.filter((s) => !folded.has(s));
  if (head.length + rows.length <= limit) return [...head, ...rows];

  const pending = groupOf('pending');
  for (const s of pending.flat()) folded.add(s);
  const tail = summary('pending', pending);
  rows = rows.filter((s) => !folded.has(s));
  if (head.length + rows.length + tail.length <= limit) return [...head, ...rows, ...tail];

  // Still too tall: keep the rows that say most, in their order, and count the others.
  const budget = limit - head.length - tail.length - 1;
  if (budget < 1) return [...head, ...tail, ...rows].slice(0, limit);
  const rank = (s: T) => (s.status === 'succeeded' ? 2 : s.status === 'pending' ? 1 : 0);
  const kept = new Set(
    rows
      .map((s, i) => ({ s, i }))
      .sort((a, b) => rank(a.s) - rank(b.s) || a.i - b.i)
      .slice(0, budget)
      .map(({ s }) => s),
  );
  const dropped = rows.filter((s) => !kept.has(s));
  const more: MoreRow = {
    more: dropped.length,
    finished: dropped.filter((s) => s.status === 'succeeded').length,
    pending: dropped.filter((s) => s.status === 'pending').length,
  };
  return [...head, ...rows.filter((s) => kept.has(s)), more, ...tail];
}
