// Connections to a PostgreSQL store: a small pool for the journal, one dedicated session for the advisory
// locks a driver holds (a session that dies frees them at once), transactions, and errors in mesh-run's words.
import { hostname, userInfo } from 'node:os';
import pg from 'pg';
import { parseIntoClientConfig } from 'pg-connection-string';
import pgpass from 'pgpass';
import { PreconditionError, StoreError } from '../../shared/errors.js';
import type { PostgresLocation } from '../location.js';

export type Queryable = Pick<pg.PoolClient, 'query'>;

const INT8 = 20;
const NUMERIC_INT8 = (value: string) => Number(value);

// Times are ms since the epoch in BIGINT columns: read them as numbers (node-postgres gives strings).
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8 ? NUMERIC_INT8 : pg.types.getTypeParser(oid, format ?? 'text')) as typeof pg.types.getTypeParser,
};

// Sessions say whose they are (pg_stat_activity): "mesh-run:<pid>@<host>", so a lock's holder can be named
// even before its lease row is written.
export const SESSION_NAME = `mesh-run:${process.pid}@${hostname()}`.slice(0, 63);

// The password as libpq finds it: in the URL, else $PGPASSWORD, else the password file ($PGPASSFILE or
// ~/.pgpass, used only when it is private). Looked up by us, so node-postgres has nothing to warn about.
function passwordLookup(config: pg.ClientConfig): (() => Promise<string>) | undefined {
  if (config.password || process.env.PGPASSWORD !== undefined) return undefined;
  const host = config.host ?? process.env.PGHOST ?? 'localhost';
  return () =>
    new Promise<string>((resolve) =>
      pgpass(
        {
          // libpq matches a Unix socket directory as "localhost" in the password file.
          host: host.startsWith('/') ? 'localhost' : host,
          port: config.port ?? process.env.PGPORT ?? 5432,
          database: config.database ?? process.env.PGDATABASE ?? null,
          user: config.user ?? process.env.PGUSER ?? userInfo().username,
        },
        (found) => resolve(found ?? ''),
      ),
    );
}

// The URL's settings as node-postgres takes them (a URL without a password must not blank the lookup).
export function clientConfig(location: PostgresLocation): pg.ClientConfig {
  const { password, ...fromUrl } = parseIntoClientConfig(location.connectionString);
  const lookup = passwordLookup({ ...fromUrl, ...(password ? { password } : {}) });
  return {
    ...fromUrl,
    ...(password ? { password } : lookup ? { password: lookup } : {}),
    types,
    application_name: SESSION_NAME,
    connectionTimeoutMillis: 10_000,
  };
}

export function createPool(location: PostgresLocation): pg.Pool {
  const pool = new pg.Pool({ ...clientConfig(location), max: 4, idleTimeoutMillis: 10_000 });
  // A connection the server dropped must not crash the process, idle or checked out between queries (a
  // process paused while its sessions were cut finds them dead when it wakes): the query on it reports it.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOENT', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);

// What an error from node-postgres means for the user: unreachable, refused login, busy, or a refused write.
export function asPgStoreError(error: unknown, location: PostgresLocation): unknown {
  if (error instanceof StoreError || error instanceof PreconditionError || !(error instanceof Error)) return error;
  const code = String((error as { code?: unknown }).code ?? '');
  const where = `the store ${location.display}`;
  const resume = 'then run the command again ("mesh-run resume <id>" continues a run)';
  if (
    UNREACHABLE_CODES.has(code) ||
    code.startsWith('08') ||
    code.startsWith('57P') ||
    /Connection terminated|connection error|not queryable|timeout expired|Client was closed/i.test(error.message)
  ) {
    return new StoreError(`${where} is unreachable (${error.message || code})`, {
      hint: `check that the PostgreSQL server is up and reachable, ${resume}`,
      cause: error,
    });
  }
  if (code === '28P01' || code === '28000' || /SASL|password must be|no password/i.test(error.message)) {
    return new StoreError(`${where} refused the login: ${error.message}`, {
      hint: 'check the user and password (in the URL, or PGPASSWORD / PGPASSFILE) and pg_hba.conf',
      cause: error,
    });
  }
  if (code === '3D000') {
    return new StoreError(`${where}: ${error.message}`, { hint: 'create the database (mesh-run creates only its schema in it), or fix the URL', cause: error });
  }
  if (code === '55P03' || code === '40P01' || code === '40001') {
    return new StoreError(`${where} is busy (${error.message})`, { hint: resume, cause: error, busy: true });
  }
  if (code === '42501') {
    return new StoreError(`${where} refused: ${error.message}`, {
      hint: 'the user needs CREATE on the database (for the schema) and rights on the schema; or ask an administrator to run the first mesh-run',
      cause: error,
    });
  }
  if (code === '53100' || code === '53200') return new StoreError(`${where} is out of space or memory: ${error.message}`, { hint: resume, cause: error });
  if (code) return new StoreError(`${where} refused a request: ${error.message} (${code})`, { hint: resume, cause: error });
  return error;
}

// Runs `fn` in one transaction on a pooled connection; a broken connection is not returned to the pool.
export async function transaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    try {
      await client.query('ROLLBACK');
    } catch (rollback) {
      broken = rollback instanceof Error ? rollback : new Error(String(rollback));
    }
    throw error;
  } finally {
    client.release(broken);
  }
}

// The session that holds a driver's advisory locks: its run, and the clusters it claims. Opened on first use;
// if it is lost, so are the locks, and the driver must stop.
export class LockSession {
  private client: pg.Client | undefined;
  private connecting: Promise<pg.Client> | undefined;
  private lost: Error | undefined;
  private closing = false;
  private readonly held = new Set<string>();
  // Told at once when the session dies while it holds locks (a driver must stop before its next command).
  private readonly lostListeners = new Set<(error: StoreError) => void>();

  constructor(private readonly location: PostgresLocation) {}

  private session(): Promise<pg.Client> {
    if (this.lost) return Promise.reject(this.lostError());
    this.connecting ??= (async () => {
      const client = new pg.Client(clientConfig(this.location));
      // The server ends the session (pg_terminate_backend: 57P01, then 'end', within ms) or the socket dies:
      // its locks are gone with it.
      client.on('error', (error) => this.sessionLost(error));
      client.on('end', () => this.sessionLost(new Error('Connection terminated')));
      await client.connect();
      this.client = client;
      return client;
    })();
    return this.connecting;
  }

  private sessionLost(error: Error): void {
    if (this.closing || this.lost) return;
    this.lost = error;
    if (this.held.size === 0) return;
    for (const listener of [...this.lostListeners]) listener(this.lostError());
  }

  // Calls `listener` when the session is lost while holding locks; returns the function that stops it.
  onLost(listener: (error: StoreError) => void): () => void {
    this.lostListeners.add(listener);
    return () => {
      this.lostListeners.delete(listener);
    };
  }

  private lostError(): StoreError {
    return new StoreError(`lost the connection to the store ${this.location.display} that holds this run's lock (${this.lost?.message ?? 'closed'})`, {
      hint: 'check that the PostgreSQL server is up and reachable, then "mesh-run resume" the run',
      cause: this.lost,
    });
  }

  // Throws when the session (and with it every lock it held) is gone.
  check(): void {
    if (this.lost && this.held.size > 0) throw this.lostError();
  }

  holds(name: string): boolean {
    return this.held.has(name) && !this.lost;
  }

  // Tries each lock this session does not hold yet; returns the ones it took, or the first one refused (then
  // it lets go of what it took in this call).
  async take(names: readonly string[]): Promise<{ taken: string[]; refused?: string }> {
    const client = await this.session();
    const taken: string[] = [];
    for (const name of names) {
      if (this.held.has(name)) continue;
      const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS ok', [name]);
      if (!rows[0]?.ok) {
        await this.release(taken);
        return { taken: [], refused: name };
      }
      this.held.add(name);
      taken.push(name);
    }
    return { taken };
  }

  async release(names: readonly string[]): Promise<void> {
    const mine = names.filter((n) => this.held.has(n));
    for (const name of mine) this.held.delete(name);
    if (mine.length === 0 || !this.client || this.lost) return;
    for (const name of mine) await this.client.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [name]);
  }

  // Whether some session (this one included) holds the lock.
  static async heldAnywhere(db: Queryable, name: string): Promise<boolean> {
    return (await LockSession.holderOf(db, name)) !== undefined;
  }

  // The session holding the lock, as it named itself (pid and host of its mesh-run), if any holds it.
  static async holderOf(db: Queryable, name: string): Promise<{ pid: number; host: string } | undefined> {
    const { rows } = await db.query<{ application_name: string | null }>(
      `SELECT a.application_name FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
       WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
         AND ((l.classid::bigint << 32) | l.objid::bigint) = hashtextextended($1, 0)
       LIMIT 1`,
      [name],
    );
    if (rows.length === 0) return undefined;
    const m = /^mesh-run:(\d+)@(.*)$/.exec(rows[0]?.application_name ?? '');
    return m ? { pid: Number(m[1]), host: m[2] as string } : { pid: 0, host: 'another session' };
  }

  async close(): Promise<void> {
    this.closing = true;
    this.lostListeners.clear();
    const client = this.client;
    this.client = undefined;
    this.connecting = undefined;
    this.held.clear();
    if (client && !this.lost) await client.end().catch(() => undefined);
  }
}
