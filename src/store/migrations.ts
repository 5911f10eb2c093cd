/**
 * Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
 * Never edit a shipped migration: append a new one.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE projects (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
  );
  CREATE TABLE environments (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (project_id, name)
  );
  CREATE TABLE services (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (project_id, name)
  );
  -- Railway's "service instance": one service in one environment, and what it serves now.
  CREATE TABLE service_state (
    service_id TEXT NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    environment_id TEXT NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    active_deployment_id TEXT,
    PRIMARY KEY (service_id, environment_id)
  );
  CREATE TABLE variables (
    service_id TEXT NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    environment_id TEXT NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (service_id, environment_id, name)
  );
  CREATE TABLE deployments (
    id TEXT PRIMARY KEY,
    service_id TEXT NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    environment_id TEXT NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    kind TEXT NOT NULL,
    message TEXT,
    source_deployment_id TEXT,
    source_path TEXT NOT NULL,
    artifact_path TEXT,
    config_json TEXT,
    origins_json TEXT,
    warnings_json TEXT NOT NULL DEFAULT '[]',
    variables_json TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE INDEX deployments_by_service ON deployments (service_id, environment_id, seq);
  CREATE TABLE instances (
    id TEXT PRIMARY KEY,
    deployment_id TEXT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
    replica INTEGER NOT NULL,
    pid INTEGER,
    pid_start_time TEXT,
    port INTEGER NOT NULL,
    state TEXT NOT NULL,
    restarts INTEGER NOT NULL DEFAULT 0,
    exit_code INTEGER,
    stdout_offset INTEGER NOT NULL DEFAULT 0,
    stderr_offset INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE INDEX instances_by_deployment ON instances (deployment_id);
  `,
  `
  -- Variables are stored encrypted (SecretBox); sealed ones are never returned by the API.
  ALTER TABLE variables ADD COLUMN sealed INTEGER NOT NULL DEFAULT 0;
  CREATE TABLE shared_variables (
    environment_id TEXT NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    sealed INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (environment_id, name)
  );
  -- key_check: a value sealed with the master key, so a wrong key is caught before anything changes.
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  ALTER TABLE deployments ADD COLUMN sealed_names_json TEXT NOT NULL DEFAULT '[]';
  `,
  `
  -- Git metadata of deployments made by \`git push\` (src/git); NULL for uploads.
  ALTER TABLE deployments ADD COLUMN git_sha TEXT;
  ALTER TABLE deployments ADD COLUMN git_branch TEXT;
  ALTER TABLE deployments ADD COLUMN git_author TEXT;
  ALTER TABLE deployments ADD COLUMN git_message TEXT;
  `,
  `
  -- Environments: persistent ones (production, staging…) and previews made for a branch or pull request.
  ALTER TABLE environments ADD COLUMN kind TEXT NOT NULL DEFAULT 'persistent';
  ALTER TABLE environments ADD COLUMN branch TEXT;
  ALTER TABLE environments ADD COLUMN base_environment_id TEXT;
  `,
  `
  -- Monorepos: where a service lives in its repository, and what each git deployment was built from.
  ALTER TABLE services ADD COLUMN root_directory TEXT;
  ALTER TABLE services ADD COLUMN config_path TEXT;
  ALTER TABLE deployments ADD COLUMN root_directory TEXT;
  ALTER TABLE deployments ADD COLUMN config_path TEXT;
  -- JSON array of repo-relative paths the push changed; NULL = unknown (deploy regardless of watchPatterns).
  ALTER TABLE deployments ADD COLUMN changed_files_json TEXT;
  -- commit + root directory + build settings: deployments with the same key share one build.
  ALTER TABLE deployments ADD COLUMN build_key TEXT;
  CREATE INDEX deployments_by_build_key ON deployments (build_key);
  `,
  `
  -- Webhooks: a project's webhook secret (sealed) and where commit statuses are reported.
  CREATE TABLE project_secrets (
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (project_id, name)
  );
  ALTER TABLE projects ADD COLUMN status_url TEXT;
  -- Services that track a remote repository (deployed by webhooks), optionally after checks pass.
  ALTER TABLE services ADD COLUMN repo_url TEXT;
  ALTER TABLE services ADD COLUMN repo_branch TEXT;
  ALTER TABLE services ADD COLUMN wait_for_checks INTEGER NOT NULL DEFAULT 0;
  `,
  `
  -- Private networking: each service in each environment gets a number, which gives it a loopback
  -- address in the daemon's private net and a default private port (see deploy/private-network.ts).
  CREATE TABLE private_endpoints (
    service_id TEXT NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    environment_id TEXT NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL UNIQUE,
    PRIMARY KEY (service_id, environment_id)
  );
  `,
  `
  -- Custom domains: each host name belongs to one service in one environment.
  CREATE TABLE domains (
    hostname TEXT PRIMARY KEY,
    service_id TEXT NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    environment_id TEXT NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    https_redirect INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL
  );
  CREATE INDEX domains_by_service ON domains (service_id, environment_id);
  `,
  `
  -- TLS certificates the edge serves, by host name; the private key is sealed like variables.
  CREATE TABLE certificates (
    hostname TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    cert_pem TEXT NOT NULL,
    key_pem TEXT NOT NULL,
    not_after TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  -- The last ACME attempt per host name, so a failure is visible rather than silent.
  CREATE TABLE certificate_attempts (
    hostname TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    error TEXT,
    updated_at TEXT NOT NULL
  );
  `,
  `
  -- Edge policies set through the API/CLI (berth waf); railway.toml's [edge] keys take precedence.
  CREATE TABLE edge_policies (
    service_id TEXT NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    environment_id TEXT NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    policy_json TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (service_id, environment_id)
  );
  `,
  `
  -- Project tokens (Railway's RAILWAY_TOKEN): one project and environment; only the secret's hash is kept.
  CREATE TABLE project_tokens (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    environment_id TEXT NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    secret_sha256 TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    last_used_at TEXT
  );
  `,
  `
  -- Pull requests from forks: built only when the project opts in ('build'), and then into previews that
  -- copy no variables (from_fork marks them, so a fork's code never lands in a preview that has copies).
  ALTER TABLE projects ADD COLUMN fork_prs TEXT NOT NULL DEFAULT 'skip';
  ALTER TABLE environments ADD COLUMN from_fork INTEGER NOT NULL DEFAULT 0;
  `,
  `
  -- The unprivileged user each service runs as in each environment (sandboxed builds and replicas):
  -- uid = base + seq. AUTOINCREMENT: a deleted service's number (and the files its uid owns) is never reused.
  CREATE TABLE sandbox_users (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    service_id TEXT NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    environment_id TEXT NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    UNIQUE (service_id, environment_id)
  );
  `,
  `
  -- Supervised workloads of any owner: a deployment's replica ('replica'), a cron run ('cron-run'), next a data
  -- service's engine. The runtime driver's handle is stored as JSON; ports by name. Rows of the former
  -- instances table move here with a ProcessDriver handle built from pid + start time, so a daemon upgraded
  -- while replicas run re-adopts them. Their log files are <data dir>/instances/<id>.{out,err}.log, the data
  -- dir being where state.db is (DataPaths).
  CREATE TABLE workloads (
    id TEXT PRIMARY KEY,
    owner_kind TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    slot INTEGER NOT NULL DEFAULT 0,
    handle_json TEXT,
    state TEXT NOT NULL,
    restarts INTEGER NOT NULL DEFAULT 0,
    exit_code INTEGER,
    ports_json TEXT NOT NULL DEFAULT '{}',
    stdout_offset INTEGER NOT NULL DEFAULT 0,
    stderr_offset INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE INDEX workloads_by_owner ON workloads (owner_kind, owner_id, slot);
  INSERT INTO workloads (id, owner_kind, owner_id, slot, handle_json, state, restarts, exit_code, ports_json,
                         stdout_offset, stderr_offset, created_at, updated_at)
    SELECT i.id, CASE WHEN i.state = 'job' THEN 'cron-run' ELSE 'replica' END, i.deployment_id, i.replica,
           CASE WHEN i.pid IS NULL OR i.pid_start_time IS NULL THEN NULL ELSE json_object(
             'driver', 'process', 'id', i.id, 'pid', i.pid, 'startTime', i.pid_start_time,
             'logs', json_object('stdout', dir.path || '/instances/' || i.id || '.out.log',
                                 'stderr', dir.path || '/instances/' || i.id || '.err.log'),
             'ports', json_object('http', i.port)) END,
           i.state, i.restarts, i.exit_code, json_object('http', i.port), i.stdout_offset, i.stderr_offset,
           i.created_at, i.updated_at
    FROM instances i,
         (SELECT substr(file, 1, length(file) - length('/state.db')) AS path
            FROM pragma_database_list WHERE name = 'main') dir;
  DROP TABLE instances;
  -- What ON DELETE CASCADE did for instances: a deleted deployment takes its replicas' and cron runs' rows.
  CREATE TRIGGER workloads_of_deleted_deployment AFTER DELETE ON deployments BEGIN
    DELETE FROM workloads WHERE owner_kind IN ('replica', 'cron-run') AND owner_id = OLD.id;
  END;
  `,
  `
  -- Service settings set with \`berth service update\` (Railway's dashboard settings) per environment; a
  -- committed config file's keys take precedence over them.
  CREATE TABLE service_settings (
    service_id TEXT NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    environment_id TEXT NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    settings_json TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (service_id, environment_id)
  );
  `,
  `
  -- Data services: a service has a kind ('app', or a data service's engine such as 'postgres'); existing rows
  -- are apps. A data service in an environment has a spec instead of source (engine major version, settings,
  -- public port) and credentials Berth generated (the password sealed like variables). Its engine runs as a
  -- workload with owner_kind 'data-service' and owner_id = data_services.id.
  ALTER TABLE services ADD COLUMN kind TEXT NOT NULL DEFAULT 'app';
  CREATE TABLE data_services (
    id TEXT PRIMARY KEY,
    service_id TEXT NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    environment_id TEXT NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    engine TEXT NOT NULL,
    version TEXT NOT NULL,
    settings_json TEXT NOT NULL DEFAULT '{}',
    public_port INTEGER,
    username TEXT NOT NULL,
    database_name TEXT NOT NULL,
    password TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (service_id, environment_id)
  );
  CREATE TRIGGER workloads_of_deleted_data_service AFTER DELETE ON data_services BEGIN
    DELETE FROM workloads WHERE owner_kind = 'data-service' AND owner_id = OLD.id;
  END;
  `,
  `
  -- The backup manifest: one row per archive in a backup target (src/backup/), so \`berth backup list\` never
  -- lists a bucket. No foreign key to services: a deleted database service's final backup must outlive it.
  CREATE TABLE backups (
    id TEXT PRIMARY KEY,
    service_id TEXT NOT NULL,
    environment_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    key TEXT NOT NULL,
    size_bytes INTEGER,
    sha256 TEXT,
    error TEXT,
    created_at TEXT NOT NULL,
    finished_at TEXT
  );
  CREATE INDEX backups_by_subject ON backups (service_id, environment_id, created_at);
  -- Per database: when scheduled backups run (cron, UTC) and how many days archives are kept.
  CREATE TABLE backup_schedules (
    service_id TEXT NOT NULL,
    environment_id TEXT NOT NULL,
    cron TEXT NOT NULL,
    keep_days INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (service_id, environment_id)
  );
  `,
  `
  -- A data service's PgBouncer (\`berth db pooler on\`): wanted or not; it runs as a workload with owner_kind
  -- 'data-sidecar' (slot 0), whose rows go with the data service like its engine's.
  ALTER TABLE data_services ADD COLUMN pooler INTEGER NOT NULL DEFAULT 0;
  CREATE TRIGGER sidecars_of_deleted_data_service AFTER DELETE ON data_services BEGIN
    DELETE FROM workloads WHERE owner_kind = 'data-sidecar' AND owner_id = OLD.id;
  END;
  `,
  `
  -- A replica found to serve no HTTP (it ran through its stability window without listening on $PORT): a worker.
  -- A singleton-by-default decision reads it (deploy/singleton.ts).
  ALTER TABLE workloads ADD COLUMN worker INTEGER NOT NULL DEFAULT 0;
  `,
  `
  -- Every run of a cronSchedule service (deploy/cron-runs.ts): started by the schedule or by hand, skipped while
  -- another ran, its end, exit code and last output lines. Deleted with its deployment's service/environment.
  CREATE TABLE cron_runs (
    id TEXT PRIMARY KEY,
    deployment_id TEXT NOT NULL,
    service_id TEXT NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    environment_id TEXT NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    workload_id TEXT,
    trigger TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    exit_code INTEGER,
    reason TEXT,
    logs_json TEXT NOT NULL DEFAULT '[]'
  );
  CREATE INDEX cron_runs_by_service ON cron_runs (service_id, environment_id, started_at);
  `,
  `
  -- A deleted database whose backups outlive it: its name (\`berth backup list -s NAME\` still finds them) and
  -- the keep window it had, counted from the deletion; the daily sweep then prunes its archives and this row.
  CREATE TABLE deleted_databases (
    service_id TEXT NOT NULL,
    environment_id TEXT NOT NULL,
    name TEXT NOT NULL,
    engine TEXT NOT NULL,
    keep_days INTEGER NOT NULL,
    deleted_at TEXT NOT NULL,
    PRIMARY KEY (service_id, environment_id)
  );
  `,
  `
  -- Scale to zero (src/data/sleep.ts, src/deploy/app-sleep.ts): per data service its idle period (\`berth db
  -- sleep --after\`) and, per data service or deployment, since when it sleeps (NULL: awake). An app's idle period
  -- comes from its deployment's config (sleepApplication, sleepAfterSeconds). Deleted with its subject.
  CREATE TABLE sleep_states (
    subject_kind TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    after_seconds INTEGER,
    asleep_since TEXT,
    PRIMARY KEY (subject_kind, subject_id)
  );
  CREATE TRIGGER sleep_of_deleted_data_service AFTER DELETE ON data_services BEGIN
    DELETE FROM sleep_states WHERE subject_kind = 'data-service' AND subject_id = OLD.id;
  END;
  CREATE TRIGGER sleep_of_deleted_deployment AFTER DELETE ON deployments BEGIN
    DELETE FROM sleep_states WHERE subject_kind = 'deployment' AND subject_id = OLD.id;
  END;
  `,
  `
  -- Point-in-time recovery (src/backup/wal-archive.ts, base-backup.ts): per database, the base backups
  -- (pg_basebackup tars) and the WAL files shipped from its archive spool, each an object in the backup
  -- target; the restore window is computed from these rows. No foreign keys: the archive outlives a
  -- deleted service until retention prunes it. pitr_settings: a database's archive timeout is PostgreSQL's
  -- own setting; the base backup schedule and the window (days) live here.
  CREATE TABLE base_backups (
    id TEXT PRIMARY KEY,
    service_id TEXT NOT NULL,
    environment_id TEXT NOT NULL,
    status TEXT NOT NULL,
    key TEXT NOT NULL,
    start_wal TEXT,
    end_wal TEXT,
    size_bytes INTEGER,
    sha256 TEXT,
    error TEXT,
    created_at TEXT NOT NULL,
    finished_at TEXT
  );
  CREATE INDEX base_backups_by_subject ON base_backups (service_id, environment_id, created_at);
  CREATE TABLE wal_files (
    service_id TEXT NOT NULL,
    environment_id TEXT NOT NULL,
    name TEXT NOT NULL,
    key TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    closed_at TEXT NOT NULL,
    shipped_at TEXT NOT NULL,
    PRIMARY KEY (service_id, environment_id, name)
  );
  CREATE TABLE pitr_settings (
    service_id TEXT NOT NULL,
    environment_id TEXT NOT NULL,
    base_cron TEXT NOT NULL,
    window_days INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (service_id, environment_id)
  );
  `,
  `
  -- Buckets (service kind 'bucket'): one per service and environment, served by the built-in object store. The
  -- S3 name and access key id are unique on the server; the secret key is sealed like a data service password.
  CREATE TABLE buckets (
    id TEXT PRIMARY KEY,
    service_id TEXT NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    environment_id TEXT NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    s3_name TEXT NOT NULL UNIQUE,
    access_key_id TEXT NOT NULL UNIQUE,
    secret_access_key TEXT NOT NULL,
    public INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (service_id, environment_id)
  );
  `,
  `
  -- How often a replica was killed at its memory limit (cgroups; deploy/resource-limits.ts), for berth status.
  ALTER TABLE workloads ADD COLUMN oom_kills INTEGER NOT NULL DEFAULT 0;
  `,
  `
  -- The WAL tail of each database (backup/wal-tail.ts): the part of the segment PostgreSQL is writing that it has
  -- written, re-shipped each second it grew, so a lost volume loses seconds instead of archive_timeout. One row per
  -- database, replaced by each newer tail and gone once its segment is archived whole.
  CREATE TABLE wal_tails (
    service_id TEXT NOT NULL,
    environment_id TEXT NOT NULL,
    name TEXT NOT NULL,
    key TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    segment_bytes INTEGER NOT NULL,
    closed_at TEXT NOT NULL,
    shipped_at TEXT NOT NULL,
    PRIMARY KEY (service_id, environment_id)
  );
  `,
  `
  -- How often a database's WAL tail is shipped (PitrSettings.tailSeconds; 0: finished WAL files only).
  ALTER TABLE pitr_settings ADD COLUMN tail_seconds INTEGER NOT NULL DEFAULT 1;
  `,
];
