// The PostgreSQL backend: one schema (default mesh_run) in a database a team shares. Opening it migrates
// the schema under an advisory lock (processes that start together migrate once), and refuses a schema that
// a newer mesh-run wrote.
import type pg from 'pg';
import { PreconditionError } from '../../shared/errors.js';
import type { Store } from '../contract.js';
import type { PostgresLocation } from '../location.js';
import { asPgStoreError, createPool, transaction } from './connection.js';
import { PG_MIGRATIONS, PG_SCHEMA_VERSION } from './migrations.js';
import { createPgRunStore } from './run-store.js';
import { createPgWorldStore } from './world-store.js';

export interface PgOpenOptions {
  // Write access creates and migrates the schema; read access needs it there, at this version or older.
  access: 'create' | 'existing' | 'read-only';
}

const MIGRATION_LOCK = 'mesh-run:migrations';

async function schemaVersion(db: pg.PoolClient | pg.Pool, schema: string): Promise<number | undefined> {
  const { rows } = await db.query<{ present: boolean }>('SELECT to_regclass($1) IS NOT NULL AS present', [`"${schema}".schema_version`]);
  if (!rows[0]?.present) return undefined;
  const version = await db.query<{ version: number }>(`SELECT max(version)::int AS version FROM "${schema}".schema_version`);
  return version.rows[0]?.version ?? 0;
}

function tooNew(location: PostgresLocation, version: number): PreconditionError {
  return new PreconditionError(
    'store-newer',
    `the store ${location.display} has schema version ${version}, newer than this mesh-run understands (${PG_SCHEMA_VERSION})`,
    { hint: 'upgrade mesh-run; nothing was changed' },
  );
}

function missing(location: PostgresLocation): PreconditionError {
  return new PreconditionError('store-missing', `no mesh-run store in schema ${location.schema} of ${location.display}`, {
    hint: 'start a run with "mesh-run install" against it (that creates the schema), or check the URL and its schema=',
  });
}

// Brings the schema to this mesh-run's version, serialised by an advisory lock held for the whole migration.
async function migrate(pool: pg.Pool, location: PostgresLocation): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [MIGRATION_LOCK]);
    try {
      const found = await schemaVersion(client, location.schema);
      if (found !== undefined && found > PG_SCHEMA_VERSION) throw tooNew(location, found);
      if (found === PG_SCHEMA_VERSION) return;
      const s = `"${location.schema}"`;
      await transaction(pool, async (db) => {
        await db.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
        await db.query(`CREATE TABLE IF NOT EXISTS ${s}.schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`);
        for (const m of PG_MIGRATIONS.filter((x) => x.version > (found ?? 0))) {
          await db.query(m.sql.replaceAll('{s}', s));
          await db.query(`INSERT INTO ${s}.schema_version (version, name, applied_at) VALUES ($1, $2, $3)`, [m.version, m.name, Date.now()]);
        }
      });
    } finally {
      await client.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [MIGRATION_LOCK]);
    }
  } finally {
    client.release();
  }
}

export async function openPostgresStore(location: PostgresLocation, options: PgOpenOptions): Promise<Store> {
  const pool = createPool(location);
  try {
    if (options.access === 'create') await migrate(pool, location);
    else {
      const found = await schemaVersion(pool, location.schema);
      if (found === undefined) throw missing(location);
      if (found > PG_SCHEMA_VERSION) throw tooNew(location, found);
      if (found < PG_SCHEMA_VERSION) {
        if (options.access === 'read-only') {
          throw new PreconditionError(
            'store-older',
            `the store ${location.display} has schema version ${found}; this mesh-run reads version ${PG_SCHEMA_VERSION}`,
            {
              hint: 'run any run verb with this mesh-run once to migrate it',
            },
          );
        }
        await migrate(pool, location);
      }
    }
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw asPgStoreError(error, location);
  }
  const runs = createPgRunStore(pool, location);
  return {
    runs,
    worlds: createPgWorldStore(pool, location),
    location: location.display,
    close: async () => {
      await runs.closeLocks().catch(() => undefined);
      await pool.end().catch(() => undefined);
    },
  };
}

// Whether the schema is there (a verb that finds nothing to act on creates nothing).
export async function postgresStoreExists(location: PostgresLocation): Promise<boolean> {
  const pool = createPool(location);
  try {
    return (await schemaVersion(pool, location.schema)) !== undefined;
  } catch (error) {
    throw asPgStoreError(error, location);
  } finally {
    await pool.end().catch(() => undefined);
  }
}
