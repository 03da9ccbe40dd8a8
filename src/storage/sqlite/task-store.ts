/**
 * better-sqlite3 is synchronous, so each method runs to completion on the calling thread; the Promise
 * signatures exist for the networked backends. Multi-statement steps run in `BEGIN IMMEDIATE`
 * transactions, which take the write lock up front: another connection (another process on the same
 * file) waits on busy_timeout instead of failing half-way through a read-then-write.
 */
import type { NewTask, TaskRecord, TaskStatus } from '../../tasks/model.js';
import { newCallbackId } from '../ids.js';
import type { AdmissionLimits, CreateResult, ListPage, StatusChange, TaskStore } from '../task-store.js';
import { SqlitePort } from './connection.js';
import { taskFromRow } from '../rows.js';

export class SqliteTaskStore extends SqlitePort implements TaskStore {
  async create(task: NewTask, limits: AdmissionLimits, callbackBody: string | null): Promise<CreateResult> {
    const insert = this.db.transaction((): CreateResult => {
      const s = this.sql;
      if (task.externalTaskId !== null && s.externalIdTaken.get(task.accountId, task.externalTaskId)) {
        return { ok: false, reason: 'duplicate_external_task_id' };
      }
      const { slots } = s.slotsInUse.get(task.accountId)!;
      if (slots + task.params.n > limits.maxAccountSlots) return { ok: false, reason: 'account_slots_full' };
      if (s.claimableJobs.get()!.n >= limits.maxQueuedJobs) return { ok: false, reason: 'queue_full' };

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
      s.insertJob.run(task.id);
      this.recordCallback(task.id, task.accountId, task.params.callbackUrl, callbackBody);
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
      this.recordCallback(taskId, current.accountId, current.params.callbackUrl, change.callbackBody);
      return taskFromRow(s.taskById.get(taskId)!);
    });
    return apply.immediate();
  }

  async setProgress(taskId: string, progress: number): Promise<void> {
    this.sql.raiseProgress.run({ id: taskId, progress });
  }

  async countByStatus(): Promise<Record<TaskStatus, number>> {
    const counts: Record<TaskStatus, number> = { submitted: 0, processing: 0, succeed: 0, failed: 0 };
    for (const row of this.sql.tasksByStatus.all()) counts[row.status] = row.n;
    return counts;
  }

  /** Inside the caller's transaction. A body without a callback URL has nowhere to go and is dropped. */
  private recordCallback(taskId: string, accountId: string, url: string | null, body: string | null): void {
    if (body === null || !url) return;
    this.sql.insertCallback.run({ id: newCallbackId(), taskId, accountId, url, body });
  }
}
