// A run's persisted snapshot is stored in parts: the root machine's own state, with each child actor's
// snapshot replaced by a reference, and one part per child. A transition writes only the parts that changed,
// so its cost follows what moved, not how many remotes the run has. Reading puts the parts back.

// What a transition writes. `root` undefined: the root machine's part is as last written. `full`: every part
// is here, and parts of an earlier process that are not are gone (the first write of a driver).
export interface SnapshotWrite {
  root: string | undefined;
  parts: ReadonlyArray<readonly [id: string, json: string]>;
  dropped: readonly string[];
  full: boolean;
}

export const PART_REF = '$part';

// A whole snapshot as one write (tests, imports, and the stores' own copies).
export function wholeSnapshot(json: string): SnapshotWrite {
  return { root: json, parts: [], dropped: [], full: true };
}

export const hasPartRefs = (root: string | null): boolean => root?.includes(`"${PART_REF}"`) ?? false;

// The snapshot as the machine persisted it. A root that does not parse, or a part that is missing, is left as
// it is: the engine's restore check then calls the run's saved state damaged.
export function assembleSnapshot(root: string | null, parts: ReadonlyMap<string, string>): string | null {
  if (root === null || !hasPartRefs(root)) return root;
  let parsed: { children?: Record<string, { snapshot?: unknown }> };
  try {
    parsed = JSON.parse(root);
  } catch {
    return root;
  }
  for (const child of Object.values(parsed.children ?? {})) {
    const ref = child.snapshot as Record<string, unknown> | undefined;
    const id = ref?.[PART_REF];
    const part = typeof id === 'string' ? parts.get(id) : undefined;
    if (part !== undefined) child.snapshot = JSON.parse(part);
  }
  return JSON.stringify(parsed);
}
