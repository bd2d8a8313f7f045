// The RunStore contract on better-sqlite3: prepared statements, IMMEDIATE transactions, one per transition.
// better-sqlite3 is synchronous: every operation completes before its promise is returned, so calls commit in
// the order they are made.

import type Database from 'better-sqlite3';
import { StoreError } from '../../shared/errors.js';
import type {
  Actor,
  AttemptClose,
  AttemptRecord,
  ClaimRequest,
  ClusterHolder,
  CommandSpawn,
  CreateResult,
  ErrorInfo,
  Fence,
  HistoryFilter,
  LeaseResult,
  NewRun,
  RunStore,
  WorldSeed,
} from '../contract.js';
import { crashPoint } from '../crash-points.js';
import { claimCounts, type Liveness, leaseRefused } from '../lease-rules.js';
import {
  type AttemptRow,
  type CommandRow,
  type EventRow,
  type ObservationRow,
  type RunRow,
  toAttempt,
  toCommand,
  toEvent,
  toObservation,
  toRun,
  toStoredRun,
} from '../rows.js';
import { assembleSnapshot, hasPartRefs, type SnapshotWrite } from '../snapshot-parts.js';
import { leaseFence } from './fence.js';
import { damagedHint, isDamage } from './integrity.js';
import { type Db, diskFullNote } from './open-db.js';

// Turns SQLite's errors into StoreErrors that say what happened and what to do.
export function asStoreError(error: unknown, path: string): unknown {
  if (error instanceof StoreError || !(error instanceof Error) || !('code' in error) || !String((error as { code: unknown }).code).startsWith('SQLITE_'))
    return error;
  const code = String((error as { code: unknown }).code);
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new StoreError(`the database ${path} is busy (held by another process)`, {
      hint: 'another mesh-run (or a tool with the file open) holds a write lock; when it lets go, run the command again ("mesh-run resume" continues a run)',
      cause: error,
      busy: true,
    });
  }
  // A read runs into damage as often as a write: say what the file is, not which of them failed.
  if (isDamage(error)) return new StoreError(`the database ${path} is damaged: ${error.message} (${code})`, { hint: damagedHint(path), cause: error });
  const full = diskFullNote(path);
  if (full)
    return new StoreError(`cannot write the journal ${path}: ${error.message} (${full})`, {
      hint: 'free disk space, then "mesh-run resume" the run',
      cause: error,
    });
  if (code === 'SQLITE_READONLY_DIRECTORY' || code === 'SQLITE_CANTOPEN') {
    return new StoreError(
      `cannot write the journal ${path}: ${error.message} (${code}); SQLite keeps its -wal and -shm files beside the database, so its directory must be writable`,
      { hint: 'make the directory writable, or pass --db with a path in a writable one', cause: error },
    );
  }
  const hint =
    code === 'SQLITE_FULL'
      ? 'free disk space, then "mesh-run resume" the run'
      : code.startsWith('SQLITE_READONLY')
        ? 'the database or its directory is read-only; make it writable, or pass --db with a writable path'
        : 'check the file is an intact mesh-run database on a local file system';
  return new StoreError(`cannot write the journal ${path}: ${error.message} (${code})`, { hint, cause: error });
}

// The synchronous shape of an asynchronous contract: what better-sqlite3 code implements.
export type Synchronous<T> = { [K in keyof T]: T[K] extends (...args: infer A) => Promise<infer R> ? (...args: A) => R : T[K] };

// Wraps every method: callers see StoreError, never a raw driver error, and get a promise (the contract's
// shape), which the synchronous driver has already settled.
export function guarded<T extends object>(target: Synchronous<T>, path: string): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(target)) {
    if (typeof value !== 'function') continue;
    wrapped[name] = (...args: unknown[]) => {
      try {
        return Promise.resolve((value as (...a: unknown[]) => unknown)(...args));
      } catch (error) {
        return Promise.reject(asStoreError(error, path));
      }
    };
  }
  return wrapped as T;
}

// The WHERE clause and parameters of a history query: one condition per filter field that is set.
function conditions<F extends { limit: number }>(
  filter: F,
  clauses: Partial<Record<keyof F, string>>,
): { where: string; params: Record<string, string | number> } {
  const params: Record<string, string | number> = { limit: filter.limit };
  const parts: string[] = [];
  for (const [field, clause] of Object.entries(clauses) as Array<[string, string]>) {
    const value = (filter as Record<string, unknown>)[field];
    if (value === undefined) continue;
    parts.push(clause);
    params[field] = value as string | number;
  }
  return { where: parts.length ? `WHERE ${parts.join(' AND ')}` : '', params };
}

// Builds the store over an open, migrated database.
export function createSqliteRunStore(db: Db): RunStore {
  const s = {
    insertRun:
      db.prepare(`INSERT INTO runs (id, kind, topology, mode, status, config_json, config_hash, config_path, created_at, updated_at, machine_version, target_run, sim_world)
      VALUES (@id, @kind, @topology, @mode, 'running', @configJson, @configHash, @configPath, @createdAt, @createdAt, @machineVersion, @targetRun, @simWorld)`),
    getRun: db.prepare<[string], RunRow>('SELECT * FROM runs WHERE id = ?'),
    findIds: db.prepare<[string, number], { id: string }>(`SELECT id FROM runs WHERE id LIKE ? ESCAPE '\\' ORDER BY created_at DESC LIMIT ?`),
    listRuns: db.prepare<[number], RunRow>('SELECT * FROM runs ORDER BY created_at DESC, id DESC LIMIT ?'),
    saveSnapshot: db.prepare('UPDATE runs SET snapshot_json = COALESCE(?, snapshot_json), updated_at = ? WHERE id = ?'),
    savePart: db.prepare('INSERT INTO run_snapshot_parts (run_id, part, json) VALUES (?, ?, ?) ON CONFLICT (run_id, part) DO UPDATE SET json = excluded.json'),
    dropPart: db.prepare('DELETE FROM run_snapshot_parts WHERE run_id = ? AND part = ?'),
    dropParts: db.prepare('DELETE FROM run_snapshot_parts WHERE run_id = ?'),
    listParts: db.prepare<[string], { part: string; json: string }>('SELECT part, json FROM run_snapshot_parts WHERE run_id = ? ORDER BY part'),
    closeOpenAttempt: db.prepare(`UPDATE step_attempts SET outcome = ?, ended_at = ?, error = ?, output = ?
      WHERE id = (SELECT id FROM step_attempts WHERE run_id = ? AND step = ? AND cluster = ? AND outcome = 'running' ORDER BY attempt DESC LIMIT 1)`),
    nextAttempt: db.prepare<[string, string, string], { n: number }>(
      'SELECT COALESCE(MAX(attempt), 0) + 1 AS n FROM step_attempts WHERE run_id = ? AND step = ? AND cluster = ?',
    ),
    insertAttempt: db.prepare(`INSERT INTO step_attempts (run_id, step, cluster, context, attempt, started_at, outcome) VALUES (?, ?, ?, ?, ?, ?, 'running')`),
    getAttempt: db.prepare<[number | bigint], AttemptRow>('SELECT * FROM step_attempts WHERE id = ?'),
    closeAttempt: db.prepare(`UPDATE step_attempts SET outcome = ?, ended_at = ?, error = ? WHERE id = ? AND outcome = 'running'`),
    interruptOpen: db.prepare(`UPDATE step_attempts SET outcome = 'interrupted', ended_at = ?, error = ? WHERE run_id = ? AND outcome = 'running'`),
    interruptOpenCommands: db.prepare(`UPDATE commands SET ended_at = ? WHERE run_id = ? AND ended_at IS NULL`),
    setStatus: db.prepare(
      `UPDATE runs SET status = @status, updated_at = @at, finished_at = CASE WHEN @status = 'running' THEN NULL ELSE @at END, error_json = @error WHERE id = @id`,
    ),
    listAttempts: db.prepare<[string], AttemptRow>('SELECT * FROM step_attempts WHERE run_id = ? ORDER BY started_at, id'),
    insertCommand: db.prepare('INSERT INTO commands (run_id, attempt_id, tool, argv_json, context, started_at) VALUES (?, ?, ?, ?, ?, ?)'),
    finishCommand: db.prepare('UPDATE commands SET ended_at = ?, exit_code = ?, duration_ms = ?, stdout_tail = ?, stderr_tail = ? WHERE id = ?'),
    listCommands: db.prepare<[string], CommandRow>('SELECT * FROM commands WHERE run_id = ? ORDER BY id'),
    insertEvent: db.prepare('INSERT INTO run_events (run_id, at, type, user, host, pid, detail, step, cluster) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)'),
    listEvents: db.prepare<[string], EventRow>(
      'SELECT id, run_id, at, type, user, host, pid, detail, step, cluster FROM run_events WHERE run_id = ? ORDER BY id',
    ),
    setLease: db.prepare(
      'UPDATE runs SET lease_token = ?, lease_pid = ?, lease_host = ?, lease_user = ?, lease_heartbeat = ?, lease_proc_start = ? WHERE id = ?',
    ),
    heartbeat: db.prepare('UPDATE runs SET lease_heartbeat = ? WHERE id = ? AND lease_token = ?'),
    release: db.prepare(
      'UPDATE runs SET lease_token = NULL, lease_pid = NULL, lease_host = NULL, lease_user = NULL, lease_heartbeat = NULL, lease_proc_start = NULL WHERE id = ? AND lease_token = ?',
    ),
    claimOf: db.prepare<[string], { run_id: string }>('SELECT run_id FROM cluster_claims WHERE key = ?'),
    claim: db.prepare(
      'INSERT INTO cluster_claims (key, run_id, at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET run_id = excluded.run_id, at = excluded.at',
    ),
    unclaim: db.prepare('DELETE FROM cluster_claims WHERE run_id = ?'),
    updateConfig: db.prepare('UPDATE runs SET config_json = ?, config_hash = ? WHERE id = ?'),
    spawnCommand: db.prepare('UPDATE commands SET pid = ?, pgid = ?, proc_start = ? WHERE id = ?'),
    insertObservation: db.prepare('INSERT OR IGNORE INTO observations (run_id, cluster, subject, present, owner, detail, at) VALUES (?, ?, ?, ?, ?, ?, ?)'),
    listTargeting: db.prepare<[string], RunRow>('SELECT * FROM runs WHERE target_run = ? ORDER BY created_at, id'),
    putWorld: db.prepare('INSERT INTO sim_worlds (id, settings_json) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET settings_json = excluded.settings_json'),
    addFault: db.prepare('INSERT INTO sim_faults (world, step, cluster, remaining, kind) VALUES (?, ?, ?, ?, ?)'),
  };

  const errorJson = (error: ErrorInfo | null | undefined): string | null => (error ? JSON.stringify(error) : null);
  const fenced = leaseFence(db);
  // One IMMEDIATE transaction that writes only while `fence` holds the run.
  const underLease = <T>(runId: string, fence: Fence, write: () => T): T =>
    db
      .transaction(() => {
        fenced(runId, fence);
        return write();
      })
      .immediate();
  // History filters combine freely; each distinct combination is prepared once and reused.
  type Named = [Record<string, string | number>];
  const statements = new Map<string, Database.Statement<Named, unknown>>();
  const cachedStatement = <R>(sql: string): Database.Statement<Named, R> => {
    let statement = statements.get(sql);
    if (!statement) {
      statement = db.prepare<Named, unknown>(sql);
      statements.set(sql, statement);
    }
    return statement as Database.Statement<Named, R>;
  };

  // The live run (not `runId`) that holds one of `keys`: running, with a fresh heartbeat and a live holder.
  const heldElsewhere = (runId: string, keys: readonly string[], live: Liveness): ClusterHolder | undefined => {
    for (const key of keys) {
      const claim = s.claimOf.get(key);
      if (!claim || claim.run_id === runId) continue;
      const row = s.getRun.get(claim.run_id);
      const other = row ? toRun(row) : undefined;
      if (claimCounts(other, live)) return { runId: other.id, kind: other.kind, key, lease: other.lease };
    }
    return undefined;
  };

  // The row with its snapshot's parts put back.
  const whole = (row: RunRow): RunRow =>
    hasPartRefs(row.snapshot_json)
      ? { ...row, snapshot_json: assembleSnapshot(row.snapshot_json, new Map(s.listParts.all(row.id).map((p) => [p.part, p.json]))) }
      : row;
  const saveSnapshot = (runId: string, snapshot: SnapshotWrite, at: number) => {
    s.saveSnapshot.run(snapshot.root ?? null, at, runId);
    if (snapshot.full) s.dropParts.run(runId);
    for (const id of snapshot.dropped) s.dropPart.run(runId, id);
    for (const [id, json] of snapshot.parts) s.savePart.run(runId, id, json);
  };

  const insertAttempt = (runId: string, slot: { step: string; cluster: string; context: string | null }, at: number): AttemptRecord => {
    const { n } = s.nextAttempt.get(runId, slot.step, slot.cluster) as { n: number };
    const info = s.insertAttempt.run(runId, slot.step, slot.cluster, slot.context, n, at);
    return toAttempt(s.getAttempt.get(info.lastInsertRowid) as AttemptRow);
  };

  return guarded<RunStore>(
    {
      createRun(run: NewRun, actor: Actor, claim: ClaimRequest, seed?: WorldSeed): CreateResult {
        const result = db
          .transaction((): CreateResult => {
            const busy = heldElsewhere(run.id, claim.keys, { now: claim.lease.heartbeat, staleAfterMs: claim.staleAfterMs, isAlive: claim.isAlive });
            if (busy) return { created: false, busy };
            if (seed?.world) s.putWorld.run(seed.world.id, seed.world.settingsJson);
            for (const f of seed?.faults ?? []) s.addFault.run(seed?.faultWorld, f.step, f.cluster, f.remaining, f.kind);
            s.insertRun.run({
              id: run.id,
              kind: run.kind,
              topology: run.topology,
              mode: run.mode,
              configJson: JSON.stringify(run.config),
              configHash: run.configHash,
              configPath: run.configPath,
              createdAt: run.createdAt,
              machineVersion: run.machineVersion,
              targetRun: run.targetRun ?? null,
              simWorld: run.simWorld ?? null,
            });
            s.insertEvent.run(run.id, run.createdAt, 'started', actor.user, actor.host, actor.pid, null, null, null);
            for (const e of run.events ?? []) s.insertEvent.run(run.id, run.createdAt, e.type, actor.user, actor.host, actor.pid, e.detail, null, null);
            const l = claim.lease;
            s.setLease.run(l.token, l.pid, l.host, l.user, l.heartbeat, l.procStart ?? null, run.id);
            for (const key of claim.keys) s.claim.run(key, run.id, run.createdAt);
            return { created: true };
          })
          .immediate();
        if (result.created) crashPoint('journal-write');
        return result;
      },
      getRun(id) {
        const row = s.getRun.get(id);
        return row ? toRun(whole(row)) : undefined;
      },
      findRunIds(prefix, limit) {
        const escaped = prefix.replace(/[\\%_]/g, (c) => `\\${c}`);
        return s.findIds.all(`${escaped}%`, limit).map((r) => r.id);
      },
      listRuns(limit) {
        return s.listRuns.all(limit).map(toRun);
      },
      commitTransition(runId, fence, snapshot, closes: readonly AttemptClose[], at) {
        underLease(runId, fence, () => {
          saveSnapshot(runId, snapshot, at);
          if (closes.length > 0) crashPoint('in-transaction');
          for (const c of closes) s.closeOpenAttempt.run(c.outcome, c.at, errorJson(c.error), c.output ?? null, runId, c.step, c.cluster);
        });
        if (closes.length > 0) crashPoint('journal-write');
      },
      openAttempt(runId, fence, snapshot, slot, at, closes = []) {
        const attempt = underLease(runId, fence, () => {
          if (snapshot !== null) saveSnapshot(runId, snapshot, at);
          for (const c of closes) s.closeOpenAttempt.run(c.outcome, c.at, errorJson(c.error), c.output ?? null, runId, c.step, c.cluster);
          const created = insertAttempt(runId, slot, at);
          crashPoint('in-transaction');
          return created;
        });
        crashPoint('journal-write');
        return attempt;
      },
      closeAttempt(runId, fence, attemptId, outcome, error, at) {
        underLease(runId, fence, () => s.closeAttempt.run(outcome, at, errorJson(error), attemptId));
        crashPoint('journal-write');
      },
      updateRunConfig(runId, fence, config, configHash) {
        underLease(runId, fence, () => s.updateConfig.run(JSON.stringify(config), configHash, runId));
        crashPoint('journal-write');
      },
      beginResume(runId, fence, reason, actor, at, detail) {
        underLease(runId, fence, () => {
          s.interruptOpenCommands.run(at, runId);
          s.interruptOpen.run(at, JSON.stringify({ message: reason }), runId);
          s.setStatus.run({ id: runId, status: 'running', at, error: null });
          crashPoint('in-transaction');
          s.insertEvent.run(runId, at, 'resumed', actor.user, actor.host, actor.pid, detail ?? null, null, null);
        });
        crashPoint('journal-write');
      },
      endRun(runId, fence, status, actor, at, error, detail) {
        underLease(runId, fence, () => {
          if (status === 'interrupted') {
            s.interruptOpenCommands.run(at, runId);
            s.interruptOpen.run(at, JSON.stringify({ message: error?.message ?? 'interrupted' }), runId);
          }
          s.setStatus.run({ id: runId, status, at, error: errorJson(error) });
          // A run that is over (or interrupted) holds no clusters and no lease any more: in the same step, so
          // no other driver can act on it between its end and its release.
          s.release.run(runId, fence);
          s.unclaim.run(runId);
          crashPoint('in-transaction');
          s.insertEvent.run(runId, at, status, actor.user, actor.host, actor.pid, detail ?? null, null, null);
        });
        crashPoint('journal-write');
      },
      listAttempts(runId) {
        return s.listAttempts.all(runId).map(toAttempt);
      },
      journalCommands(runId, fence, starts, finishes, spawns: readonly CommandSpawn[] = []) {
        if (starts.length === 0 && finishes.length === 0 && spawns.length === 0) return [];
        const ids = underLease(runId, fence, () => {
          const created = starts.map((c) => Number(s.insertCommand.run(c.runId, c.attemptId, c.tool, JSON.stringify(c.argv), c.context, c.at).lastInsertRowid));
          for (const p of spawns) s.spawnCommand.run(p.pid, p.pgid, p.procStart, p.id);
          for (const r of finishes) s.finishCommand.run(r.at, r.exitCode, r.durationMs, r.stdoutTail, r.stderrTail, r.id);
          crashPoint('in-transaction');
          return created;
        });
        crashPoint('journal-write');
        return ids;
      },
      listCommands(runId) {
        return s.listCommands.all(runId).map(toCommand);
      },
      addEvent(runId, fence, type, actor, at, detail, where) {
        const insert = () => s.insertEvent.run(runId, at, type, actor.user, actor.host, actor.pid, detail ?? null, where?.step ?? null, where?.cluster ?? null);
        if (fence === null) insert();
        else underLease(runId, fence, insert);
        crashPoint('journal-write');
      },
      recordObservations(runId, fence, observations) {
        if (observations.length === 0) return;
        underLease(runId, fence, () => {
          for (const o of observations)
            s.insertObservation.run(o.runId, o.cluster, o.subject, o.present ? 1 : 0, o.owner, o.detail ? JSON.stringify(o.detail) : null, o.at);
        });
        crashPoint('journal-write');
      },
      listObservations(runIds) {
        if (runIds.length === 0) return [];
        const sql = `SELECT run_id, cluster, subject, present, owner, detail, at FROM observations WHERE run_id IN (${runIds.map(() => '?').join(', ')}) ORDER BY at, id`;
        return (db.prepare(sql).all(...runIds) as ObservationRow[]).map(toObservation);
      },
      listRunsTargeting(runId) {
        return s.listTargeting.all(runId).map(toRun);
      },
      queryAttempts(filter: HistoryFilter) {
        const { where, params } = conditions(filter, {
          runId: 'run_id = @runId',
          cluster: 'cluster = @cluster',
          step: 'step = @step',
          outcome: 'outcome = @outcome',
          since: 'started_at >= @since',
          until: 'started_at < @until',
          kind: 'run_id IN (SELECT id FROM runs WHERE kind = @kind)',
        });
        const sql = `SELECT * FROM step_attempts ${where} ORDER BY started_at DESC, id DESC LIMIT @limit`;
        return cachedStatement<AttemptRow>(sql).all(params).map(toAttempt);
      },
      queryEvents(filter) {
        const { where, params } = conditions(filter, {
          runId: 'run_id = @runId',
          since: 'at >= @since',
          until: 'at < @until',
          kind: 'run_id IN (SELECT id FROM runs WHERE kind = @kind)',
        });
        const sql = `SELECT id, run_id, at, type, user, host, pid, detail, step, cluster FROM run_events ${where} ORDER BY at DESC, id DESC LIMIT @limit`;
        return cachedStatement<EventRow>(sql).all(params).map(toEvent);
      },
      listEvents(runId) {
        return s.listEvents.all(runId).map(toEvent);
      },
      acquireLease(runId, candidate, staleAfterMs, isAlive, keys = []): LeaseResult {
        return db
          .transaction((): LeaseResult => {
            const row = s.getRun.get(runId);
            if (!row) throw new Error(`run ${runId} vanished while taking its lease`);
            const current = toRun(row).lease;
            const live: Liveness = { now: candidate.heartbeat, staleAfterMs, isAlive };
            if (current && leaseRefused(current, candidate, live)) return { acquired: false, holder: current };
            const busy = heldElsewhere(runId, keys, live);
            if (busy) return { acquired: false, busy };
            for (const key of keys) s.claim.run(key, runId, candidate.heartbeat);
            s.setLease.run(candidate.token, candidate.pid, candidate.host, candidate.user, candidate.heartbeat, candidate.procStart ?? null, runId);
            return current !== null && current.token !== candidate.token ? { acquired: true, tookOverFrom: current } : { acquired: true };
          })
          .immediate();
      },
      heartbeat(runId, token, at) {
        return s.heartbeat.run(at, runId, token).changes === 1;
      },
      watchLease() {
        // One file, no session: a lost lease shows in the fenced writes and the heartbeat.
        return () => undefined;
      },
      releaseLease(runId, token) {
        db.transaction(() => {
          if (s.release.run(runId, token).changes > 0) s.unclaim.run(runId);
        }).immediate();
      },
      breakLease(runId, token, actor, at, detail) {
        return db
          .transaction((): 'released' | 'changed' => {
            if (s.release.run(runId, token).changes === 0) return 'changed';
            s.unclaim.run(runId);
            s.insertEvent.run(runId, at, 'unlocked', actor.user, actor.host, actor.pid, detail, null, null);
            return 'released';
          })
          .immediate();
      },
      watchRun(_runId, onChange) {
        // data_version moves whenever another connection commits: re-read then (every change, any run).
        let seen = db.pragma('data_version', { simple: true });
        const timer = setInterval(() => {
          try {
            const now = db.pragma('data_version', { simple: true });
            if (now !== seen) {
              seen = now;
              onChange();
            }
          } catch {
            // the next read reports a broken database
          }
        }, 250);
        return async () => clearInterval(timer);
      },
      exportRun(runId) {
        const row = s.getRun.get(runId);
        if (!row) return undefined;
        return {
          run: toStoredRun(row),
          parts: s.listParts.all(runId).map((p) => ({ part: p.part, json: p.json })),
          attempts: s.listAttempts.all(runId).map(toAttempt),
          commands: s.listCommands.all(runId).map(toCommand),
          events: s.listEvents.all(runId).map(toEvent),
          observations: (
            db
              .prepare('SELECT run_id, cluster, subject, present, owner, detail, at FROM observations WHERE run_id = ? ORDER BY id')
              .all(runId) as ObservationRow[]
          ).map(toObservation),
        };
      },
      importRun(data) {
        db.transaction(() => {
          const r = data.run;
          db.prepare(
            `INSERT INTO runs (id, kind, topology, mode, status, config_json, config_hash, config_path, created_at, updated_at, finished_at, machine_version, snapshot_json, error_json, target_run, sim_world)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          ).run(
            r.id,
            r.kind,
            r.topology,
            r.mode,
            r.status,
            r.configJson,
            r.configHash,
            r.configPath,
            r.createdAt,
            r.updatedAt,
            r.finishedAt,
            r.machineVersion,
            r.snapshotJson,
            r.errorJson,
            r.targetRun,
            r.simWorld,
          );
          const attemptIds = new Map<number, number>();
          const insertAttempt = db.prepare(
            'INSERT INTO step_attempts (run_id, step, cluster, context, attempt, started_at, ended_at, outcome, error, output) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
          );
          for (const a of data.attempts) {
            const info = insertAttempt.run(
              r.id,
              a.step,
              a.cluster,
              a.context,
              a.attempt,
              a.startedAt,
              a.endedAt,
              a.outcome,
              a.error ? JSON.stringify(a.error) : null,
              a.output ?? null,
            );
            attemptIds.set(a.id, Number(info.lastInsertRowid));
          }
          const insertCommand = db.prepare(
            `INSERT INTO commands (run_id, attempt_id, tool, argv_json, context, started_at, ended_at, exit_code, duration_ms, stdout_tail, stderr_tail, pid, pgid, proc_start)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          );
          for (const c of data.commands) {
            insertCommand.run(
              r.id,
              c.attemptId === null ? null : (attemptIds.get(c.attemptId) ?? null),
              c.tool,
              JSON.stringify(c.argv),
              c.context,
              c.startedAt,
              c.endedAt,
              c.exitCode,
              c.durationMs,
              c.stdoutTail,
              c.stderrTail,
              c.pid,
              c.pgid,
              c.procStart,
            );
          }
          for (const p of data.parts) s.savePart.run(r.id, p.part, p.json);
          for (const e of data.events) s.insertEvent.run(r.id, e.at, e.type, e.user, e.host, e.pid, e.detail, e.step, e.cluster);
          for (const o of data.observations)
            s.insertObservation.run(r.id, o.cluster, o.subject, o.present ? 1 : 0, o.owner, o.detail ? JSON.stringify(o.detail) : null, o.at);
        }).immediate();
      },
    },
    db.name,
  );
}
