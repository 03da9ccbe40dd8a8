/**
 * The embedded database's schema: versioned migrations and opening the file. The DDL of the SQLite
 * backend lives here; its queries live in statements.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { NOW_MS } from './statements.js';

export type DB = Database.Database;

/** The file name of the database inside the data directory. */
export const DATABASE_FILE = 'outpaint.db';

/**
 * Versioned schema changes, applied in order, each in its own transaction, and recorded in
 * schema_migrations. Never edit a released migration: append a new one.
 */
export const MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'tasks, jobs, callbacks, api_keys',
    sql: `
      CREATE TABLE tasks (
        id               TEXT PRIMARY KEY,
        account_id       TEXT NOT NULL,
        external_task_id TEXT,
        status           TEXT NOT NULL CHECK (status IN ('submitted', 'processing', 'succeed', 'failed')),
        status_msg       TEXT NOT NULL DEFAULT '',
        -- n is also inside params; kept as a column so the slot sum is a plain SUM().
        n                INTEGER NOT NULL CHECK (n >= 1),
        params           TEXT NOT NULL,
        input_key        TEXT NOT NULL,
        input_width      INTEGER NOT NULL,
        input_height     INTEGER NOT NULL,
        images           TEXT NOT NULL DEFAULT '[]',
        created_at       INTEGER NOT NULL,
        updated_at       INTEGER NOT NULL
      );
      CREATE UNIQUE INDEX tasks_account_external_id ON tasks (account_id, external_task_id)
        WHERE external_task_id IS NOT NULL;
      CREATE INDEX tasks_account_newest ON tasks (account_id, created_at DESC, id DESC);
      CREATE INDEX tasks_account_active ON tasks (account_id, status)
        WHERE status IN ('submitted', 'processing');

      -- A row is a job not yet completed; completing deletes it. The integer id gives FIFO order.
      CREATE TABLE jobs (
        id               INTEGER PRIMARY KEY AUTOINCREMENT,
        task_id          TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
        state            TEXT NOT NULL CHECK (state IN ('queued', 'running')),
        lease_owner      TEXT,
        lease_expires_at INTEGER,
        attempt          INTEGER NOT NULL DEFAULT 0,
        created_at       INTEGER NOT NULL
      );
      -- At most one unfinished job per task: enqueue is idempotent.
      CREATE UNIQUE INDEX jobs_one_per_task ON jobs (task_id);
      CREATE INDEX jobs_claimable ON jobs (state, lease_expires_at, id);

      CREATE TABLE callbacks (
        id              TEXT PRIMARY KEY,
        seq             INTEGER NOT NULL UNIQUE,
        task_id         TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
        account_id      TEXT NOT NULL,
        url             TEXT NOT NULL,
        body            TEXT NOT NULL,
        state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        created_at      INTEGER NOT NULL,
        next_attempt_at INTEGER NOT NULL,
        delivered_at    INTEGER,
        last_error      TEXT
      );
      CREATE INDEX callbacks_due ON callbacks (next_attempt_at, seq) WHERE state = 'pending';
      CREATE INDEX callbacks_task ON callbacks (task_id);

      CREATE TABLE api_keys (
        access_key     TEXT PRIMARY KEY,
        -- Kept in clear: verifying an HS256 token needs the secret itself.
        secret_key     TEXT NOT NULL,
        -- For plain-key bearer tokens: an indexed, fixed-size lookup that never compares secrets in SQL.
        secret_sha256  TEXT NOT NULL UNIQUE,
        webhook_secret TEXT NOT NULL,
        account_id     TEXT NOT NULL,
        name           TEXT NOT NULL,
        created_at     INTEGER NOT NULL,
        revoked_at     INTEGER
      );
      CREATE INDEX api_keys_account ON api_keys (account_id, created_at DESC);
    `,
  },
  {
    version: 2,
    name: 'tasks.progress',
    sql: `ALTER TABLE tasks ADD COLUMN progress INTEGER NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100);`,
  },
  {
    version: 3,
    name: 'readiness_probe, task_status_counts',
    sql: `
      -- Written by the readiness check (GET /readyz): a database that cannot take this write is not ready.
      CREATE TABLE readiness_probe (id INTEGER PRIMARY KEY CHECK (id = 1), checked_at INTEGER NOT NULL);

      -- Tasks per status, kept by triggers in the writing transaction, so that the metrics scrape reads
      -- four rows instead of counting the whole table (600 ms at a million tasks, on the API's thread).
      CREATE TABLE task_status_counts (status TEXT PRIMARY KEY, n INTEGER NOT NULL);
      INSERT INTO task_status_counts (status, n)
        SELECT s.status, (SELECT COUNT(*) FROM tasks t WHERE t.status = s.status)
        FROM (SELECT 'submitted' AS status UNION ALL SELECT 'processing' UNION ALL SELECT 'succeed' UNION ALL SELECT 'failed') s;
      CREATE TRIGGER tasks_counted_on_insert AFTER INSERT ON tasks BEGIN
        UPDATE task_status_counts SET n = n + 1 WHERE status = NEW.status;
      END;
      CREATE TRIGGER tasks_counted_on_status AFTER UPDATE OF status ON tasks WHEN OLD.status <> NEW.status BEGIN
        UPDATE task_status_counts SET n = n - 1 WHERE status = OLD.status;
        UPDATE task_status_counts SET n = n + 1 WHERE status = NEW.status;
      END;
      CREATE TRIGGER tasks_counted_on_delete AFTER DELETE ON tasks BEGIN
        UPDATE task_status_counts SET n = n - 1 WHERE status = OLD.status;
      END;
    `,
  },
];

/** Opens (creating if needed) the database file and brings its schema up to date. */
export function openDatabase(file: string): DB {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    // Writers from other connections wait this long for the lock instead of failing with SQLITE_BUSY.
    db.pragma('busy_timeout = 5000');
    db.pragma('foreign_keys = ON');
    // WAL + NORMAL is durable against application crashes; only an OS crash may lose the last commits.
    db.pragma('synchronous = NORMAL');
    migrate(db);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

/** Applies the migrations the database has not seen yet; returns the schema version it ends at. */
export function migrate(db: DB): number {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at INTEGER NOT NULL
  )`);
  const apply = db.transaction((m: (typeof MIGRATIONS)[number]) => {
    // Re-checked inside the write lock: two processes may start at once.
    const done = db.prepare('SELECT 1 FROM schema_migrations WHERE version = ?').get(m.version);
    if (done) return;
    db.exec(m.sql);
    db.prepare(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ${NOW_MS})`).run(m.version, m.name);
  });
  const known = Math.max(0, ...MIGRATIONS.map((m) => m.version));
  const current = schemaVersion(db);
  if (current > known) {
    throw new Error(`database schema version ${current} is newer than this program knows (${known}); upgrade Outpaint`);
  }
  for (const m of MIGRATIONS) {
    if (m.version > current) apply.immediate(m);
  }
  return schemaVersion(db);
}

export function schemaVersion(db: DB): number {
  const row = db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null };
  return row.v ?? 0;
}
