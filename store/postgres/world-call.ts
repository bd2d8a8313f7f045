// One simulated API call over a world held in memory: what it read, wrote and used, worked out without
// touching the database; the world store writes it in one statement afterwards.
import type { SimFault, SimObjectKey, WorldObjects } from '../contract.js';

export type Stored = SimObjectKey & { bodyJson: string };

export interface CachedWorld {
  version: number;
  objects: Map<string, Stored>;
  faults: SimFault[];
}

export const EMPTY: CachedWorld = { version: -1, objects: new Map(), faults: [] };

// One simulated API call over a world as of `base`: what it returned, the objects it wrote (null: removed)
// and the injected failures it used (id -> times). Nothing is written here.
export function runOver<T>(base: CachedWorld, settings: string | undefined, fn: (objects: WorldObjects) => T) {
  const written = new Map<string, Stored | null>();
  const used = new Map<number, number>();
  const current = (key: string) => (written.has(key) ? (written.get(key) ?? undefined) : base.objects.get(key));
  const objects: WorldObjects = {
    settings: () => settings,
    get: (k) => current(keyOf(k))?.bodyJson,
    put: (k, bodyJson) => void written.set(keyOf(k), { context: k.context, kind: k.kind, namespace: k.namespace, name: k.name, bodyJson }),
    remove: (k) => void written.set(keyOf(k), null),
    list: (context, kind) => {
      const keys = new Set([...base.objects.keys(), ...written.keys()]);
      return [...keys]
        .map((key) => current(key))
        .filter((o): o is Stored => o !== undefined && o.context === context && (kind === undefined || o.kind === kind))
        .sort(byKindNamespaceName)
        .map((o) => ({ ...o }));
    },
    takeFault: (step, cluster) => {
      const fault = base.faults.find((f) => f.step === step && (f.cluster === null || f.cluster === cluster) && f.remaining - (used.get(f.id) ?? 0) > 0);
      if (!fault) return undefined;
      const left = fault.remaining - (used.get(fault.id) ?? 0);
      used.set(fault.id, (used.get(fault.id) ?? 0) + 1);
      return { ...fault, remaining: left };
    },
  };
  return { result: fn(objects), written, used };
}

// The world after a call committed: what the cache holds from then on.
export function applied(base: CachedWorld, version: number, written: Map<string, Stored | null>, used: Map<number, number>): CachedWorld {
  const objects = new Map(base.objects);
  for (const [key, value] of written) {
    if (value === null) objects.delete(key);
    else objects.set(key, value);
  }
  return { version, objects, faults: base.faults.map((f) => ({ ...f, remaining: f.remaining - (used.get(f.id) ?? 0) })) };
}

export const keyOf = (k: SimObjectKey) => JSON.stringify([k.context, k.kind, k.namespace, k.name]);

// The order SQLite lists them in: by kind, namespace and name (byte order).
const byKindNamespaceName = (a: Stored, b: Stored) =>
  a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
