/**
 * Every query of the PostgreSQL backend (the DDL is in schema.ts). The port classes use these by name
 * and hold no SQL of their own. Names are unqualified: each connection's search_path is the schema.
 *
 * Times the adapter needs itself (leases, when a job or a callback was recorded, rate windows) come
 * from the database's clock, never from the calling process: several machines share one database.
 * A few statements read pg-boss 10's job table (the queue's length, whether a task already has a
 * queued job); pg-boss itself writes it (send, fetch, complete).
 */

/** The database's clock in Unix milliseconds (clock_timestamp(): the time of the statement, not of the transaction). */
const NOW_MS = `(extract(epoch FROM clock_timestamp()) * 1000)::bigint`;

/** The pg-boss queue the expansion jobs wait in. */
export const JOB_QUEUE = 'outpaint-expand';

/** Advisory-lock keys: a namespace and a name, hashed to the bigint PostgreSQL locks on. */
const lockKey = (namespace: string, param: string) => `hashtextextended('outpaint.${namespace}.' || ${param}, 0)`;

const TASK_COLUMNS = `id, account_id, external_task_id, status, status_msg, params, input_key, input_width,
  input_height, images, progress, created_at, updated_at`;
const CALLBACK_COLUMNS = 'id, task_id, account_id, url, body, attempts, created_at, next_attempt_at';
const KEY_COLUMNS = 'access_key, secret_key, webhook_secret, account_id, name, created_at, revoked_at';

export const SQL = {
  // Migrations
  migrationsTableExists: `SELECT to_regclass('schema_migrations') IS NOT NULL AS found`,
  lockMigrations: `SELECT pg_advisory_xact_lock(${lockKey('migrate', '$1')})`,
  schemaVersion: 'SELECT MAX(version) AS v FROM schema_migrations',
  /** Held by a transaction of its own while pg-boss is installed and its queue created (DDL) on other connections. */
  lockBossSetup: `SELECT pg_advisory_xact_lock(${lockKey('boss-setup', '$1')})`,
  recordMigration: `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, ${NOW_MS})`,

  // Readiness and metrics
  probeWrite: `INSERT INTO readiness_probe (id, checked_at) VALUES (1, ${NOW_MS})
    ON CONFLICT (id) DO UPDATE SET checked_at = EXCLUDED.checked_at`,
  tasksByStatus: 'SELECT status, COUNT(*)::integer AS n FROM tasks GROUP BY status',

  // Tasks
  taskById: `SELECT ${TASK_COLUMNS} FROM tasks WHERE id = $1`,
  taskByAccountAndId: `SELECT ${TASK_COLUMNS} FROM tasks WHERE account_id = $1 AND id = $2`,
  taskByExternalId: `SELECT ${TASK_COLUMNS} FROM tasks WHERE account_id = $1 AND external_task_id = $2`,
  /** One round trip for "the task id first, then the external id". */
  taskByIdOrExternalId: `(SELECT ${TASK_COLUMNS}, 0 AS rank FROM tasks WHERE account_id = $1 AND id = $2)
    UNION ALL (SELECT ${TASK_COLUMNS}, 1 AS rank FROM tasks WHERE account_id = $1 AND external_task_id = $2)
    ORDER BY rank LIMIT 1`,
  listTasks: `SELECT ${TASK_COLUMNS} FROM tasks WHERE account_id = $1
    ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3`,
  /**
   * Admission: creates of one account queue up behind this lock (held to commit), so the slot count
   * and the external-id check hold across every API node.
   */
  lockAccount: `SELECT pg_advisory_xact_lock(${lockKey('account', '$1')})`,
  /** The queue's length is shared by all accounts: taken after the account's lock, always in this order, just before the commit. */
  lockQueueAdmission: `SELECT pg_advisory_xact_lock(${lockKey('admission', "'queue'")})`,
  externalIdTaken: 'SELECT 1 FROM tasks WHERE account_id = $1 AND external_task_id = $2',
  slotsInUse: `SELECT COALESCE(SUM(n), 0)::bigint AS slots FROM tasks
    WHERE account_id = $1 AND status IN ('submitted', 'processing')`,
  insertTask: `INSERT INTO tasks (id, account_id, external_task_id, status, status_msg, n, params, input_key,
      input_width, input_height, images, created_at, updated_at)
    VALUES ($1, $2, $3, 'submitted', '', $4, $5, $6, $7, $8, '[]', $9, $9)
    RETURNING ${TASK_COLUMNS}`,
  /** Applies only from one of the statuses in $2; a racing second change finds the row changed and matches nothing. */
  updateTaskStatus: `UPDATE tasks SET status = $3, status_msg = $4, images = COALESCE($5, images), updated_at = $6
    WHERE id = $1 AND status = ANY ($2::text[])
    RETURNING ${TASK_COLUMNS}`,
  raiseProgress: `UPDATE tasks SET progress = $2 WHERE id = $1 AND status = 'processing' AND progress < $2`,

  // Jobs (pg-boss's queue and our leases)
  /** Jobs a claim would take now: waiting in pg-boss, or leased here with the lease run out (or handed back). */
  /**
   * How long the oldest claimable job has waited since it was sent to pg-boss, in ms on the database's
   * clock: waiting in pg-boss, or leased and run out (its job row is still pg-boss's 'active' one).
   */
  oldestClaimableAge: `SELECT ${NOW_MS} - (extract(epoch FROM MIN(created_on)) * 1000)::bigint AS ms FROM job
    WHERE name = '${JOB_QUEUE}' AND (state < 'active' OR id IN (SELECT job_id FROM job_leases WHERE expires_at <= ${NOW_MS}))`,
  claimableJobs: `SELECT
      (SELECT COUNT(*) FROM job WHERE name = '${JOB_QUEUE}' AND state < 'active')
    + (SELECT COUNT(*) FROM job_leases WHERE expires_at <= ${NOW_MS}) AS n`,
  /** Serialises enqueues of one task, so that "at most one unfinished job per task" holds. */
  lockTaskJob: `SELECT pg_advisory_xact_lock(${lockKey('job', '$1')})`,
  taskExists: 'SELECT 1 FROM tasks WHERE id = $1',
  taskHasUnfinishedJob: `SELECT EXISTS (SELECT 1 FROM job_leases WHERE task_id = $1)
    OR EXISTS (SELECT 1 FROM job WHERE name = '${JOB_QUEUE}' AND state < 'active' AND singleton_key = $1) AS found`,
  /**
   * Takes over the oldest claimable lease: its worker stopped renewing it, or handed it back. SKIP
   * LOCKED: concurrent claimers pass over a row another one is taking.
   */
  reclaimJob: `UPDATE job_leases SET owner = $1, expires_at = ${NOW_MS} + $2, attempt = attempt + 1
    WHERE job_id = (
      SELECT job_id FROM job_leases WHERE expires_at <= ${NOW_MS}
      ORDER BY first_claimed_at, job_id LIMIT 1 FOR UPDATE SKIP LOCKED)
    RETURNING job_id, task_id, attempt`,
  /**
   * The lease of a job just fetched from pg-boss (in the fetch's transaction). No row when the job is
   * one no task can use (its task is gone, or already has a job): the caller completes it instead.
   */
  insertLease: `INSERT INTO job_leases (job_id, task_id, owner, expires_at, attempt, first_claimed_at)
    SELECT $1, $2, $3, ${NOW_MS} + $4, 1, ${NOW_MS} WHERE EXISTS (SELECT 1 FROM tasks WHERE id = $2)
    ON CONFLICT DO NOTHING
    RETURNING job_id, task_id, attempt`,
  heartbeatJob: `UPDATE job_leases SET expires_at = ${NOW_MS} + $3 WHERE job_id = $1 AND owner = $2`,
  completeLease: 'DELETE FROM job_leases WHERE job_id = $1 AND owner = $2',
  /** Claimable at once by anyone; the next claim counts attempt back up to what this one saw. */
  releaseJob: `UPDATE job_leases SET owner = NULL, expires_at = ${NOW_MS}, attempt = GREATEST(attempt - 1, 0)
    WHERE job_id = $1 AND owner = $2`,

  // Callback outbox
  insertCallback: `INSERT INTO callbacks (id, task_id, account_id, url, body, state, attempts, created_at, next_attempt_at)
    VALUES ($1, $2, $3, $4, $5, 'pending', 0, ${NOW_MS}, ${NOW_MS})`,
  /**
   * Leases up to $2 due deliveries (the dispatcher's clock $1, as the port defines it) until $1 + $3.
   * SKIP LOCKED: concurrent dispatchers, on any node, take disjoint rows.
   */
  claimDueCallbacks: `WITH due AS (
      SELECT id, next_attempt_at AS due_at, seq FROM callbacks
      WHERE state = 'pending' AND next_attempt_at <= $1
      ORDER BY next_attempt_at, seq LIMIT $2
      FOR UPDATE SKIP LOCKED)
    UPDATE callbacks c SET next_attempt_at = $1 + $3 FROM due WHERE c.id = due.id
    RETURNING c.id, c.task_id, c.account_id, c.url, c.body, c.attempts, c.created_at, c.next_attempt_at,
      due.due_at, due.seq`,
  callbackDelivered: `UPDATE callbacks SET state = 'delivered', delivered_at = $2, attempts = attempts + 1, last_error = NULL
    WHERE id = $1 AND state = 'pending'`,
  callbackRescheduled: `UPDATE callbacks SET attempts = attempts + 1, next_attempt_at = $2, last_error = $3
    WHERE id = $1 AND state = 'pending'`,
  callbackDead: `UPDATE callbacks SET state = 'dead', attempts = attempts + 1, last_error = $2
    WHERE id = $1 AND state = 'pending'`,
  pendingCallbacks: `SELECT COUNT(*) AS n FROM callbacks WHERE state = 'pending'`,

  // API keys
  insertKey: `INSERT INTO api_keys (access_key, secret_key, secret_sha256, webhook_secret, account_id, name, created_at, revoked_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
  keyByAccessKey: `SELECT ${KEY_COLUMNS} FROM api_keys WHERE access_key = $1`,
  keyBySecretHash: `SELECT ${KEY_COLUMNS} FROM api_keys WHERE secret_sha256 = $1`,
  allKeys: `SELECT ${KEY_COLUMNS} FROM api_keys ORDER BY created_at, access_key`,
  revokeKey: 'UPDATE api_keys SET revoked_at = $2 WHERE access_key = $1 AND revoked_at IS NULL',
  newestLiveWebhookSecret: `SELECT webhook_secret FROM api_keys WHERE account_id = $1 AND revoked_at IS NULL
    ORDER BY created_at DESC, seq DESC LIMIT 1`,

  // Shared secrets
  secretByName: 'SELECT value FROM secrets WHERE name = $1',
  /** The first writer wins; the others' values are dropped and they read the winner's. */
  insertSecret: `INSERT INTO secrets (name, value, created_at) VALUES ($1, $2, ${NOW_MS}) ON CONFLICT (name) DO NOTHING`,

  // Rate windows
  /**
   * $3 hits of one key, counted for every node at once: the row is created, or counted up, or started
   * afresh when its window is over, in one statement (the row lock orders concurrent upserts). now() is
   * the statement's time here (its own transaction), the same value in every use.
   */
  rateHit: `INSERT INTO rate_windows AS w (key, started_at, window_ms, count)
      VALUES ($1, (extract(epoch FROM now()) * 1000)::bigint, $2, $3)
    ON CONFLICT (key) DO UPDATE SET
      count = CASE WHEN w.started_at + w.window_ms <= EXCLUDED.started_at THEN EXCLUDED.count ELSE w.count + EXCLUDED.count END,
      started_at = CASE WHEN w.started_at + w.window_ms <= EXCLUDED.started_at THEN EXCLUDED.started_at ELSE w.started_at END,
      window_ms = EXCLUDED.window_ms
    RETURNING count, started_at + window_ms - (extract(epoch FROM now()) * 1000)::bigint AS reset_in_ms`,
  /** Windows over for a while: their keys (IPs, accounts) come back as new rows if they come back. */
  sweepRateWindows: `DELETE FROM rate_windows WHERE started_at + window_ms < ${NOW_MS} - 60000`,
} as const;

export type StatementName = keyof typeof SQL;

/**
 * A statement by name, for pg to prepare once per connection and then only bind and execute: the
 * per-request reads and the rate hit skip parsing and planning.
 */
export function stmt(name: StatementName, values: unknown[] = []): { name: string; text: string; values: unknown[] } {
  return { name, text: SQL[name], values };
}
