/**
 * Every query of the SQLite backend, prepared once per connection (the DDL is in schema.ts). The port
 * classes call these by name and hold no SQL of their own.
 *
 * Times the adapter needs itself (leases, when a job or a callback was recorded) come from the
 * database's clock, never from the calling process: with the PostgreSQL backend several machines share
 * one database, and the SQLite backend keeps the same rule so that both behave alike.
 */
import type { TaskStatus } from '../../tasks/model.js';
import type { CallbackRow, KeyRow, TaskRow } from '../rows.js';
import type { DB } from './schema.js';

/** The database's clock in Unix milliseconds. */
export const NOW_MS = `CAST(unixepoch('subsec') * 1000 AS INTEGER)`;

// A job can be claimed when it waits, or when the worker holding it stopped renewing its lease.
const CLAIMABLE = `(state = 'queued' OR (state = 'running' AND lease_expires_at <= ${NOW_MS}))`;

const TASK_COLUMNS = `id, account_id, external_task_id, status, status_msg, params, input_key, input_width,
  input_height, images, progress, created_at, updated_at`;

export function prepareStatements(db: DB) {
  return {
    // Tasks
    taskById: db.prepare<[string], TaskRow>(`SELECT ${TASK_COLUMNS} FROM tasks WHERE id = ?`),
    taskByAccountAndId: db.prepare<[string, string], TaskRow>(
      `SELECT ${TASK_COLUMNS} FROM tasks WHERE account_id = ? AND id = ?`,
    ),
    taskByExternalId: db.prepare<[string, string], TaskRow>(
      `SELECT ${TASK_COLUMNS} FROM tasks WHERE account_id = ? AND external_task_id = ?`,
    ),
    listTasks: db.prepare<[string, number, number], TaskRow>(
      `SELECT ${TASK_COLUMNS} FROM tasks WHERE account_id = ?
       ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`,
    ),
    externalIdTaken: db.prepare<[string, string], { one: 1 }>(
      'SELECT 1 AS one FROM tasks WHERE account_id = ? AND external_task_id = ?',
    ),
    slotsInUse: db.prepare<[string], { slots: number }>(
      `SELECT COALESCE(SUM(n), 0) AS slots FROM tasks
       WHERE account_id = ? AND status IN ('submitted', 'processing')`,
    ),
    insertTask: db.prepare(
      `INSERT INTO tasks (id, account_id, external_task_id, status, status_msg, n, params, input_key,
         input_width, input_height, images, created_at, updated_at)
       VALUES (@id, @accountId, @externalTaskId, 'submitted', '', @n, @params, @inputKey,
         @inputWidth, @inputHeight, '[]', @createdAt, @createdAt)`,
    ),
    updateTaskStatus: db.prepare(
      `UPDATE tasks SET status = @status, status_msg = @statusMsg, images = @images, updated_at = @at
       WHERE id = @id`,
    ),
    tasksByStatus: db.prepare<[], { status: TaskStatus; n: number }>('SELECT status, n FROM task_status_counts'),
    raiseProgress: db.prepare<{ id: string; progress: number }>(
      `UPDATE tasks SET progress = @progress WHERE id = @id AND status = 'processing' AND progress < @progress`,
    ),

    // Jobs
    insertJob: db.prepare<[string]>(
      `INSERT INTO jobs (task_id, state, attempt, created_at) VALUES (?, 'queued', 0, ${NOW_MS})
       ON CONFLICT (task_id) DO NOTHING`,
    ),
    claimableJobs: db.prepare<[], { n: number }>(`SELECT COUNT(*) AS n FROM jobs WHERE ${CLAIMABLE}`),
    oldestClaimableAge: db.prepare<[], { ms: number | null }>(`SELECT ${NOW_MS} - MIN(created_at) AS ms FROM jobs WHERE ${CLAIMABLE}`),
    claimJob: db.prepare<{ owner: string; leaseMs: number }, { id: number; task_id: string; attempt: number }>(
      `UPDATE jobs SET state = 'running', lease_owner = @owner, lease_expires_at = ${NOW_MS} + @leaseMs,
         attempt = attempt + 1
       WHERE id = (SELECT id FROM jobs WHERE ${CLAIMABLE} ORDER BY id LIMIT 1)
       RETURNING id, task_id, attempt`,
    ),
    heartbeatJob: db.prepare<{ id: number; owner: string; leaseMs: number }>(
      `UPDATE jobs SET lease_expires_at = ${NOW_MS} + @leaseMs
       WHERE id = @id AND state = 'running' AND lease_owner = @owner`,
    ),
    completeJob: db.prepare<{ id: number; owner: string }>(
      `DELETE FROM jobs WHERE id = @id AND state = 'running' AND lease_owner = @owner`,
    ),
    releaseJob: db.prepare<{ id: number; owner: string }>(
      `UPDATE jobs SET state = 'queued', lease_owner = NULL, lease_expires_at = NULL, attempt = MAX(attempt - 1, 0)
       WHERE id = @id AND state = 'running' AND lease_owner = @owner`,
    ),

    // Callback outbox
    insertCallback: db.prepare<{ id: string; taskId: string; accountId: string; url: string; body: string }>(
      `INSERT INTO callbacks (id, seq, task_id, account_id, url, body, state, attempts, created_at, next_attempt_at)
       VALUES (@id, (SELECT COALESCE(MAX(seq), 0) + 1 FROM callbacks), @taskId, @accountId, @url, @body,
         'pending', 0, ${NOW_MS}, ${NOW_MS})`,
    ),
    dueCallbacks: db.prepare<{ now: number; limit: number }, CallbackRow>(
      `SELECT id, task_id, account_id, url, body, attempts, created_at, next_attempt_at FROM callbacks
       WHERE state = 'pending' AND next_attempt_at <= @now
       ORDER BY next_attempt_at, seq LIMIT @limit`,
    ),
    leaseCallback: db.prepare<{ id: string; until: number }>(`UPDATE callbacks SET next_attempt_at = @until WHERE id = @id`),
    callbackDelivered: db.prepare<{ id: string; at: number }>(
      `UPDATE callbacks SET state = 'delivered', delivered_at = @at, attempts = attempts + 1, last_error = NULL
       WHERE id = @id AND state = 'pending'`,
    ),
    callbackRescheduled: db.prepare<{ id: string; next: number; error: string }>(
      `UPDATE callbacks SET attempts = attempts + 1, next_attempt_at = @next, last_error = @error
       WHERE id = @id AND state = 'pending'`,
    ),
    callbackDead: db.prepare<{ id: string; error: string }>(
      `UPDATE callbacks SET state = 'dead', attempts = attempts + 1, last_error = @error
       WHERE id = @id AND state = 'pending'`,
    ),
    pendingCallbacks: db.prepare<[], { n: number }>(`SELECT COUNT(*) AS n FROM callbacks WHERE state = 'pending'`),

    // Readiness: one row, rewritten by every check, so that the check is a real committed write.
    probeWrite: db.prepare(`INSERT INTO readiness_probe (id, checked_at) VALUES (1, ${NOW_MS})
       ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at`),

    // API keys
    insertKey: db.prepare(
      `INSERT INTO api_keys (access_key, secret_key, secret_sha256, webhook_secret, account_id, name, created_at, revoked_at)
       VALUES (@accessKey, @secretKey, @secretSha256, @webhookSecret, @accountId, @name, @createdAt, @revokedAt)`,
    ),
    keyByAccessKey: db.prepare<[string], KeyRow>('SELECT * FROM api_keys WHERE access_key = ?'),
    keyBySecretHash: db.prepare<[string], KeyRow>('SELECT * FROM api_keys WHERE secret_sha256 = ?'),
    allKeys: db.prepare<[], KeyRow>('SELECT * FROM api_keys ORDER BY created_at, access_key'),
    revokeKey: db.prepare<{ accessKey: string; at: number }>(
      'UPDATE api_keys SET revoked_at = @at WHERE access_key = @accessKey AND revoked_at IS NULL',
    ),
    newestLiveWebhookSecret: db.prepare<[string], { webhook_secret: string }>(
      `SELECT webhook_secret FROM api_keys WHERE account_id = ? AND revoked_at IS NULL
       ORDER BY created_at DESC, rowid DESC LIMIT 1`,
    ),
  };
}

export type Statements = ReturnType<typeof prepareStatements>;
