// Waiting out another process's write lock on the journal (SQLite: one writer at a time) instead of stopping
// the run at the first busy answer. A busy write changed nothing (it could not begin its transaction), so
// trying it again is safe. Each try waits SQLite's own busy timeout; between tries the process stays
// responsive: a signal is answered, and `stop` ends the waiting.
import { StoreError } from './errors.js';

// How long one write waits in all before the run stops (resumable). Below the lease's stale time, so a
// waiting driver is never taken over. MESH_RUN_BUSY_PATIENCE_MS sets it (0 up): tests reach its end quickly.
export const BUSY_PATIENCE_MS = patience(process.env.MESH_RUN_BUSY_PATIENCE_MS);

function patience(setting: string | undefined): number {
  const ms = Number(setting);
  return setting && Number.isInteger(ms) && ms >= 0 ? ms : 20_000;
}

export async function outwaitBusy<T>(write: () => Promise<T>, stop: () => boolean = () => false, patienceMs = BUSY_PATIENCE_MS): Promise<T> {
  const deadline = Date.now() + patienceMs;
  for (let pause = 50; ; pause = Math.min(pause * 2, 500)) {
    try {
      return await write();
    } catch (error) {
      if (!(error instanceof StoreError && error.busy) || stop() || Date.now() + pause > deadline) throw error;
    }
    // Jittered, so drivers waiting on one lock do not all try again at the same instant.
    await new Promise((resolve) => setTimeout(resolve, pause / 2 + Math.random() * pause));
  }
}
