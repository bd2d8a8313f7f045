// The simulated clusters of dry runs (the simulator's "etcd"), in the same SQLite file as the journal.
// A simulated API call is one IMMEDIATE transaction, atomic like a real one.
import type { SimFault, SimObjectKey, WorldLease, WorldObjects, WorldStore } from '../contract.js';
import { leaseFence } from './fence.js';
import { guarded } from './guarded.js';
import type { Db } from './open-db.js';

type ObjectRow = { context: string; kind: string; namespace: string; name: string; body_json: string };

export function createSqliteWorldStore(db: Db): WorldStore {
  const s = {
    getWorld: db.prepare<[string], { settings_json: string }>('SELECT settings_json FROM sim_worlds WHERE id = ?'),
    putWorld: db.prepare('INSERT INTO sim_worlds (id, settings_json) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET settings_json = excluded.settings_json'),
    get: db.prepare<[string, string, string, string, string], { body_json: string }>(
      'SELECT body_json FROM sim_objects WHERE world = ? AND context = ? AND kind = ? AND namespace = ? AND name = ?',
    ),
    put: db.prepare(`INSERT INTO sim_objects (world, context, kind, namespace, name, body_json) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (world, context, kind, namespace, name) DO UPDATE SET body_json = excluded.body_json`),
    remove: db.prepare('DELETE FROM sim_objects WHERE world = ? AND context = ? AND kind = ? AND namespace = ? AND name = ?'),
    listAll: db.prepare<[string, string], ObjectRow>(
      'SELECT context, kind, namespace, name, body_json FROM sim_objects WHERE world = ? AND context = ? ORDER BY kind, namespace, name',
    ),
    listKind: db.prepare<[string, string, string], ObjectRow>(
      'SELECT context, kind, namespace, name, body_json FROM sim_objects WHERE world = ? AND context = ? AND kind = ? ORDER BY namespace, name',
    ),
    faults: db.prepare<[string], SimFault>('SELECT id, step, cluster, remaining, kind FROM sim_faults WHERE world = ? ORDER BY id'),
    findFault: db.prepare<[string, string, string], SimFault>(
      `SELECT id, step, cluster, remaining, kind FROM sim_faults WHERE world = ? AND step = ? AND (cluster IS NULL OR cluster = ?) AND remaining > 0 ORDER BY id LIMIT 1`,
    ),
    useFault: db.prepare('UPDATE sim_faults SET remaining = remaining - 1 WHERE id = ?'),
    allObjects: db.prepare<[string], ObjectRow>(
      'SELECT context, kind, namespace, name, body_json FROM sim_objects WHERE world = ? ORDER BY context, kind, namespace, name',
    ),
    clearObjects: db.prepare('DELETE FROM sim_objects WHERE world = ?'),
    clearFaults: db.prepare('DELETE FROM sim_faults WHERE world = ?'),
    addFault: db.prepare('INSERT INTO sim_faults (world, step, cluster, remaining, kind) VALUES (?, ?, ?, ?, ?)'),
  };

  const fenced = leaseFence(db);

  // One world's objects, read and written inside the caller's transaction.
  const view = (world: string): WorldObjects => ({
    settings: () => s.getWorld.get(world)?.settings_json,
    get: (k: SimObjectKey) => s.get.get(world, k.context, k.kind, k.namespace, k.name)?.body_json,
    put: (k: SimObjectKey, body: string) => void s.put.run(world, k.context, k.kind, k.namespace, k.name, body),
    remove: (k: SimObjectKey) => void s.remove.run(world, k.context, k.kind, k.namespace, k.name),
    list: (context: string, kind?: string) =>
      (kind === undefined ? s.listAll.all(world, context) : s.listKind.all(world, context, kind)).map((r) => ({
        context: r.context,
        kind: r.kind,
        namespace: r.namespace,
        name: r.name,
        bodyJson: r.body_json,
      })),
    takeFault: (step: string, cluster: string) => {
      const fault = s.findFault.get(world, step, cluster);
      if (fault) s.useFault.run(fault.id);
      return fault;
    },
  });

  // Its errors are the journal's errors (a busy or full database), never the simulated clusters'.
  return guarded<WorldStore>(
    {
      getWorld: (world) => s.getWorld.get(world)?.settings_json,
      putWorld: (world, json) => void s.putWorld.run(world, json),
      faults: (world) => s.faults.all(world),
      transact: <T>(world: string, fn: (objects: WorldObjects) => T, lease?: WorldLease) =>
        db
          .transaction(() => {
            // A driver's command reaches its simulated clusters only while its lease holds the run.
            if (lease) fenced(lease.runId, lease.fence);
            return fn(view(world));
          })
          .immediate(),
      exportWorld: (world) => {
        const settingsJson = s.getWorld.get(world)?.settings_json;
        if (settingsJson === undefined) return undefined;
        const objects = (s.allObjects.all(world) as ObjectRow[]).map((r) => ({
          context: r.context,
          kind: r.kind,
          namespace: r.namespace,
          name: r.name,
          bodyJson: r.body_json,
        }));
        const faults = s.faults.all(world).map(({ id: _id, ...f }) => f);
        return { id: world, settingsJson, objects, faults };
      },
      importWorld: (data) =>
        db
          .transaction(() => {
            s.putWorld.run(data.id, data.settingsJson);
            s.clearObjects.run(data.id);
            s.clearFaults.run(data.id);
            for (const o of data.objects) s.put.run(data.id, o.context, o.kind, o.namespace, o.name, o.bodyJson);
            for (const f of data.faults) s.addFault.run(data.id, f.step, f.cluster, f.remaining, f.kind);
          })
          .immediate(),
    },
    db.name,
  );
}
