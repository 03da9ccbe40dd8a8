import type { NewTask, ResultImage, TaskRecord, TaskStatus } from '../tasks/model.js';

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
  /** Becomes the task's updatedAt, and the time its callback delivery is recorded and first due. */
  at: number;
  /**
   * The callback body for this change (the task object as the client sees it after the change), or null
   * when the task has no callback_url. Recorded in the same transaction as the change.
   */
  callbackBody: string | null;
}

export interface ListPage {
  pageNum: number;
  pageSize: number;
}

/**
 * The tasks. A backend's TaskStore shares its database with the backend's JobQueue and CallbackOutbox:
 * `create` enqueues the task's job, and every status change records its callback delivery, in the same
 * transaction, so no reader ever sees a task without its job or a change without its callback.
 */
export interface TaskStore {
  /**
   * Inserts the task (status 'submitted', updatedAt = createdAt), its job and, when `callbackBody` is
   * non-null and the task has a callbackUrl, its 'submitted' callback delivery (due at createdAt), all
   * in one transaction. The admission limits are checked inside that transaction, in this order: an
   * external_task_id already used by the account → 'duplicate_external_task_id'; the account's slots in
   * use (sum of n over its submitted and processing tasks) + this task's n > maxAccountSlots →
   * 'account_slots_full'; claimable jobs (JobQueue.queued) ≥ maxQueuedJobs → 'queue_full'. A refused
   * create writes nothing.
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
   * Raises the stored progress of a processing task to `progress` (an integer 0–100). Does nothing when
   * the task is not processing or its progress is already as high: progress never goes back, and a late
   * report cannot touch a finished task. Moves neither updatedAt nor the outbox.
   */
  setProgress(taskId: string, progress: number): Promise<void>;
  /**
   * How many tasks, of every account, are in each status now (every status present, 0 when none). For
   * the metrics scrape, every few seconds: keep it cheap at millions of tasks (SQLite keeps the counts
   * in a table maintained by triggers; a full COUNT(*) there took 600 ms at a million).
   */
  countByStatus(): Promise<Record<TaskStatus, number>>;
  close(): Promise<void>;
}
