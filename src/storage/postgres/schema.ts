/**
 * The PostgreSQL schema: versioned migrations, applied under an advisory lock so that N nodes starting
 * at once do not race, and pg-boss's own tables beside them in the same schema. The DDL of the
 * PostgreSQL backend lives here; its queries live in statements.ts.
 */
import type pg from 'pg';
import { inTransaction } from './connection.js';
import { stmt } from './statements.js';

/**
 * Versioned schema changes, applied in order in one transaction, and recorded in schema_migrations.
 * Never edit a released migration: append a new one. Times are Unix milliseconds (bigint), as in the
 * SQLite backend; ids that are sorted are COLLATE "C" (byte order, as SQLite compares them).
 */
export const MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'tasks, job_leases, callbacks, api_keys, secrets, rate_windows',
    sql: `
      CREATE TABLE tasks (
        id               text COLLATE "C" PRIMARY KEY,
        account_id       text NOT NULL,
        external_task_id text,
        status           text NOT NULL CHECK (status IN ('submitted', 'processing', 'succeed', 'failed')),
        status_msg       text NOT NULL DEFAULT '',
        -- n is also inside params; kept as a column so the slot sum is a plain SUM().
        n                integer NOT NULL CHECK (n >= 1),
        -- JSON as text, not jsonb: it reads back exactly as written (jsonb refuses \\u0000 in a prompt).
        params           text NOT NULL,
        input_key        text NOT NULL,
        input_width      integer NOT NULL,
        input_height     integer NOT NULL,
        images           text NOT NULL DEFAULT '[]',
        progress         integer NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
        created_at       bigint NOT NULL,
        updated_at       bigint NOT NULL
      );
      CREATE UNIQUE INDEX tasks_account_external_id ON tasks (account_id, external_task_id)
        WHERE external_task_id IS NOT NULL;
      CREATE INDEX tasks_account_newest ON tasks (account_id, created_at DESC, id DESC);
      CREATE INDEX tasks_account_active ON tasks (account_id, status)
        WHERE status IN ('submitted', 'processing');

      -- The queued jobs are pg-boss's (job table, queue 'outpaint-expand'). A job claimed from pg-boss
      -- gets a lease row here until it is completed: the lease, its owner and the attempt count are
      -- ours, because pg-boss 10 has no per-job heartbeat and counts every hand-back as a retry.
      CREATE TABLE job_leases (
        job_id           uuid PRIMARY KEY,
        task_id          text COLLATE "C" NOT NULL UNIQUE REFERENCES tasks (id) ON DELETE CASCADE,
        -- Null once handed back (release): claimable at once, nobody's.
        owner            text,
        expires_at       bigint NOT NULL,
        attempt          integer NOT NULL CHECK (attempt >= 0),
        first_claimed_at bigint NOT NULL
      );
      CREATE INDEX job_leases_claimable ON job_leases (expires_at);

      CREATE TABLE callbacks (
        id              text PRIMARY KEY,
        seq             bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        task_id         text COLLATE "C" NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
        account_id      text NOT NULL,
        url             text NOT NULL,
        body            text NOT NULL,
        state           text NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
        attempts        integer NOT NULL DEFAULT 0,
        created_at      bigint NOT NULL,
        next_attempt_at bigint NOT NULL,
        delivered_at    bigint,
        last_error      text
      );
      CREATE INDEX callbacks_due ON callbacks (next_attempt_at, seq) WHERE state = 'pending';
      CREATE INDEX callbacks_task ON callbacks (task_id);

      CREATE TABLE api_keys (
        access_key     text PRIMARY KEY,
        seq            bigint GENERATED ALWAYS AS IDENTITY,
        -- Kept in clear: verifying an HS256 token needs the secret itself.
        secret_key     text NOT NULL,
        -- For plain-key bearer tokens: an indexed, fixed-size lookup that never compares secrets in SQL.
        secret_sha256  text NOT NULL UNIQUE,
        webhook_secret text NOT NULL,
        account_id     text NOT NULL,
        name           text NOT NULL,
        created_at     bigint NOT NULL,
        revoked_at     bigint
      );
      CREATE INDEX api_keys_account ON api_keys (account_id, created_at DESC);

      CREATE TABLE secrets (
        name       text PRIMARY KEY,
        value      bytea NOT NULL,
        created_at bigint NOT NULL
      );

      -- Rate-limit windows of every API node. UNLOGGED: a count is not worth a WAL flush per request,
      -- and a crash that empties the table only starts every window afresh.
      CREATE UNLOGGED TABLE rate_windows (
        key        text PRIMARY KEY,
        started_at bigint NOT NULL,
        window_ms  bigint NOT NULL,
        count      bigint NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: 'readiness_probe',
    sql: `
      -- One row rewritten by /readyz: a committed write proves the database takes writes now.
      CREATE TABLE readiness_probe (id integer PRIMARY KEY CHECK (id = 1), checked_at bigint NOT NULL);
      -- countByStatus for the metrics scrape: an index-only scan instead of reading every task row.
      CREATE INDEX tasks_status ON tasks (status);
    `,
  },
];

/** Whether Outpaint's tables exist in the schema (the pool's search_path). */
export async function isInstalled(pool: pg.Pool): Promise<boolean> {
  const { rows } = await pool.query<{ found: boolean }>(stmt('migrationsTableExists'));
  return rows[0].found;
}

/**
 * Creates the schema if needed and applies the migrations it has not seen yet, all in one transaction
 * under an advisory lock on the schema's name: a node that starts while another migrates waits, then
 * finds the work done. Returns the schema version it ends at.
 */
export async function migrate(pool: pg.Pool, schema: string): Promise<number> {
  return inTransaction(pool, async (client) => {
    await client.query(stmt('lockMigrations', [schema]));
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await client.query(`SET LOCAL search_path TO ${schema}`);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    integer PRIMARY KEY,
      name       text NOT NULL,
      applied_at bigint NOT NULL
    )`);
    const current = (await client.query<{ v: number | null }>(stmt('schemaVersion'))).rows[0].v ?? 0;
    const known = Math.max(0, ...MIGRATIONS.map((m) => m.version));
    if (current > known) {
      throw new Error(`database schema version ${current} is newer than this program knows (${known}); upgrade Outpaint`);
    }
    for (const m of MIGRATIONS) {
      if (m.version <= current) continue;
      await client.query(m.sql);
      await client.query(stmt('recordMigration', [m.version, m.name]));
    }
    return Math.max(current, known);
  });
}
