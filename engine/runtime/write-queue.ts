// Journal writes in the order they are made, whatever the backend: each starts once the one before it has
// settled. The snapshot a write carries is taken when it is queued, so order of writes is order of events.

export class WriteQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private refusal: Error | undefined;

  push<T>(write: () => Promise<T>): Promise<T> {
    const guarded = () => (this.refusal ? Promise.reject(this.refusal) : write());
    const next = this.tail.then(guarded, guarded);
    this.tail = next.catch(() => undefined);
    return next;
  }

  // The journal refused a write (or the lease is gone): what is still queued is not attempted (it would wait
  // on the same lock, fill the same disk, or be fenced too); the run stops where its last committed write left it.
  close(reason: Error): void {
    this.refusal ??= reason;
  }
}
