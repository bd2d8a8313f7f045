// Saves what still reads back from a damaged journal into a new file (mesh-run store recover).
//
// The sqlite3 shell's .recover needs the sqlite_dbpage table, which neither Debian's sqlite3 nor
// better-sqlite3 is built with. This reads every table by rowid instead, so a damaged page costs the rows it
// holds and no others: a read that fails is resumed at the first rowid after it that reads (one rowid at a
// time across a leaf page's worth, then in doubling steps across what a damaged interior page hides). Rows
// are written to a new database made by the current migrations, parents first; a row whose parent was lost,
// or that breaks a constraint (its bytes were damaged), is left out and counted.
import Database from 'better-sqlite3';
import { PreconditionError } from '../../shared/errors.js';
import { integrityProblems, isDamage, writeStamp } from './integrity.js';
import { SCHEMA_VERSION } from './migrations.js';
import { damagedError, openDb } from './open-db.js';

export interface TableRecovery {
  table: string;
  copied: number;
  // Rows that read back but were left out: a lost parent, a broken constraint.
  refused: number;
  // Stretches that could not be read: the rowids between `after` and `before` (null: to the table's end).
  unreadable: Array<{ after: number; before: number | null }>;
}

export interface RecoveryReport {
  tables: TableRecovery[];
  // What quick_check said of the damaged file.
  damage: string[];
}

type Row = Record<string, unknown> & { __rowid: number };

// Past a leaf page's worth of rowids, a damaged stretch is crossed in doubling steps.
const STEP_BY_ONE = 4096;

export function recoverSqlite(from: string, to: string): RecoveryReport {
  let source: Database.Database;
  try {
    source = new Database(from, { readonly: true, fileMustExist: true });
  } catch (error) {
    throw new PreconditionError('store-unusable', `cannot read the database ${from}: ${(error as Error).message}`, { cause: error });
  }
  try {
    let version: number;
    try {
      version = source.pragma('user_version', { simple: true }) as number;
      source.prepare('SELECT count(*) FROM sqlite_schema').get();
    } catch (error) {
      if (!isDamage(error)) throw error;
      throw new PreconditionError('store-unrecoverable', `nothing can be read from ${from}: the pages that say where its tables are (the schema) are damaged`, {
        hint: 'restore the file from a backup, or start a new journal with --db',
        cause: error,
      });
    }
    let damage: string[];
    try {
      damage = integrityProblems(source);
    } catch (error) {
      if (!isDamage(error)) throw error;
      damage = [(error as Error).message];
    }
    if (version === 0)
      throw new PreconditionError('store-not-database', `${from} is not a mesh-run database`, { hint: 'pass --from with the file mesh-run created' });
    if (version > SCHEMA_VERSION)
      throw new PreconditionError(
        'store-newer',
        `the database ${from} has schema version ${version}, newer than this mesh-run understands (${SCHEMA_VERSION})`,
        {
          hint: 'recover it with the mesh-run that wrote it',
        },
      );
    const target = openDb(to);
    try {
      const tables = parentsFirst(target).map((table) => copyTable(source, target, table));
      const left = integrityProblems(target);
      if (left.length) throw damagedError(to, left[0] as string);
      return { tables, damage };
    } finally {
      target.close();
      writeStamp(to);
    }
  } finally {
    source.close();
  }
}

// The target's tables, each after the tables its foreign keys name.
function parentsFirst(db: Database.Database): string[] {
  const names = (
    db.prepare(`SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`).all() as Array<{ name: string }>
  ).map((r) => r.name);
  const parents = new Map(names.map((n) => [n, (db.pragma(`foreign_key_list("${n}")`) as Array<{ table: string }>).map((fk) => fk.table)]));
  const ordered: string[] = [];
  const visit = (name: string) => {
    if (ordered.includes(name)) return;
    for (const parent of parents.get(name) ?? []) if (parent !== name) visit(parent);
    ordered.push(name);
  };
  for (const name of names) visit(name);
  return ordered;
}

function columnsOf(db: Database.Database, table: string): string[] {
  return (db.pragma(`table_info("${table}")`) as Array<{ name: string }>).map((c) => c.name);
}

function copyTable(source: Database.Database, target: Database.Database, table: string): TableRecovery {
  const result: TableRecovery = { table, copied: 0, refused: 0, unreadable: [] };
  let sourceColumns: string[];
  try {
    sourceColumns = columnsOf(source, table);
  } catch (error) {
    if (!isDamage(error)) throw error;
    sourceColumns = [];
  }
  // A table an older schema did not have yet, or columns it did not have: the defaults stand.
  const columns = columnsOf(target, table).filter((c) => sourceColumns.includes(c));
  if (!columns.length) return result;
  const list = columns.map((c) => `"${c}"`).join(', ');
  const read = source.prepare(`SELECT rowid AS __rowid, ${list} FROM "${table}" WHERE rowid >= ? ORDER BY rowid`);
  const first = source.prepare(`SELECT rowid AS __rowid, ${list} FROM "${table}" WHERE rowid >= ? ORDER BY rowid LIMIT 1`);
  const insert = target.prepare(`INSERT INTO "${table}" (${list}) VALUES (${columns.map(() => '?').join(', ')})`);
  const readable = (from: number) => {
    try {
      first.get(from);
      return true;
    } catch (error) {
      if (!isDamage(error)) throw error;
      return false;
    }
  };
  target.transaction(() => {
    let next = firstRowid(source, table);
    // The rowid of the last row read (before the first: one before where the table starts).
    let last = next - 1;
    let gapAfter: number | undefined;
    for (;;) {
      try {
        for (const row of read.iterate(next) as Iterable<Row>) {
          if (gapAfter !== undefined) {
            result.unreadable.push({ after: gapAfter, before: row.__rowid });
            gapAfter = undefined;
          }
          last = row.__rowid;
          try {
            insert.run(...columns.map((c) => row[c]));
            result.copied++;
          } catch (error) {
            if (!String((error as { code?: unknown }).code).startsWith('SQLITE_CONSTRAINT')) throw error;
            result.refused++;
          }
        }
        if (gapAfter !== undefined) result.unreadable.push({ after: gapAfter, before: null });
        return;
      } catch (error) {
        if (!isDamage(error)) throw error;
        // Past the last row read, and never back before where this read began.
        const stuck = Math.max(next, last + 1);
        gapAfter ??= last;
        const resume = firstReadableAfter(stuck, readable);
        if (resume === undefined) {
          result.unreadable.push({ after: gapAfter, before: null });
          return;
        }
        next = resume;
      }
    }
  })();
  return result;
}

// Where a table's rows start: its smallest rowid, or 1 (where SQLite starts them) when that cannot be read.
function firstRowid(db: Database.Database, table: string): number {
  try {
    const row = db.prepare(`SELECT min(rowid) AS first FROM "${table}"`).get() as { first: number | null };
    return Math.min(row.first ?? 1, 1);
  } catch (error) {
    if (!isDamage(error)) throw error;
    return 1;
  }
}

// The first rowid after `stuck` (which cannot be read) from which a read works.
function firstReadableAfter(stuck: number, readable: (from: number) => boolean): number | undefined {
  let low = stuck;
  let found: number | undefined;
  for (let step = 1; stuck + step <= Number.MAX_SAFE_INTEGER; step = step < STEP_BY_ONE ? step + 1 : step * 2) {
    if (readable(stuck + step)) {
      found = stuck + step;
      break;
    }
    low = stuck + step;
  }
  if (found === undefined) return undefined;
  let high: number = found;
  while (high - low > 1) {
    const mid: number = low + Math.floor((high - low) / 2);
    if (readable(mid)) high = mid;
    else low = mid;
  }
  return high;
}
