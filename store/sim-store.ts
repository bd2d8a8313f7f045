// Persistence of simulated clusters (the dry run's "etcd"), in the same database as the journal.
import type { Db } from './open-db.js';
import { guarded } from './sqlite-run-store.js';

export interface SimObjectKey {
  context: string;
  kind: string;
  namespace: string;
  name: string;
}

export interface SimFault {
  id: number;
  step: string;
  cluster: string | null;
  remaining: number;
  kind: 'permanent' | 'transient';
}

export interface SimStore {
  getWorld(world: string): string | undefined;
  putWorld(world: string, settingsJson: string): void;
  get(world: string, key: SimObjectKey): string | undefined;
  put(world: string, key: SimObjectKey, bodyJson: string): void;
  remove(world: string, key: SimObjectKey): void;
  list(world: string, context: string, kind?: string): Array<SimObjectKey & { bodyJson: string }>;
  addFault(world: string, fault: Omit<SimFault, 'id'>): void;
  faults(world: string): SimFault[];
  // Uses one injected failure for (step, cluster) if any is left; returns it.
  takeFault(world: string, step: string, cluster: string): SimFault | undefined;
  // Runs `fn` in one IMMEDIATE transaction: a simulated API call is atomic like a real one.
  atomically<T>(fn: () => T): T;
}

export function createSimStore(db: Db): SimStore {
  const s = {
    getWorld: db.prepare<[string], { settings_json: string }>('SELECT settings_json FROM sim_worlds WHERE id = ?'),
    putWorld: db.prepare('INSERT INTO sim_worlds (id, settings_json) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET settings_json = excluded.settings_json'),
    get: db.prepare<[string, string, string, string, string], { body_json: string }>(
      'SELECT body_json FROM sim_objects WHERE world = ? AND context = ? AND kind = ? AND namespace = ? AND name = ?',
    ),
    put: db.prepare(`INSERT INTO sim_objects (world, context, kind, namespace, name, body_json) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (world, context, kind, namespace, name) DO UPDATE SET body_json = excluded.body_json`),
    remove: db.prepare('DELETE FROM sim_objects WHERE world = ? AND context = ? AND kind = ? AND namespace = ? AND name = ?'),
    listAll: db.prepare<[string, string], { context: string; kind: string; namespace: string; name: string; body_json: string }>(
      'SELECT context, kind, namespace, name, body_json FROM sim_objects WHERE world = ? AND context = ? ORDER BY kind, namespace, name',
    ),
    listKind: db.prepare<[string, string, string], { context: string; kind: string; namespace: string; name: string; body_json: string }>(
      'SELECT context, kind, namespace, name, body_json FROM sim_objects WHERE world = ? AND context = ? AND kind = ? ORDER BY namespace, name',
    ),
    addFault: db.prepare('INSERT INTO sim_faults (world, step, cluster, remaining, kind) VALUES (?, ?, ?, ?, ?)'),
    faults: db.prepare<[string], SimFault>('SELECT id, step, cluster, remaining, kind FROM sim_faults WHERE world = ? ORDER BY id'),
    findFault: db.prepare<[string, string, string], SimFault>(
      `SELECT id, step, cluster, remaining, kind FROM sim_faults WHERE world = ? AND step = ? AND (cluster IS NULL OR cluster = ?) AND remaining > 0 ORDER BY id LIMIT 1`,
    ),
    useFault: db.prepare('UPDATE sim_faults SET remaining = remaining - 1 WHERE id = ?'),
  };
  // Its errors are the journal's errors (a busy or full database), never the simulated clusters'.
  return guarded<SimStore>(
    {
      getWorld: (world) => s.getWorld.get(world)?.settings_json,
      putWorld: (world, json) => void s.putWorld.run(world, json),
      get: (world, k) => s.get.get(world, k.context, k.kind, k.namespace, k.name)?.body_json,
      put: (world, k, body) => void s.put.run(world, k.context, k.kind, k.namespace, k.name, body),
      remove: (world, k) => void s.remove.run(world, k.context, k.kind, k.namespace, k.name),
      list: (world, context, kind) =>
        (kind === undefined ? s.listAll.all(world, context) : s.listKind.all(world, context, kind)).map((r) => ({
          context: r.context,
          kind: r.kind,
          namespace: r.namespace,
          name: r.name,
          bodyJson: r.body_json,
        })),
      addFault: (world, f) => void s.addFault.run(world, f.step, f.cluster, f.remaining, f.kind),
      faults: (world) => s.faults.all(world),
      takeFault: (world, step, cluster) =>
        db
          .transaction(() => {
            const fault = s.findFault.get(world, step, cluster);
            if (fault) s.useFault.run(fault.id);
            return fault;
          })
          .immediate(),
      atomically: (fn) => db.transaction(fn).immediate(),
    },
    db.name,
  );
}
