// The simulated clusters of dry runs on PostgreSQL. A simulated API call is one transaction that locks its
// world's row (calls on one world take turns, as on one API server), works on the world's objects in memory,
// and writes back what it changed. The objects are cached per world and reloaded only when another process
// moved the world's version on.
import type pg from 'pg';
import type { SimFault, SimObjectKey, WorldObjects, WorldStore } from '../contract.js';
import type { PostgresLocation } from '../location.js';
import { transaction } from './connection.js';
import { guardedPg } from './run-store.js';

type Stored = SimObjectKey & { bodyJson: string };

interface CachedWorld {
  version: number;
  objects: Map<string, Stored>;
}

const keyOf = (k: SimObjectKey) => JSON.stringify([k.context, k.kind, k.namespace, k.name]);

// The order SQLite lists them in: by kind, namespace and name (byte order).
const byKindNamespaceName = (a: Stored, b: Stored) =>
  a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0;

export function createPgWorldStore(pool: pg.Pool, location: PostgresLocation): WorldStore {
  const s = `"${location.schema}"`;
  const cache = new Map<string, CachedWorld>();

  const load = async (db: pg.PoolClient, world: string, version: number): Promise<CachedWorld> => {
    const hit = cache.get(world);
    if (hit && hit.version === version) return hit;
    const { rows } = await db.query<{ context: string; kind: string; namespace: string; name: string; body_json: string }>(
      `SELECT context, kind, namespace, name, body_json FROM ${s}.sim_objects WHERE world = $1`,
      [world],
    );
    const objects = new Map<string, Stored>();
    for (const r of rows) {
      const stored = { context: r.context, kind: r.kind, namespace: r.namespace, name: r.name, bodyJson: r.body_json };
      objects.set(keyOf(stored), stored);
    }
    const loaded = { version, objects };
    cache.set(world, loaded);
    return loaded;
  };

  const store: WorldStore = {
    async getWorld(world) {
      const { rows } = await pool.query<{ settings_json: string }>(`SELECT settings_json FROM ${s}.sim_worlds WHERE id = $1`, [world]);
      return rows[0]?.settings_json;
    },
    async putWorld(world, settingsJson) {
      await pool.query(
        `INSERT INTO ${s}.sim_worlds (id, settings_json) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET settings_json = excluded.settings_json, version = ${s}.sim_worlds.version + 1`,
        [world, settingsJson],
      );
    },
    async faults(world) {
      const { rows } = await pool.query<SimFault>(`SELECT id, step, cluster, remaining, kind FROM ${s}.sim_faults WHERE world = $1 ORDER BY id`, [world]);
      return rows;
    },
    async exportWorld(world) {
      const { rows } = await pool.query<{ settings_json: string }>(`SELECT settings_json FROM ${s}.sim_worlds WHERE id = $1`, [world]);
      if (!rows[0]) return undefined;
      const objects = await pool.query<{ context: string; kind: string; namespace: string; name: string; body_json: string }>(
        `SELECT context, kind, namespace, name, body_json FROM ${s}.sim_objects WHERE world = $1
         ORDER BY context COLLATE "C", kind COLLATE "C", namespace COLLATE "C", name COLLATE "C"`,
        [world],
      );
      const faults = await pool.query<SimFault>(`SELECT id, step, cluster, remaining, kind FROM ${s}.sim_faults WHERE world = $1 ORDER BY id`, [world]);
      return {
        id: world,
        settingsJson: rows[0].settings_json,
        objects: objects.rows.map((r) => ({ context: r.context, kind: r.kind, namespace: r.namespace, name: r.name, bodyJson: r.body_json })),
        faults: faults.rows.map(({ id: _id, ...f }) => f),
      };
    },
    async importWorld(data) {
      await transaction(pool, async (db) => {
        await db.query(
          `INSERT INTO ${s}.sim_worlds (id, settings_json) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET settings_json = excluded.settings_json, version = ${s}.sim_worlds.version + 1`,
          [data.id, data.settingsJson],
        );
        await db.query(`DELETE FROM ${s}.sim_objects WHERE world = $1`, [data.id]);
        await db.query(`DELETE FROM ${s}.sim_faults WHERE world = $1`, [data.id]);
        for (const o of data.objects) {
          await db.query(`INSERT INTO ${s}.sim_objects (world, context, kind, namespace, name, body_json) VALUES ($1, $2, $3, $4, $5, $6)`, [
            data.id,
            o.context,
            o.kind,
            o.namespace,
            o.name,
            o.bodyJson,
          ]);
        }
        for (const f of data.faults) {
          await db.query(`INSERT INTO ${s}.sim_faults (world, step, cluster, remaining, kind) VALUES ($1, $2, $3, $4, $5)`, [
            data.id,
            f.step,
            f.cluster,
            f.remaining,
            f.kind,
          ]);
        }
      });
      cache.delete(data.id);
    },
    transact<T>(world: string, fn: (objects: WorldObjects) => T): Promise<T> {
      return transaction(pool, async (db) => {
        const { rows } = await db.query<{ settings_json: string; version: number }>(
          `SELECT settings_json, version FROM ${s}.sim_worlds WHERE id = $1 FOR UPDATE`,
          [world],
        );
        const settings = rows[0]?.settings_json;
        const base = rows[0] ? await load(db, world, rows[0].version) : { version: -1, objects: new Map<string, Stored>() };
        const { rows: faultRows } = await db.query<SimFault>(
          `SELECT id, step, cluster, remaining, kind FROM ${s}.sim_faults WHERE world = $1 AND remaining > 0 ORDER BY id`,
          [world],
        );
        // What this call changed: written back only if it returns (a throw changes nothing, as on SQLite).
        const written = new Map<string, Stored | null>();
        const used: number[] = [];
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
            const fault = faultRows.find((f) => f.step === step && (f.cluster === null || f.cluster === cluster) && f.remaining > 0 && !used.includes(f.id));
            if (fault) used.push(fault.id);
            return fault;
          },
        };
        const result = fn(objects);
        if (written.size === 0 && used.length === 0) return { result, next: undefined };
        for (const [key, value] of written) {
          const [context, kind, namespace, name] = JSON.parse(key) as [string, string, string, string];
          if (value === null) {
            await db.query(`DELETE FROM ${s}.sim_objects WHERE world = $1 AND context = $2 AND kind = $3 AND namespace = $4 AND name = $5`, [
              world,
              context,
              kind,
              namespace,
              name,
            ]);
          } else {
            await db.query(
              `INSERT INTO ${s}.sim_objects (world, context, kind, namespace, name, body_json) VALUES ($1, $2, $3, $4, $5, $6)
               ON CONFLICT (world, context, kind, namespace, name) DO UPDATE SET body_json = excluded.body_json`,
              [world, context, kind, namespace, name, value.bodyJson],
            );
          }
        }
        for (const id of used) await db.query(`UPDATE ${s}.sim_faults SET remaining = remaining - 1 WHERE id = $1`, [id]);
        if (!rows[0]) return { result, next: undefined };
        const { rows: bumped } = await db.query<{ version: number }>(`UPDATE ${s}.sim_worlds SET version = version + 1 WHERE id = $1 RETURNING version`, [
          world,
        ]);
        const objectsAfter = new Map(base.objects);
        for (const [key, value] of written) {
          if (value === null) objectsAfter.delete(key);
          else objectsAfter.set(key, value);
        }
        return { result, next: { version: (bumped[0] as { version: number }).version, objects: objectsAfter } };
      }).then(
        // The cache follows the world only once the call committed.
        ({ result, next }) => {
          if (next) cache.set(world, next);
          return result;
        },
        (error) => {
          cache.delete(world);
          throw error;
        },
      );
    },
  };
  return guardedPg(store, location);
}
