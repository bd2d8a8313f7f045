// mesh-run cancel, from any process: the store tells the driver (or its heartbeat finds the request), and
// the driver stops the run.
import type { RunSession } from './run-session.js';

export class CancelWatch {
  private stopWatching: (() => Promise<void>) | undefined;
  private checking = false;

  constructor(
    private readonly session: RunSession,
    private readonly interrupt: (signal: 'cancel', cancelledBy: string) => Promise<void>,
  ) {}

  async watch(): Promise<void> {
    try {
      this.stopWatching = await this.session.store.watchRun(this.session.runId, () => void this.check());
    } catch {
      // no watcher (a store that cannot notify): the heartbeat still looks for a cancel request
    }
  }

  async stop(): Promise<void> {
    await this.stopWatching?.().catch(() => undefined);
  }

  // Stops the run when someone asked (mesh-run cancel) since this driver took it up.
  async check(): Promise<void> {
    const s = this.session;
    if (s.finished || this.checking) return;
    this.checking = true;
    try {
      const events = await s.store.listEvents(s.runId);
      const since = events.findLastIndex((e) => e.type === 'started' || e.type === 'resumed');
      const request = events.slice(since + 1).find((e) => e.type === 'cancel-requested');
      if (request) await this.interrupt('cancel', `cancelled by ${request.user ?? 'unknown'}@${request.host ?? 'unknown'}`);
    } catch {
      // an unreadable journal is the heartbeat's to report
    } finally {
      this.checking = false;
    }
  }
}
