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
 */
export interface TaskStore {
  create(task: NewTask, limits: AdmissionLimits, callbackBody: string | null): Promise<CreateResult>;
  get(accountId: string, taskId: string): Promise<TaskRecord | null>;
  /** Looks the id up as a task id first, then as the account's external_task_id. */
  getByIdOrExternalId(accountId: string, id: string): Promise<TaskRecord | null>;
  getByExternalId(accountId: string, externalTaskId: string): Promise<TaskRecord | null>;
  /** Not scoped to an account: for the job runner. */
  getById(taskId: string): Promise<TaskRecord | null>;
  /** Newest first. */
  list(accountId: string, page: ListPage): Promise<TaskRecord[]>;
  /** Applies the change and records its callback atomically; null when the task was not in `from`. */
  updateStatus(taskId: string, change: StatusChange): Promise<TaskRecord | null>;

  /** Deliveries due at `now`, leased for `leaseMs` so that no other dispatcher takes them meanwhile. */
  claimDueCallbacks(now: number, limit: number, leaseMs: number): Promise<CallbackDelivery[]>;
  markCallbackDelivered(id: string, at: number): Promise<void>;
  /** Counts the attempt; `nextAttemptAt` null gives up on the delivery. */
  rescheduleCallback(id: string, nextAttemptAt: number | null, lastError: string): Promise<void>;
  pendingCallbacks(): Promise<number>;

  createKey(key: ApiKeyRecord): Promise<void>;
  findKey(accessKey: string): Promise<ApiKeyRecord | null>;
  /** For plain API keys sent as bearer tokens: looks a key up by its secret. */
  findKeyBySecret(secretKey: string): Promise<ApiKeyRecord | null>;
  listKeys(): Promise<ApiKeyRecord[]>;
  /** True when a live key was revoked. */
  revokeKey(accessKey: string, at: number): Promise<boolean>;

  close(): Promise<void>;
}
