// A run ready to begin, as every run verb hands it to the CLI, and what preparing one needs whatever its kind:
// how often it polls a gateway, which clusters it claims.
import { DEFAULT_GATEWAY_POLL_MS } from '../machines/install-machine.js';
import type { MeshConfig, RunKind, RunMode } from '../shared/model.js';
import type { AttemptRecord, RunRecord, Store } from '../store/contract.js';
import { KINDS } from './kinds/registry.js';
import type { RunDriver, RunOutcome } from './runtime/run-driver.js';

// The gateway wait polls once a second; a time-scaled simulation polls proportionally faster.
export function pollFor(timeScale: number | undefined): number {
  return timeScale === undefined ? DEFAULT_GATEWAY_POLL_MS : Math.max(5, Math.round(DEFAULT_GATEWAY_POLL_MS * timeScale));
}

// How a run ended, with its row and attempts as they stand at the end (none when the journal failed).
export interface FinishedRun {
  outcome: RunOutcome;
  run: RunRecord | undefined;
  attempts: AttemptRecord[];
  // A run that succeeded although an --inject-failure it was given never fired: one line per fault.
  unfiredFaults?: string[];
  // What the run left undone on purpose and the operator must know (a token kept valid): one line each.
  caveats?: string[];
}

export interface PreparedRun {
  // The run as it stood when prepared (a resumed run: before it resumed).
  run: RunRecord;
  // For signals: interrupt the run, or kill its tool processes at once.
  driver: RunDriver;
  // Set when resume --force accepted a changed or missing config file.
  forcedDetail?: string;
  // What the precheck found that does not block the run (a real install), for the operator to read.
  warnings?: string[];
  // Drives the run to its end (start, or resume from its saved state).
  begin(): Promise<FinishedRun>;
  close(): Promise<void>;
}

// A prepared run: begin() drives it to its end and reads back how it ended, so no caller reads the store
// after the driver let go of it.
export function prepared(
  store: Store,
  run: RunRecord,
  driver: RunDriver,
  drive: () => Promise<RunOutcome>,
  forcedDetail?: string,
  warnings: string[] = [],
): PreparedRun {
  return {
    run,
    driver,
    ...(forcedDetail ? { forcedDetail } : {}),
    ...(warnings.length > 0 ? { warnings } : {}),
    async begin() {
      const outcome = await drive();
      // A journal that refused a write is not read again: the outcome says what happened.
      if (outcome.storeError) return { outcome, run: undefined, attempts: [] };
      const [ended, attempts, events] = await Promise.all([store.runs.getRun(run.id), store.runs.listAttempts(run.id), store.runs.listEvents(run.id)]);
      const caveats = events.filter((e) => e.type === 'kept-valid').map((e) => e.detail ?? '');
      return { outcome, run: ended, attempts, ...(caveats.length > 0 ? { caveats } : {}) };
    },
    close: () => store.close(),
  };
}

// The clusters a run claims while it is driven: real kube contexts, or the simulated world it acts on. A kind
// that only reads them (a drift check) claims none.
export function clusterKeys(kind: RunKind, mode: RunMode, config: MeshConfig, world: string): string[] {
  if (KINDS[kind].readsOnly) return [];
  return mode === 'dry-run' ? [`world:${world}`] : config.clusters.map((c) => `context:${c.context}`);
}
