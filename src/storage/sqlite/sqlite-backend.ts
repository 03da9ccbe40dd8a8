/**
 * The embedded backend: tasks, their jobs, the callback outbox and the API keys in one SQLite file.
 * Every SQL statement of this backend lives in this module.
 *
 * better-sqlite3 is synchronous, so each method runs to completion on the calling thread; the Promise
 * signatures exist for the networked backends. Multi-statement steps run in `BEGIN IMMEDIATE`
 * transactions, which take the write lock up front: another connection (another process on the same
 * file) waits on busy_timeout instead of failing half-way through a read-then-write.
 */
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { ClaimedJob, JobQueue } from '../job-queue.js';
import type {
  AdmissionLimits,
  ApiKeyRecord,
  CallbackDelivery,
  CreateResult,
  ListPage,
  NewTask,
  ResultImage,
  StatusChange,
  TaskRecord,
  TaskStatus,
  TaskStore,
} from '../task-store.js';

type DB = Database.Database;

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
    db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
      m.version,
      m.name,
      Date.now(),
    );
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

// ---------------------------------------------------------------------------------------------------
// Rows

interface TaskRow {
  id: string;
  account_id: string;
  external_task_id: string | null;
  status: TaskStatus;
  status_msg: string;
  params: string;
  input_key: string;
  input_width: number;
  input_height: number;
  images: string;
  created_at: number;
  updated_at: number;
}

function taskFromRow(r: TaskRow): TaskRecord {
  return {
    id: r.id,
    accountId: r.account_id,
    externalTaskId: r.external_task_id,
    status: r.status,
    statusMsg: r.status_msg,
    params: JSON.parse(r.params),
    inputKey: r.input_key,
    inputWidth: r.input_width,
    inputHeight: r.input_height,
    images: JSON.parse(r.images) as ResultImage[],
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

interface CallbackRow {
  id: string;
  task_id: string;
  account_id: string;
  url: string;
  body: string;
  attempts: number;
  created_at: number;
  next_attempt_at: number;
}

function callbackFromRow(r: CallbackRow): CallbackDelivery {
  return {
    id: r.id,
    taskId: r.task_id,
    accountId: r.account_id,
    url: r.url,
    body: r.body,
    attempts: r.attempts,
    createdAt: r.created_at,
    nextAttemptAt: r.next_attempt_at,
  };
}

interface KeyRow {
  access_key: string;
  secret_key: string;
  webhook_secret: string;
  account_id: string;
  name: string;
  created_at: number;
  revoked_at: number | null;
}

function keyFromRow(r: KeyRow): ApiKeyRecord {
  return {
    accessKey: r.access_key,
    secretKey: r.secret_key,
    webhookSecret: r.webhook_secret,
    accountId: r.account_id,
    name: r.name,
    createdAt: r.created_at,
    revokedAt: r.revoked_at,
  };
}

function sha256Hex(s: string): string {
  return createHash('sha256').update(s, 'utf8').digest('hex');
}

/** Webhook ids in the Standard Webhooks style. */
function newCallbackId(): string {
  return `msg_${randomUUID().replaceAll('-', '')}`;
}

// A job can be claimed when it waits, or when the worker holding it stopped renewing its lease.
const CLAIMABLE = `(state = 'queued' OR (state = 'running' AND lease_expires_at <= @now))`;

// ---------------------------------------------------------------------------------------------------
// Statements

function prepareStatements(db: DB) {
  const taskColumns = `id, account_id, external_task_id, status, status_msg, params, input_key, input_width,
    input_height, images, created_at, updated_at`;
  return {
    taskById: db.prepare<[string], TaskRow>(`SELECT ${taskColumns} FROM tasks WHERE id = ?`),
    taskByAccountAndId: db.prepare<[string, string], TaskRow>(
      `SELECT ${taskColumns} FROM tasks WHERE account_id = ? AND id = ?`,
    ),
    taskByExternalId: db.prepare<[string, string], TaskRow>(
      `SELECT ${taskColumns} FROM tasks WHERE account_id = ? AND external_task_id = ?`,
    ),
    listTasks: db.prepare<[string, number, number], TaskRow>(
      `SELECT ${taskColumns} FROM tasks WHERE account_id = ?
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

    insertJob: db.prepare<{ taskId: string; now: number }>(
      `INSERT INTO jobs (task_id, state, attempt, created_at) VALUES (@taskId, 'queued', 0, @now)
       ON CONFLICT (task_id) DO NOTHING`,
    ),
    claimableJobs: db.prepare<{ now: number }, { n: number }>(
      `SELECT COUNT(*) AS n FROM jobs WHERE ${CLAIMABLE}`,
    ),
    claimJob: db.prepare<{ now: number; owner: string; expires: number }, { id: number; task_id: string; attempt: number }>(
      `UPDATE jobs SET state = 'running', lease_owner = @owner, lease_expires_at = @expires, attempt = attempt + 1
       WHERE id = (SELECT id FROM jobs WHERE ${CLAIMABLE} ORDER BY id LIMIT 1)
       RETURNING id, task_id, attempt`,
    ),
    heartbeatJob: db.prepare<{ id: number; owner: string; expires: number }>(
      `UPDATE jobs SET lease_expires_at = @expires
       WHERE id = @id AND state = 'running' AND lease_owner = @owner`,
    ),
    completeJob: db.prepare<{ id: number; owner: string }>(
      `DELETE FROM jobs WHERE id = @id AND state = 'running' AND lease_owner = @owner`,
    ),
    releaseJob: db.prepare<{ id: number; owner: string }>(
      `UPDATE jobs SET state = 'queued', lease_owner = NULL, lease_expires_at = NULL, attempt = MAX(attempt - 1, 0)
       WHERE id = @id AND state = 'running' AND lease_owner = @owner`,
    ),

    insertCallback: db.prepare(
      `INSERT INTO callbacks (id, seq, task_id, account_id, url, body, state, attempts, created_at, next_attempt_at)
       VALUES (@id, (SELECT COALESCE(MAX(seq), 0) + 1 FROM callbacks), @taskId, @accountId, @url, @body,
         'pending', 0, @now, @now)`,
    ),
    dueCallbacks: db.prepare<{ now: number; limit: number }, CallbackRow>(
      `SELECT id, task_id, account_id, url, body, attempts, created_at, next_attempt_at FROM callbacks
       WHERE state = 'pending' AND next_attempt_at <= @now
       ORDER BY next_attempt_at, seq LIMIT @limit`,
    ),
    leaseCallback: db.prepare<{ id: string; until: number }>(
      `UPDATE callbacks SET next_attempt_at = @until WHERE id = @id`,
    ),
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

type Statements = ReturnType<typeof prepareStatements>;

/** The shared connection; closed when the last of the store and the queue is closed. */
class SharedDatabase {
  readonly statements: Statements;
  private users = 0;

  constructor(readonly db: DB) {
    this.statements = prepareStatements(db);
  }

  acquire(): void {
    this.users++;
  }

  release(): void {
    if (--this.users === 0 && this.db.open) this.db.close();
  }
}

// ---------------------------------------------------------------------------------------------------
// TaskStore

export class SqliteTaskStore implements TaskStore {
  private readonly sql: Statements;
  private closed = false;

  constructor(private readonly shared: SharedDatabase) {
    shared.acquire();
    this.sql = shared.statements;
  }

  private get db(): DB {
    return this.shared.db;
  }

  async create(task: NewTask, limits: AdmissionLimits, callbackBody: string | null): Promise<CreateResult> {
    const insert = this.db.transaction((): CreateResult => {
      const s = this.sql;
      const now = Date.now();
      if (task.externalTaskId !== null && s.externalIdTaken.get(task.accountId, task.externalTaskId)) {
        return { ok: false, reason: 'duplicate_external_task_id' };
      }
      const { slots } = s.slotsInUse.get(task.accountId)!;
      if (slots + task.params.n > limits.maxAccountSlots) return { ok: false, reason: 'account_slots_full' };
      if (s.claimableJobs.get({ now })!.n >= limits.maxQueuedJobs) return { ok: false, reason: 'queue_full' };

      s.insertTask.run({
        id: task.id,
        accountId: task.accountId,
        externalTaskId: task.externalTaskId,
        n: task.params.n,
        params: JSON.stringify(task.params),
        inputKey: task.inputKey,
        inputWidth: task.inputWidth,
        inputHeight: task.inputHeight,
        createdAt: task.createdAt,
      });
      s.insertJob.run({ taskId: task.id, now });
      this.recordCallback(task.id, task.accountId, task.params.callbackUrl, callbackBody, now);
      return { ok: true, task: taskFromRow(s.taskById.get(task.id)!) };
    });
    return insert.immediate();
  }

  async get(accountId: string, taskId: string): Promise<TaskRecord | null> {
    const row = this.sql.taskByAccountAndId.get(accountId, taskId);
    return row ? taskFromRow(row) : null;
  }

  async getByIdOrExternalId(accountId: string, id: string): Promise<TaskRecord | null> {
    const row = this.sql.taskByAccountAndId.get(accountId, id) ?? this.sql.taskByExternalId.get(accountId, id);
    return row ? taskFromRow(row) : null;
  }

  async getByExternalId(accountId: string, externalTaskId: string): Promise<TaskRecord | null> {
    const row = this.sql.taskByExternalId.get(accountId, externalTaskId);
    return row ? taskFromRow(row) : null;
  }

  async getById(taskId: string): Promise<TaskRecord | null> {
    const row = this.sql.taskById.get(taskId);
    return row ? taskFromRow(row) : null;
  }

  async list(accountId: string, page: ListPage): Promise<TaskRecord[]> {
    const offset = (page.pageNum - 1) * page.pageSize;
    return this.sql.listTasks.all(accountId, page.pageSize, offset).map(taskFromRow);
  }

  async updateStatus(taskId: string, change: StatusChange): Promise<TaskRecord | null> {
    const apply = this.db.transaction((): TaskRecord | null => {
      const s = this.sql;
      const row = s.taskById.get(taskId);
      if (!row || !change.from.includes(row.status)) return null;
      const current = taskFromRow(row);
      s.updateTaskStatus.run({
        id: taskId,
        status: change.status,
        statusMsg: change.statusMsg ?? '',
        images: JSON.stringify(change.images ?? current.images),
        at: change.at,
      });
      this.recordCallback(taskId, current.accountId, current.params.callbackUrl, change.callbackBody, Date.now());
      return taskFromRow(s.taskById.get(taskId)!);
    });
    return apply.immediate();
  }

  /** Inside the caller's transaction. A body without a callback URL has nowhere to go and is dropped. */
  private recordCallback(
    taskId: string,
    accountId: string,
    url: string | null,
    body: string | null,
    now: number,
  ): void {
    if (body === null || !url) return;
    this.sql.insertCallback.run({ id: newCallbackId(), taskId, accountId, url, body, now });
  }

  async claimDueCallbacks(now: number, limit: number, leaseMs: number): Promise<CallbackDelivery[]> {
    const claim = this.db.transaction((): CallbackDelivery[] => {
      const rows = this.sql.dueCallbacks.all({ now, limit });
      const until = now + leaseMs;
      for (const r of rows) this.sql.leaseCallback.run({ id: r.id, until });
      return rows.map((r) => callbackFromRow({ ...r, next_attempt_at: until }));
    });
    return claim.immediate();
  }

  async markCallbackDelivered(id: string, at: number): Promise<void> {
    this.sql.callbackDelivered.run({ id, at });
  }

  async rescheduleCallback(id: string, nextAttemptAt: number | null, lastError: string): Promise<void> {
    if (nextAttemptAt === null) this.sql.callbackDead.run({ id, error: lastError });
    else this.sql.callbackRescheduled.run({ id, next: nextAttemptAt, error: lastError });
  }

  async pendingCallbacks(): Promise<number> {
    return this.sql.pendingCallbacks.get()!.n;
  }

  async createKey(key: ApiKeyRecord): Promise<void> {
    this.sql.insertKey.run({ ...key, secretSha256: sha256Hex(key.secretKey) });
  }

  async findKey(accessKey: string): Promise<ApiKeyRecord | null> {
    const row = this.sql.keyByAccessKey.get(accessKey);
    return row ? keyFromRow(row) : null;
  }

  async findKeyBySecret(secretKey: string): Promise<ApiKeyRecord | null> {
    const row = this.sql.keyBySecretHash.get(sha256Hex(secretKey));
    return row ? keyFromRow(row) : null;
  }

  async listKeys(): Promise<ApiKeyRecord[]> {
    return this.sql.allKeys.all().map(keyFromRow);
  }

  async revokeKey(accessKey: string, at: number): Promise<boolean> {
    return this.sql.revokeKey.run({ accessKey, at }).changes > 0;
  }

  async webhookSecret(accountId: string): Promise<string | null> {
    return this.sql.newestLiveWebhookSecret.get(accountId)?.webhook_secret ?? null;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.shared.release();
  }
}

// ---------------------------------------------------------------------------------------------------
// JobQueue

/** Job ids are the table's integer ids, as strings for the interface. */
function jobRowId(jobId: string): number {
  const id = Number(jobId);
  return Number.isSafeInteger(id) ? id : -1;
}

export class SqliteJobQueue implements JobQueue {
  private readonly sql: Statements;
  private closed = false;

  constructor(private readonly shared: SharedDatabase) {
    shared.acquire();
    this.sql = shared.statements;
  }

  async enqueue(taskId: string): Promise<void> {
    this.sql.insertJob.run({ taskId, now: Date.now() });
  }

  async claim(workerId: string, leaseMs: number): Promise<ClaimedJob | null> {
    // One UPDATE … WHERE id = (SELECT …) is atomic by itself; IMMEDIATE only avoids a lock upgrade.
    const claim = this.shared.db.transaction(() => {
      const now = Date.now();
      return this.sql.claimJob.get({ now, owner: workerId, expires: now + leaseMs });
    });
    const row = claim.immediate();
    return row ? { id: String(row.id), taskId: row.task_id, attempt: row.attempt } : null;
  }

  async heartbeat(jobId: string, workerId: string, leaseMs: number): Promise<boolean> {
    const r = this.sql.heartbeatJob.run({ id: jobRowId(jobId), owner: workerId, expires: Date.now() + leaseMs });
    return r.changes > 0;
  }

  async complete(jobId: string, workerId: string): Promise<void> {
    this.sql.completeJob.run({ id: jobRowId(jobId), owner: workerId });
  }

  async release(jobId: string, workerId: string): Promise<void> {
    this.sql.releaseJob.run({ id: jobRowId(jobId), owner: workerId });
  }

  async queued(): Promise<number> {
    return this.sql.claimableJobs.get({ now: Date.now() })!.n;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.shared.release();
  }
}

// ---------------------------------------------------------------------------------------------------

export interface SqliteBackend {
  tasks: SqliteTaskStore;
  queue: SqliteJobQueue;
  /** The database file's path. */
  file: string;
  /** Closes the store and the queue (and so the database). */
  close(): Promise<void>;
}

/** Opens `dataDir/outpaint.db` (created and migrated as needed) for one TaskStore and one JobQueue. */
export function openSqliteBackend(dataDir: string): SqliteBackend {
  const file = path.join(dataDir, DATABASE_FILE);
  const shared = new SharedDatabase(openDatabase(file));
  const tasks = new SqliteTaskStore(shared);
  const queue = new SqliteJobQueue(shared);
  return {
    tasks,
    queue,
    file,
    async close() {
      await Promise.all([tasks.close(), queue.close()]);
    },
  };
}
