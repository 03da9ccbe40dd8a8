import type { ExpansionRatios } from '../engine/geometry.js';

export type TaskStatus = 'submitted' | 'processing' | 'succeed' | 'failed';
export const TERMINAL_STATUSES: readonly TaskStatus[] = ['succeed', 'failed'];

/** What the client asked for, after validation. */
export interface ExpandParams extends ExpansionRatios {
  n: number;
  prompt: string | null;
  watermark: boolean;
  callbackUrl: string | null;
}

/** One result image: blob keys, turned into signed URLs when a task is shown. */
export interface ResultImage {
  index: number;
  key: string;
  watermarkKey: string | null;
}

export interface TaskRecord {
  id: string;
  accountId: string;
  externalTaskId: string | null;
  status: TaskStatus;
  /** Why the task failed; empty otherwise. */
  statusMsg: string;
  params: ExpandParams;
  /** Blob key of the validated input image (PNG or JPEG bytes as received). */
  inputKey: string;
  inputWidth: number;
  inputHeight: number;
  images: ResultImage[];
  /** Unix milliseconds. */
  createdAt: number;
  updatedAt: number;
}

export type NewTask = Omit<TaskRecord, 'status' | 'statusMsg' | 'images' | 'updatedAt'>;

/** Admission limits checked atomically with the insert. */
export interface AdmissionLimits {
  /** Slots (sum of `n` over the account's submitted and processing tasks) the account may hold. */
  maxAccountSlots: number;
  /** Jobs waiting in the queue, over all accounts. */
  maxQueuedJobs: number;
}

/** Why `create` refused a task; the HTTP layer maps each to its Kling code. */
export type CreateRefusal = 'duplicate_external_task_id' | 'account_slots_full' | 'queue_full';

export type CreateResult = { ok: true; task: TaskRecord } | { ok: false; reason: CreateRefusal };

/** A status change, applied only if the task is currently in one of `from`. */
export interface StatusChange {
  from: readonly TaskStatus[];
  status: TaskStatus;
  statusMsg?: string;
  images?: ResultImage[];
  /** Becomes the task's updatedAt. */
  at: number;
  /**
   * The callback body for this change (the task object as the client sees it after the change), or null
   * when the task has no callback_url. Recorded in the same transaction as the change.
   */
  callbackBody: string | null;
}

/** A durable callback (webhook) delivery: the transactional outbox. */
export interface CallbackDelivery {
  /** Stable across retries: it is the `webhook-id`. */
  id: string;
  taskId: string;
  accountId: string;
  url: string;
  body: string;
  attempts: number;
  /** Unix ms. */
  createdAt: number;
  nextAttemptAt: number;
}

export interface ApiKeyRecord {
  accessKey: string;
  secretKey: string;
  webhookSecret: string;
  accountId: string;
  name: string;
  createdAt: number;
  revokedAt: number | null;
}

export interface ListPage {
  pageNum: number;
  pageSize: number;
}

/**
 * Tasks, their callback outbox and the API keys, in one database.
 * `create` also enqueues the task's job on the JobQueue of the same backend, in the same transaction.
 * Every multi-row step is one transaction: no reader ever sees a task without its job, or a status
 * change without its callback delivery.
 */
export interface TaskStore {
  /**
   * Inserts the task (status 'submitted', updatedAt = createdAt), its job and, when `callbackBody` is
   * non-null and the task has a callbackUrl, its 'submitted' callback delivery, all in one transaction.
   * The admission limits are checked inside that transaction, in this order: an external_task_id
   * already used by the account → 'duplicate_external_task_id'; the account's slots in use (sum of n over
   * its submitted and processing tasks) + this task's n > maxAccountSlots → 'account_slots_full';
   * claimable jobs (JobQueue.queued) ≥ maxQueuedJobs → 'queue_full'. A refused create writes nothing.
   */
  create(task: NewTask, limits: AdmissionLimits, callbackBody: string | null): Promise<CreateResult>;
  /** The account's task with this id; null for another account's task. */
  get(accountId: string, taskId: string): Promise<TaskRecord | null>;
  /** Looks the id up as the account's task id first, then as the account's external_task_id. */
  getByIdOrExternalId(accountId: string, id: string): Promise<TaskRecord | null>;
  getByExternalId(accountId: string, externalTaskId: string): Promise<TaskRecord | null>;
  /** Not scoped to an account: for the job runner. */
  getById(taskId: string): Promise<TaskRecord | null>;
  /**
   * The account's tasks, newest first (createdAt descending, then id descending so that pages are
   * stable); page `pageNum` (from 1) of `pageSize`. A page shorter than pageSize is the last.
   */
  list(accountId: string, page: ListPage): Promise<TaskRecord[]>;
  /**
   * When the task's current status is in `change.from`: sets status, statusMsg (`change.statusMsg`, or
   * '' when absent), images (`change.images`, or unchanged when absent) and updatedAt = `change.at`, and
   * records the callback delivery for `change.callbackBody` (see create), in one transaction.
   * Returns the updated task; null (and changes nothing) when the task is missing or not in `from`.
   */
  updateStatus(taskId: string, change: StatusChange): Promise<TaskRecord | null>;

  /**
   * Up to `limit` pending deliveries with nextAttemptAt ≤ `now`, oldest due first. Each is leased: its
   * nextAttemptAt moves to now + leaseMs (the value returned), so no other dispatcher takes it meanwhile,
   * and a dispatcher that dies mid-delivery leaves it to be retried after the lease.
   */
  claimDueCallbacks(now: number, limit: number, leaseMs: number): Promise<CallbackDelivery[]>;
  /** Marks a pending delivery delivered (counting the attempt); it is never claimed again. */
  markCallbackDelivered(id: string, at: number): Promise<void>;
  /**
   * Counts a failed attempt and records `lastError`. A number schedules the next attempt at that time;
   * null gives up: the delivery is kept, marked dead, and never claimed again.
   */
  rescheduleCallback(id: string, nextAttemptAt: number | null, lastError: string): Promise<void>;
  /** Deliveries neither delivered nor given up on (leased ones included). */
  pendingCallbacks(): Promise<number>;

  /** Stores a new key; a duplicate access key or secret key is an error. */
  createKey(key: ApiKeyRecord): Promise<void>;
  /** The key with this access key, revoked or not: callers check `revokedAt`. */
  findKey(accessKey: string): Promise<ApiKeyRecord | null>;
  /**
   * For plain API keys sent as bearer tokens: the key with this secret key, revoked or not (callers check
   * `revokedAt`). Backends look it up by a SHA-256 of the secret, never by comparing secrets in a query.
   */
  findKeyBySecret(secretKey: string): Promise<ApiKeyRecord | null>;
  /** Every key, revoked ones included, oldest first. */
  listKeys(): Promise<ApiKeyRecord[]>;
  /** True when a live key was revoked; false when unknown or already revoked. */
  revokeKey(accessKey: string, at: number): Promise<boolean>;
  /**
   * The secret callbacks to this account are signed with: the webhook secret of the account's newest
   * live key (by createdAt). Null when the account has no live key.
   */
  webhookSecret(accountId: string): Promise<string | null>;

  close(): Promise<void>;
}
