// drift --watch --repair: the repair a watch makes when it finds drift. The same run mesh-run repair starts
// (repair-service.ts: a fresh check, then a run of kind repair), driven to its end here without a display.
// The run's claim on the mesh's clusters is what keeps two watchers (or a watcher and an operator) from
// repairing one mesh at once: the second is refused "busy" before it records anything, and tries next interval.
import { ALL_CLUSTERS, slotLabel } from '../machines/steps.js';
import { PreconditionError } from '../shared/errors.js';
import type { StoreLocation } from './composition.js';
import type { DriftReport } from './drift-service.js';
import { watchError } from './drift-watch.js';
import type { DriftWatchDeps, RepairAttempt } from './drift-watch-model.js';
import type { PreparedRun } from './prepared-run.js';
import { checkRepair, prepareRepair, REPAIRED_KINDS, type RepairRequest } from './repair-service.js';

export interface WatchRepairer {
  repair: NonNullable<DriftWatchDeps['repair']>;
  // The user insisted (a second signal): the running repair's tool processes are killed at once.
  killChildren(): void;
}

const REPAIRED: ReadonlySet<string> = new Set(REPAIRED_KINDS);

export function watchRepairer(target: { meshRef: string; store: StoreLocation }): WatchRepairer {
  let current: PreparedRun | undefined;
  return {
    killChildren: () => current?.driver.killChildren(),
    async repair(report: DriftReport, signal: AbortSignal, started: (run: string, repairs: string[]) => void): Promise<RepairAttempt> {
      // Drift this version does not repair is said by the watch, and left to the operator: no second check for it.
      if (!report.drift.some((d) => REPAIRED.has(d.kind)) || signal.aborted) return { status: 'nothing' };
      const request: RepairRequest = { meshRef: target.meshRef, dryRun: false, injections: [], store: target.store };
      // Checked again: another watcher may have repaired it since this watch's check.
      const decision = await checkRepair(request);
      if (decision.repairs.length === 0 || signal.aborted) return { status: 'nothing' };
      let prepared: PreparedRun;
      try {
        prepared = await prepareRepair(request, decision);
      } catch (error) {
        if (error instanceof PreconditionError && error.code === 'clusters-busy') return { status: 'busy', message: error.message };
        throw error;
      }
      const run = prepared.run.id;
      const repairs = decision.repairs.map((r) => `${r.kind}@${r.cluster}${r.source ? ` (${r.source}'s secret)` : ''}${r.secret ? ` (${r.secret})` : ''}`);
      current = prepared;
      const interrupt = () => void prepared.driver.interrupt(signal.reason === 'SIGTERM' ? 'SIGTERM' : 'SIGINT');
      try {
        started(run, repairs);
        const driven = prepared.begin();
        signal.addEventListener('abort', interrupt, { once: true });
        if (signal.aborted) interrupt();
        const { outcome } = await driven;
        if (outcome.storeError) return { status: 'failed', run, repairs, error: watchError(outcome.storeError) };
        const status = outcome.status === 'succeeded' || outcome.status === 'interrupted' ? outcome.status : 'failed';
        const e = outcome.error;
        const where = e?.step ? ` at ${slotLabel(e.step, e.cluster ?? ALL_CLUSTERS)}` : '';
        return {
          status,
          run,
          repairs,
          ...(e ? { error: { code: `run-${status}`, message: `${e.message}${where}`, ...(e.hint ? { hint: e.hint } : {}) } } : {}),
        };
      } finally {
        signal.removeEventListener('abort', interrupt);
        current = undefined;
        await prepared.close();
      }
    },
  };
}
