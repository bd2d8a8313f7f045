// Every schema change, in order. A database records the last applied version in PRAGMA user_version.

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'runs, step attempts, commands, operator events, simulated clusters',
    sql: `
      CREATE TABLE runs (
        id              TEXT PRIMARY KEY,
        kind            TEXT NOT NULL,             -- what the run does: install
        topology        TEXT NOT NULL,             -- primary-remote
        mode            TEXT NOT NULL CHECK (mode IN ('dry-run', 'real')),
        status          TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'interrupted')),
        config_json     TEXT NOT NULL,
        config_hash     TEXT NOT NULL,
        config_path     TEXT,
        created_at      INTEGER NOT NULL,          -- ms since the epoch, as every time column
        updated_at      INTEGER NOT NULL,
        finished_at     INTEGER,
        machine_version INTEGER NOT NULL,
        snapshot_json   TEXT,                      -- XState persisted snapshot, written with each transition
        error_json      TEXT,
        lease_token     TEXT,
        lease_pid       INTEGER,
        lease_host      TEXT,
        lease_user      TEXT,
        lease_heartbeat INTEGER
      );
      CREATE INDEX runs_created ON runs (created_at DESC);

      CREATE TABLE step_attempts (
        id          INTEGER PRIMARY KEY,
        run_id      TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        step        TEXT NOT NULL,
        cluster     TEXT NOT NULL,
        context     TEXT,
        attempt     INTEGER NOT NULL,
        started_at  INTEGER NOT NULL,
        ended_at    INTEGER,
        outcome     TEXT NOT NULL CHECK (outcome IN ('running', 'succeeded', 'failed', 'interrupted')),
        error       TEXT,
        UNIQUE (run_id, step, cluster, attempt)
      );
      CREATE INDEX step_attempts_started ON step_attempts (started_at);

      CREATE TABLE commands (
        id          INTEGER PRIMARY KEY,
        run_id      TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        attempt_id  INTEGER REFERENCES step_attempts (id) ON DELETE CASCADE,
        tool        TEXT NOT NULL,
        argv_json   TEXT NOT NULL,                 -- redacted
        context     TEXT,
        started_at  INTEGER NOT NULL,
        ended_at    INTEGER,
        exit_code   INTEGER,
        duration_ms INTEGER,
        stdout_tail TEXT,                          -- redacted
        stderr_tail TEXT                           -- redacted
      );
      CREATE INDEX commands_attempt ON commands (attempt_id);
      CREATE INDEX commands_run ON commands (run_id, id);

      CREATE TABLE run_events (
        id      INTEGER PRIMARY KEY,
        run_id  TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        at      INTEGER NOT NULL,
        type    TEXT NOT NULL,                     -- started, resumed, forced, interrupted, failed, succeeded, lease-taken-over
        user    TEXT,
        host    TEXT,
        pid     INTEGER,
        detail  TEXT
      );
      CREATE INDEX run_events_run ON run_events (run_id, id);

      CREATE TABLE sim_worlds (
        id            TEXT PRIMARY KEY,
        settings_json TEXT NOT NULL
      );

      CREATE TABLE sim_objects (
        world      TEXT NOT NULL REFERENCES sim_worlds (id) ON DELETE CASCADE,
        context    TEXT NOT NULL,
        kind       TEXT NOT NULL,
        namespace  TEXT NOT NULL,                  -- '' for cluster-scoped objects
        name       TEXT NOT NULL,
        body_json  TEXT NOT NULL,
        PRIMARY KEY (world, context, kind, namespace, name)
      );

      CREATE TABLE sim_faults (
        id        INTEGER PRIMARY KEY,
        world     TEXT NOT NULL REFERENCES sim_worlds (id) ON DELETE CASCADE,
        step      TEXT NOT NULL,
        cluster   TEXT,                            -- null: any cluster the step runs on
        remaining INTEGER NOT NULL,
        kind      TEXT NOT NULL CHECK (kind IN ('permanent', 'transient'))
      );
    `,
  },
  {
    version: 2,
    name: 'indexes for history queries',
    sql: `
      CREATE INDEX step_attempts_cluster_started ON step_attempts (cluster, started_at);
      CREATE INDEX step_attempts_step_started ON step_attempts (step, started_at);
      CREATE INDEX step_attempts_outcome_started ON step_attempts (outcome, started_at);
      CREATE INDEX run_events_at ON run_events (at);
    `,
  },
  {
    version: 3,
    name: 'verify and uninstall runs: the run they act on, the simulated clusters they share',
    sql: `
      ALTER TABLE runs ADD COLUMN target_run TEXT;   -- the install run a verify or uninstall run acts on
      ALTER TABLE runs ADD COLUMN sim_world TEXT;    -- dry runs: the simulated clusters (null: the run's own id)
    `,
  },
  {
    version: 4,
    name: 'what existed before a run acted, warnings per step, the processes behind commands and leases',
    sql: `
      CREATE TABLE observations (
        id       INTEGER PRIMARY KEY,
        run_id   TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        cluster  TEXT NOT NULL,
        subject  TEXT NOT NULL,                     -- namespace/istio-system, secret/istio-system/cacerts ...
        present  INTEGER NOT NULL,                  -- 1: it existed before the run changed anything
        owner    TEXT,                              -- 'mesh-run' when it carried mesh-run's label then
        detail   TEXT,                              -- JSON: labels and annotations a step may change
        at       INTEGER NOT NULL,
        UNIQUE (run_id, cluster, subject)           -- the first observation of a run is the one that counts
      );
      ALTER TABLE run_events ADD COLUMN step TEXT;
      ALTER TABLE run_events ADD COLUMN cluster TEXT;
      ALTER TABLE commands ADD COLUMN pid INTEGER;
      ALTER TABLE commands ADD COLUMN pgid INTEGER;
      ALTER TABLE commands ADD COLUMN proc_start TEXT; -- "<boot id>:<start ticks>": a live process, not a reused pid
      ALTER TABLE runs ADD COLUMN lease_proc_start TEXT;
    `,
  },
  {
    version: 5,
    name: 'which run holds which clusters: claimed with the run and its lease in one transaction',
    sql: `
      CREATE TABLE cluster_claims (
        key     TEXT PRIMARY KEY,                  -- context:<kube context> (real) or world:<id> (simulated)
        run_id  TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        at      INTEGER NOT NULL
      );
      CREATE INDEX cluster_claims_run ON cluster_claims (run_id);
    `,
  },
  {
    version: 6,
    name: 'what a succeeded step returned, for resume --from to replay',
    sql: `
      ALTER TABLE step_attempts ADD COLUMN output TEXT;  -- JSON, redacted; never a secret's data
    `,
  },
  {
    version: 7,
    name: 'snapshots in parts: a transition writes only the child machines that moved',
    sql: `
      CREATE TABLE run_snapshot_parts (
        run_id  TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        part    TEXT NOT NULL,                     -- the child actor's id in the root snapshot
        json    TEXT NOT NULL,
        PRIMARY KEY (run_id, part)
      );
    `,
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;
