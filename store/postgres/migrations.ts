// The PostgreSQL schema, as versioned migrations inside one schema (default mesh_run). Applied under an
// advisory lock, so processes that start together migrate once; a store newer than this client is refused.
// The tables mirror the SQLite ones; `user` is a reserved word here, so actors are actor_user/host/pid.

export interface PgMigration {
  version: number;
  name: string;
  // Statements with {s} standing for the quoted schema name.
  sql: string;
}

export const PG_MIGRATIONS: readonly PgMigration[] = [
  {
    version: 1,
    name: 'runs, attempts, commands, events, observations, cluster claims, simulated worlds',
    sql: `
      CREATE TABLE {s}.runs (
        id               TEXT PRIMARY KEY,
        kind             TEXT NOT NULL,
        topology         TEXT NOT NULL,
        mode             TEXT NOT NULL CHECK (mode IN ('dry-run', 'real')),
        status           TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'interrupted')),
        config_json      TEXT NOT NULL,
        config_hash      TEXT NOT NULL,
        config_path      TEXT,
        created_at       BIGINT NOT NULL,           -- ms since the epoch, as every time column
        updated_at       BIGINT NOT NULL,
        finished_at      BIGINT,
        machine_version  INTEGER NOT NULL,
        snapshot_json    TEXT,
        error_json       TEXT,
        lease_token      TEXT,
        lease_pid        INTEGER,
        lease_host       TEXT,
        lease_user       TEXT,
        lease_heartbeat  BIGINT,
        lease_proc_start TEXT,
        target_run       TEXT,
        sim_world        TEXT
      );
      CREATE INDEX runs_created ON {s}.runs (created_at DESC, id DESC);
      CREATE INDEX runs_target ON {s}.runs (target_run);

      CREATE TABLE {s}.step_attempts (
        id          BIGSERIAL PRIMARY KEY,
        run_id      TEXT NOT NULL REFERENCES {s}.runs (id) ON DELETE CASCADE,
        step        TEXT NOT NULL,
        cluster     TEXT NOT NULL,
        context     TEXT,
        attempt     INTEGER NOT NULL,
        started_at  BIGINT NOT NULL,
        ended_at    BIGINT,
        outcome     TEXT NOT NULL CHECK (outcome IN ('running', 'succeeded', 'failed', 'interrupted')),
        error       TEXT,
        UNIQUE (run_id, step, cluster, attempt)
      );
      CREATE INDEX step_attempts_started ON {s}.step_attempts (started_at DESC, id DESC);
      CREATE INDEX step_attempts_cluster_started ON {s}.step_attempts (cluster, started_at DESC);
      CREATE INDEX step_attempts_step_started ON {s}.step_attempts (step, started_at DESC);
      CREATE INDEX step_attempts_outcome_started ON {s}.step_attempts (outcome, started_at DESC);

      CREATE TABLE {s}.commands (
        id          BIGSERIAL PRIMARY KEY,
        run_id      TEXT NOT NULL REFERENCES {s}.runs (id) ON DELETE CASCADE,
        attempt_id  BIGINT REFERENCES {s}.step_attempts (id) ON DELETE CASCADE,
        tool        TEXT NOT NULL,
        argv_json   TEXT NOT NULL,
        context     TEXT,
        started_at  BIGINT NOT NULL,
        ended_at    BIGINT,
        exit_code   INTEGER,
        duration_ms BIGINT,
        stdout_tail TEXT,
        stderr_tail TEXT,
        pid         INTEGER,
        pgid        INTEGER,
        proc_start  TEXT
      );
      CREATE INDEX commands_run ON {s}.commands (run_id, id);
      CREATE INDEX commands_attempt ON {s}.commands (attempt_id);

      CREATE TABLE {s}.run_events (
        id          BIGSERIAL PRIMARY KEY,
        run_id      TEXT NOT NULL REFERENCES {s}.runs (id) ON DELETE CASCADE,
        at          BIGINT NOT NULL,
        type        TEXT NOT NULL,
        actor_user  TEXT,
        actor_host  TEXT,
        actor_pid   INTEGER,
        detail      TEXT,
        step        TEXT,
        cluster     TEXT
      );
      CREATE INDEX run_events_run ON {s}.run_events (run_id, id);
      CREATE INDEX run_events_at ON {s}.run_events (at DESC, id DESC);

      CREATE TABLE {s}.observations (
        id       BIGSERIAL PRIMARY KEY,
        run_id   TEXT NOT NULL REFERENCES {s}.runs (id) ON DELETE CASCADE,
        cluster  TEXT NOT NULL,
        subject  TEXT NOT NULL,
        present  BOOLEAN NOT NULL,
        owner    TEXT,
        detail   TEXT,
        at       BIGINT NOT NULL,
        UNIQUE (run_id, cluster, subject)
      );

      CREATE TABLE {s}.cluster_claims (
        key     TEXT PRIMARY KEY,
        run_id  TEXT NOT NULL REFERENCES {s}.runs (id) ON DELETE CASCADE,
        at      BIGINT NOT NULL
      );
      CREATE INDEX cluster_claims_run ON {s}.cluster_claims (run_id);

      CREATE TABLE {s}.sim_worlds (
        id            TEXT PRIMARY KEY,
        settings_json TEXT NOT NULL,
        version       BIGINT NOT NULL DEFAULT 0   -- bumped by every simulated API call: caches compare it
      );

      CREATE TABLE {s}.sim_objects (
        world      TEXT NOT NULL REFERENCES {s}.sim_worlds (id) ON DELETE CASCADE,
        context    TEXT NOT NULL,
        kind       TEXT NOT NULL,
        namespace  TEXT NOT NULL,
        name       TEXT NOT NULL,
        body_json  TEXT NOT NULL,
        PRIMARY KEY (world, context, kind, namespace, name)
      );

      CREATE TABLE {s}.sim_faults (
        id        BIGSERIAL PRIMARY KEY,
        world     TEXT NOT NULL,
        step      TEXT NOT NULL,
        cluster   TEXT,
        remaining INTEGER NOT NULL,
        kind      TEXT NOT NULL CHECK (kind IN ('permanent', 'transient'))
      );
      CREATE INDEX sim_faults_world ON {s}.sim_faults (world, id);
    `,
  },
  {
    version: 2,
    name: 'what a succeeded step returned, for resume --from to replay',
    sql: `
      ALTER TABLE {s}.step_attempts ADD COLUMN output TEXT;  -- JSON, redacted; never a secret's data
    `,
  },
  {
    version: 3,
    name: 'snapshots in parts: a transition writes only the child machines that moved',
    sql: `
      CREATE TABLE {s}.run_snapshot_parts (
        run_id  TEXT NOT NULL REFERENCES {s}.runs (id) ON DELETE CASCADE,
        part    TEXT NOT NULL,
        json    TEXT NOT NULL,
        PRIMARY KEY (run_id, part)
      );
    `,
  },
];

export const PG_SCHEMA_VERSION = PG_MIGRATIONS[PG_MIGRATIONS.length - 1]?.version ?? 0;
