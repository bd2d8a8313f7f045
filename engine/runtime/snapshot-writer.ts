// Turns the root actor's state into the parts of it that changed since the last write (store/snapshot-parts).
// A child's part is serialised again only when a snapshot in its subtree is a new object: XState replaces a
// snapshot on every change and never edits one in place, so an unchanged subtree has the same objects.
import type { AnyActorRef } from 'xstate';
import { PART_REF, type SnapshotWrite } from '../../store/snapshot-parts.js';

interface PersistedChild {
  snapshot: unknown;
  [key: string]: unknown;
}

interface Persisted {
  children?: Record<string, PersistedChild>;
  [key: string]: unknown;
}

// The snapshots of an actor and of every actor below it, in a fixed order.
function stampOf(ref: AnyActorRef): unknown[] {
  const stamp: unknown[] = [];
  const walk = (actor: AnyActorRef) => {
    const snapshot = actor.getSnapshot() as { children?: Record<string, AnyActorRef> };
    stamp.push(snapshot);
    for (const [id, child] of Object.entries(snapshot.children ?? {})) {
      stamp.push(id);
      walk(child);
    }
  };
  walk(ref);
  return stamp;
}

const sameStamp = (a: readonly unknown[], b: readonly unknown[]) => a.length === b.length && a.every((x, i) => x === b[i]);

export class SnapshotWriter {
  private rootSnapshot: unknown;
  private readonly parts = new Map<string, unknown[]>();
  private written = false;

  next(actor: AnyActorRef): SnapshotWrite {
    const live = actor.getSnapshot() as { children?: Record<string, AnyActorRef> };
    const children = live.children ?? {};
    const rootChanged = live !== this.rootSnapshot;
    // The whole persisted tree only when the root moved (its own part needs it); otherwise child by child.
    const persisted = rootChanged ? (actor.getPersistedSnapshot() as Persisted) : undefined;
    const parts: Array<[string, string]> = [];
    for (const [id, child] of Object.entries(children)) {
      const stamp = stampOf(child);
      const known = this.parts.get(id);
      if (known && sameStamp(known, stamp)) continue;
      const snapshot = persisted ? persisted.children?.[id]?.snapshot : child.getPersistedSnapshot();
      parts.push([id, JSON.stringify(snapshot)]);
      this.parts.set(id, stamp);
    }
    const dropped = [...this.parts.keys()].filter((id) => !(id in children));
    for (const id of dropped) this.parts.delete(id);
    let root: string | undefined;
    if (persisted) {
      const refs = Object.fromEntries(Object.entries(persisted.children ?? {}).map(([id, c]) => [id, { ...c, snapshot: { [PART_REF]: id } }]));
      root = JSON.stringify({ ...persisted, children: refs });
      this.rootSnapshot = live;
    }
    const full = !this.written;
    this.written = true;
    return { root, parts, dropped: full ? [] : dropped, full };
  }
}
