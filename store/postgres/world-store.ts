// The simulated clusters of dry runs on PostgreSQL. A simulated API call works on the world's objects in
// memory (cached per world, reloaded only when another process moved the world's version on) and writes what
// it changed in one statement that moves the version on only if nobody else did: calls on one world are
// atomic and take turns, as on one API server.
import type pg from 'pg';
import { StoreError } from '../../shared/errors.js';
import type { SimFault, WorldExport, WorldLease, WorldObjects, WorldStore } from '../contract.js';
import type { PostgresLocation } from '../location.js';
import { type Queryable, transaction } from './connection.js';
import { fencedOut } from './fence.js';
import { guardedPg } from './guarded.js';
import { applied, type CachedWorld, EMPTY, keyOf, runOver, type Stored } from './world-call.js';

type ObjectRow = { context: string; kind: string; namespace: string; name: string; body_json: string };

const toStored = (r: ObjectRow): Stored => ({ context: r.context, kind: r.kind, namespace: r.namespace, name: r.name, bodyJson: r.body_json });

export function createPgWorldStore(pool: pg.Pool, location: PostgresLocation): WorldStore {
  const s = `"${location.schema}"`;
  const cache = new Map<string, CachedWorld>();

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
      const objects = await pool.query<ObjectRow>(
        `SELECT context, kind, namespace, name, body_json FROM ${s}.sim_objects WHERE world = $1
         ORDER BY context COLLATE "C", kind COLLATE "C", namespace COLLATE "C", name COLLATE "C"`,
        [world],
      );
      const faults = await pool.query<SimFault>(`SELECT id, step, cluster, remaining, kind FROM ${s}.sim_faults WHERE world = $1 ORDER BY id`, [world]);
      return {
        id: world,
        settingsJson: rows[0].settings_json,
        objects: objects.rows.map(toStored),
        faults: faults.rows.map(({ id: _id, ...f }) => f),
      };
    },
    async importWorld(data) {
      await transaction(pool, (db) => replaceWorld(db, s, data));
      cache.delete(data.id);
    },
    // Optimistic: the call runs on the cached world (one round trip to see its version); only a call that
    // changed something writes, in one statement that also checks nobody moved the world meanwhile; if someone
    // did, the call runs again on the world as it now is. A driver's call (`lease`) sees its lease with the
    // version, and its write lands only under that lease (read FOR SHARE in the same statement).
    async transact<T>(world: string, fn: (objects: WorldObjects) => T, lease?: WorldLease): Promise<T> {
      for (let attempt = 1; ; attempt++) {
        const { rows } = await pool.query<{ settings_json: string; version: number; held: boolean }>(
          `SELECT settings_json, version, ($2::text IS NULL OR EXISTS (SELECT 1 FROM ${s}.runs WHERE id = $2 AND lease_token = $3)) AS held
           FROM ${s}.sim_worlds WHERE id = $1`,
          [world, lease?.runId ?? null, lease?.fence ?? null],
        );
        const head = rows[0];
        if (head && !head.held && lease) throw await fencedOut(pool, s, lease.runId);
        const base = head ? await load(pool, s, cache, world, head.version) : EMPTY;
        const call = runOver(base, head?.settings_json, fn);
        if (call.written.size === 0 && call.used.size === 0) return call.result;
        if (!head) throw new Error(`simulated world ${world} does not exist`);
        const version = await writeIfUnchanged(pool, s, world, head.version, call.written, call.used, lease);
        if (version !== undefined) {
          cache.set(world, applied(base, version, call.written, call.used));
          return call.result;
        }
        cache.delete(world);
        if (attempt >= 100) throw new StoreError(`the simulated world ${world} kept changing under this call (${attempt} tries)`, { busy: true });
      }
    },
  };
  return guardedPg(store, location);
}

// The world's objects and faults at `version`, from the cache or the database (`s` is the quoted schema).
async function load(pool: pg.Pool, s: string, cache: Map<string, CachedWorld>, world: string, version: number): Promise<CachedWorld> {
  const hit = cache.get(world);
  if (hit && hit.version === version) return hit;
  const [objects, faults] = await Promise.all([
    pool.query<ObjectRow>(`SELECT context, kind, namespace, name, body_json FROM ${s}.sim_objects WHERE world = $1`, [world]),
    pool.query<SimFault>(`SELECT id, step, cluster, remaining, kind FROM ${s}.sim_faults WHERE world = $1 ORDER BY id`, [world]),
  ]);
  const loaded: CachedWorld = { version, objects: new Map(), faults: faults.rows };
  for (const r of objects.rows) {
    const stored = toStored(r);
    loaded.objects.set(keyOf(stored), stored);
  }
  cache.set(world, loaded);
  return loaded;
}

// One statement: the world's version moves on only if it is still `version`, and the changes land with it.
async function writeIfUnchanged(
  pool: pg.Pool,
  s: string,
  world: string,
  version: number,
  written: Map<string, Stored | null>,
  used: Map<number, number>,
  lease: WorldLease | undefined,
): Promise<number | undefined> {
  const removed = [...written].filter(([, v]) => v === null).map(([k]) => JSON.parse(k) as [string, string, string, string]);
  const put = [...written.values()].filter((v): v is Stored => v !== null);
  const faults = [...used].flatMap(([id, n]) => Array<number>(n).fill(id));
  const column = <R>(rows: R[], pick: (r: R) => string) => rows.map(pick);
  const { rows } = await pool.query<{ version: number }>(
    `WITH fence AS MATERIALIZED (SELECT 1 FROM ${s}.runs WHERE $13::text IS NOT NULL AND id = $13 AND lease_token = $14 FOR SHARE),
     v AS (UPDATE ${s}.sim_worlds SET version = version + 1 WHERE id = $1 AND version = $2 AND ($13::text IS NULL OR EXISTS (SELECT 1 FROM fence)) RETURNING version),
     gone AS (DELETE FROM ${s}.sim_objects o USING unnest($3::text[], $4::text[], $5::text[], $6::text[]) AS d (context, kind, namespace, name)
              WHERE EXISTS (SELECT 1 FROM v) AND o.world = $1 AND o.context = d.context AND o.kind = d.kind AND o.namespace = d.namespace AND o.name = d.name),
     kept AS (INSERT INTO ${s}.sim_objects (world, context, kind, namespace, name, body_json)
              SELECT $1, u.context, u.kind, u.namespace, u.name, u.body
              FROM unnest($7::text[], $8::text[], $9::text[], $10::text[], $11::text[]) AS u (context, kind, namespace, name, body)
              WHERE EXISTS (SELECT 1 FROM v)
              ON CONFLICT (world, context, kind, namespace, name) DO UPDATE SET body_json = excluded.body_json),
     used AS (UPDATE ${s}.sim_faults f SET remaining = f.remaining - u.n
              FROM (SELECT id, count(*)::int AS n FROM unnest($12::bigint[]) AS t (id) GROUP BY id) AS u
              WHERE f.id = u.id AND EXISTS (SELECT 1 FROM v))
     SELECT version FROM v`,
    [
      world,
      version,
      column(removed, (r) => r[0]),
      column(removed, (r) => r[1]),
      column(removed, (r) => r[2]),
      column(removed, (r) => r[3]),
      column(put, (o) => o.context),
      column(put, (o) => o.kind),
      column(put, (o) => o.namespace),
      column(put, (o) => o.name),
      column(put, (o) => o.bodyJson),
      faults,
      lease?.runId ?? null,
      lease?.fence ?? null,
    ],
  );
  return rows[0]?.version;
}

// Inside the caller's transaction: the world's settings, objects and faults become `data`'s.
async function replaceWorld(db: Queryable, s: string, data: WorldExport): Promise<void> {
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
}
