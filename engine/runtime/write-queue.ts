// Journal writes in the order they are made, whatever the backend: each starts once the one before it has
// settled. The snapshot a write carries is taken when it is queued, so order of writes is order of events.
import { BUSY_PATIENCE_MS, outwaitBusy } from '../../shared/busy-wait.js';

export class WriteQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private refusal: Error | undefined;
  private hurried = false;

  constructor(private readonly patienceMs = BUSY_PATIENCE_MS) {}

  push<T>(write: () => Promise<T>): Promise<T> {
    const guarded = () => (this.refusal ? Promise.reject(this.refusal) : this.persist(write));
    const next = this.tail.then(guarded, guarded);
    this.tail = next.catch(() => undefined);
    return next;
  }

  // Runs one write, waiting out a busy journal until the patience is spent, the queue is closed, or the run
  // is in a hurry to stop.
  persist<T>(write: () => Promise<T>): Promise<T> {
    return outwaitBusy(write, () => this.hurried || this.refusal !== undefined, this.patienceMs);
  }

  // The run is stopping (a signal, a cancel): a busy journal is no longer waited out.
  hurry(): void {
    this.hurried = true;
  }

  // The journal refused a write (or the lease is gone): what is still queued is not attempted (it would wait
  // on the same lock, fill the same disk, or be fenced too); the run stops where its last committed write left it.
  close(reason: Error): void {
    this.refusal ??= reason;
  }
}
