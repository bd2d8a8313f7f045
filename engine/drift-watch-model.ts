// What drift --watch says and what it is given: the changes between two checks, the events a watch emits, what
// a repair attempt came to, and the loop's dependencies (drift-watch.ts runs the loop; drift-watch-repair.ts is
// the real repair). Types only, so the loop, the repair and the CLI share them without importing each other.
import type { DriftItem, DriftReport, UnreadCluster } from './drift-service.js';

// One difference between two checks of a mesh. A drift is the same drift while its kind, cluster and (for a
// remote secret) source and secret stay the same, whatever its wording says (an address that moved again is
// still the one drift).
export type DriftChange =
  | { type: 'drift-found'; item: DriftItem }
  | { type: 'drift-gone'; item: DriftItem }
  | { type: 'unreadable'; cluster: UnreadCluster }
  | { type: 'readable'; cluster: string; context: string };

export interface WatchError {
  code: string;
  message: string;
  hint?: string;
}

// A repair the watch tried: nothing left to repair once checked again, the mesh's clusters held by another run,
// refused before any run started (a precondition, a store problem), or a run and how it ended.
export type RepairAttempt =
  | { status: 'nothing' }
  | { status: 'busy'; message: string }
  | { status: 'refused'; error: WatchError }
  | { status: 'succeeded' | 'failed' | 'interrupted'; run: string; repairs: string[]; error?: WatchError };

// Everything a watch says, in order. `at` is when it was seen (ISO); `mesh` is the mesh's name.
export type WatchEvent = { at: string; mesh: string } & (
  | DriftChange
  // After the first check: how the mesh stands now (the drifts and unreadable clusters are listed before it).
  | { type: 'watching'; intervalMs: number; repair: boolean; drift: number; unreadable: number; clusters: string[] }
  | { type: 'check-failed'; error: WatchError }
  | { type: 'check-recovered' }
  | { type: 'record-failed'; error: WatchError }
  | { type: 'repair-started'; run: string; repairs: string[] }
  | { type: 'repair-ended'; run: string; status: 'succeeded' | 'failed' | 'interrupted'; error?: WatchError }
  | { type: 'repair-busy'; message: string }
  | { type: 'repair-refused'; error: WatchError }
);

export interface DriftWatchDeps {
  // One drift check of the mesh (drift-service's checkDrift).
  check(): Promise<DriftReport>;
  // Called with a check whose result differs from the last one (and with the first): where the lead journals
  // the check (recordDriftCheck). Not called for a check that found what the last one found: see drift-watch.ts.
  onChange?(report: DriftReport, changes: readonly DriftChange[]): Promise<void>;
  // Puts back what `report` found that a repair run repairs (absent: the watch only watches). `started` is
  // called once the run is recorded; `signal` aborting interrupts the run (resumable, as any run).
  repair?(report: DriftReport, signal: AbortSignal, started: (run: string, repairs: string[]) => void): Promise<RepairAttempt>;
  // Waits `ms`; rejects when `signal` aborts.
  sleep(ms: number, signal: AbortSignal): Promise<void>;
  now(): number;
  emit(event: WatchEvent): void;
}

export interface DriftWatchOptions {
  intervalMs: number;
  signal: AbortSignal;
  // Stop after this many checks (tests; absent: until the signal aborts).
  maxChecks?: number;
}

// How a watch ended: how many checks it made, the repair runs it started, and a repair run the stop interrupted
// (resumable with mesh-run resume).
export interface DriftWatchSummary {
  checks: number;
  repairs: number;
  interruptedRun?: string;
}
