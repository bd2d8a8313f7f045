// Holds a run's lease for its driver: takes it, beats, watches it (a lost PostgreSQL lock session), lets it
// go; and stops the driver when the journal refuses a write or another driver holds the run (fenced).
import { FencedError, StoreError } from '../../shared/errors.js';
import type { ErrorInfo, LeaseHolder } from '../../store/contract.js';
import type { CancelWatch } from './cancel-watch.js';
import { takeLease } from './lease-claim.js';
import type { RunSession } from './run-session.js';
import { takeoverReport } from './takeover-report.js';

export interface LeaseTerms {
  // The lease (and the clusters) were taken with the run's creation, in one transaction.
  preClaimed: boolean;
  // The holder the run's creation replaced, journaled once the driver starts.
  tookOverFrom: LeaseHolder | undefined;
  claimKeys: readonly string[];
  leaseStaleMs: number;
  heartbeatMs: number;
}

export class LeaseKeeper {
  private claimed = false;
  private heartbeat: NodeJS.Timeout | undefined;
  private stopLeaseWatch: (() => void) | undefined;
  // Set once a write found the run held by another driver (or ended): nothing more is written or run.
  private fenced: FencedError | undefined;

  constructor(
    private readonly session: RunSession,
    private readonly terms: LeaseTerms,
    private readonly cancel: CancelWatch,
  ) {}

  // Takes the run's lease and its claim on its clusters (exit 3 when a live process holds either);
  // start and resume do it if not done yet.
  async claim(): Promise<void> {
    const s = this.session;
    if (this.claimed) return;
    this.claimed = true;
    let tookOverFrom = this.terms.tookOverFrom;
    if (!this.terms.preClaimed) {
      try {
        const taken = await takeLease(s.store, s.runId, s.operator, this.terms.claimKeys, s.now(), this.terms.leaseStaleMs);
        s.leaseToken = taken.token;
        tookOverFrom = taken.tookOverFrom;
      } catch (error) {
        this.claimed = false;
        throw error;
      }
    }
    // From here on, every write and every command of this driver is fenced by its token.
    if (tookOverFrom) {
      const h = tookOverFrom;
      await s.store.addEvent(s.runId, s.leaseToken, 'lease-taken-over', s.operator, s.now(), `from pid ${h.pid} on ${h.host} (user ${h.user})`);
    }
    // A lost lock session (PostgreSQL) stops the run at once, before its next command.
    this.stopLeaseWatch = await s.store.watchLease(s.runId, (error) => this.storeFailed(error instanceof StoreError ? error : new StoreError(error.message)));
    let beaten = s.now();
    this.heartbeat = setInterval(() => {
      if (s.finished) return;
      const at = s.now();
      s.store.heartbeat(s.runId, s.leaseToken, at).then(
        (held) => {
          if (!held) void this.leaseGone();
          beaten = at;
        },
        (error) => {
          // A beat that met another writer's lock is tried again with the next; only a lease near going stale stops the run.
          if (error instanceof StoreError && error.busy && at - beaten < this.terms.leaseStaleMs / 2) return;
          this.storeFailed(error);
        },
      );
      void this.cancel.check();
    }, this.terms.heartbeatMs);
    this.heartbeat.unref();
    await this.cancel.watch();
  }

  async endLease(): Promise<void> {
    const s = this.session;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.stopLeaseWatch?.();
    await this.cancel.stop();
    // A fenced driver holds nothing to let go of (its lock session, if any, is closed with the store).
    if (this.fenced) return;
    try {
      await s.store.releaseLease(s.runId, s.leaseToken);
    } catch {
      // an unwritable journal: the lease goes stale by itself and the next resume takes it over
    }
  }

  // Right before a process starts (its row is in): a driver that lost its run, or is stopping, starts nothing.
  stillDriving(): void {
    if (this.fenced) throw this.fenced;
    if (this.session.closing) throw new Error('run is stopping');
  }

  // The journal refused a write. The run stops where the last committed snapshot left it (no step is blamed
  // for the journal), is marked interrupted if the journal takes that one write, and says which it is.
  storeFailed(error: unknown): void {
    const s = this.session;
    if (error instanceof FencedError) {
      this.fencedOut(error);
      return;
    }
    if (s.finished) return;
    if (!(error instanceof StoreError)) throw error;
    s.writes.close(error);
    s.finished = true;
    s.closing = true;
    s.commands.close();
    s.actor?.stop();
    void this.stopForStore(error);
  }

  private async stopForStore(error: StoreError): Promise<void> {
    const s = this.session;
    const at = s.now();
    let recorded = 'it is still recorded as running';
    // A busy database would make this write wait as long again: stop now, the next resume takes over. Else
    // try a few times: connections that died under a paused process are replaced by fresh ones, and the
    // write may learn that another driver took the run over meanwhile.
    for (let tries = 1; !error.busy && tries <= 3; tries++) {
      try {
        await s.store.endRun(s.runId, s.leaseToken, 'interrupted', s.operator, at, { message: `stopped: ${error.message}` }, 'the journal refused a write');
        recorded = 'it is recorded as interrupted';
        break;
      } catch (refused) {
        // Another driver took the run over meanwhile (a lost lock session lets it): theirs to record.
        if (refused instanceof FencedError) {
          this.fencedOut(refused);
          return;
        }
        // the journal still refuses: the lease goes stale with this process, and resume takes the run over
        if (!(refused instanceof StoreError) || refused.busy) break;
        await new Promise((resolve) => setTimeout(resolve, 100 * tries));
      }
    }
    await this.endLease();
    const stopped = storeStopped(s.runId, error, recorded);
    const info: ErrorInfo = { message: stopped.message, ...(stopped.hint ? { hint: stopped.hint } : {}) };
    s.conclude('interrupted', at, info, stopped);
  }

  // The heartbeat found the lease held by another token (or by none): another driver took the run over, or
  // an operator unlocked it.
  private async leaseGone(): Promise<void> {
    const s = this.session;
    if (this.fenced) return;
    let found: FencedError;
    try {
      const run = await s.store.getRun(s.runId);
      const holder = run?.lease && run.lease.token !== s.leaseToken ? run.lease : null;
      found = new FencedError(s.runId, holder, run?.status ?? 'gone');
    } catch {
      found = new FencedError(s.runId, null, 'unknown');
    }
    this.fencedOut(found);
  }

  // Another driver holds the run now (or it ended and let go): stop every command in flight, issue nothing
  // more and write nothing more, not even this driver's own attempts (they may be the new holder's now).
  fencedOut(error: FencedError): void {
    const s = this.session;
    if (this.fenced) return;
    this.fenced = error;
    s.finished = true;
    s.closing = true;
    s.writes.close(error);
    s.commands.close();
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.stopLeaseWatch?.();
    s.actor?.stop();
    void this.leaveFenced(error);
  }

  private async leaveFenced(error: FencedError): Promise<void> {
    const s = this.session;
    await this.cancel.stop();
    // The stopped steps' commands end first, so none outlive us.
    await s.settleInflight();
    const stopped = await takeoverReport(s.store, s.runId, s.operator, error);
    const info: ErrorInfo = { message: stopped.message, ...(stopped.hint ? { hint: stopped.hint } : {}) };
    s.conclude('interrupted', s.now(), info, stopped);
  }
}

// What a driver the journal stopped says: why, whether the run is recorded as interrupted, and how to go on.
function storeStopped(runId: string, error: StoreError, recorded: string): StoreError {
  const resume = `"mesh-run resume ${runId}"`;
  const hint = error.busy
    ? `when the other process lets go of the database, continue with ${resume}`
    : `${error.hint ? `${error.hint.replace(/, then "mesh-run resume" the run$/, '')}; then ` : ''}continue with ${resume}`;
  return new StoreError(`run ${runId} stopped: ${error.message}; ${recorded}`, { hint, cause: error });
}
