/**
 * Tasks on PostgreSQL. A create runs in one transaction holding the account's advisory lock and, at its
 * end, the queue-admission lock: the duplicate external id, the account's slots and the queue's length
 * are judged with no other create of the account (or, for the queue, of anyone) in between, on every
 * node. The task's pg-boss job and its first callback are written in that same transaction. The locks
 * are always taken in this order (account, then queue), so two creates never wait on each other in a
 * circle.
 */
import type pg from 'pg';
import type { NewTask, TaskRecord, TaskStatus } from '../../tasks/model.js';
import { newCallbackId } from '../ids.js';
import { taskFromRow, type TaskRow } from '../rows.js';
import type { AdmissionLimits, CreateResult, ListPage, StatusChange, TaskStore } from '../task-store.js';
import { inTransaction, PgPort, type Queryable } from './connection.js';
import type { PgJobQueue } from './job-queue.js';
import { stmt, type StatementName } from './statements.js';

export class PgTaskStore extends PgPort implements TaskStore {
  constructor(
    pool: pg.Pool,
    private readonly queue: PgJobQueue,
  ) {
    super(pool);
  }

  async create(task: NewTask, limits: AdmissionLimits, callbackBody: string | null): Promise<CreateResult> {
    try {
      return await inTransaction(this.pool, async (client): Promise<CreateResult> => {
        await client.query(stmt('lockAccount', [task.accountId]));
        if (task.externalTaskId !== null && (await client.query(stmt('externalIdTaken', [task.accountId, task.externalTaskId]))).rowCount) {
          return { ok: false, reason: 'duplicate_external_task_id' };
        }
        const slots = (await client.query<{ slots: number }>(stmt('slotsInUse', [task.accountId]))).rows[0].slots;
        if (slots + task.params.n > limits.maxAccountSlots) return { ok: false, reason: 'account_slots_full' };

        const { rows } = await client.query<TaskRow>(stmt('insertTask', [
          task.id,
          task.accountId,
          task.externalTaskId,
          task.params.n,
          JSON.stringify(task.params),
          task.inputKey,
          task.inputWidth,
          task.inputHeight,
          task.createdAt,
        ]));
        await this.queue.send(client, task.id);
        await recordCallback(client, task.id, task.accountId, task.params.callbackUrl, callbackBody);
        // The queue's length is judged last, so that the installation-wide lock is held only for one
        // count and the commit. The count sees every committed job and this transaction's own.
        await client.query(stmt('lockQueueAdmission'));
        if ((await this.queue.claimable(client)) > limits.maxQueuedJobs) throw new QueueFull();
        return { ok: true, task: taskFromRow(rows[0]) };
      });
    } catch (err) {
      if (err instanceof QueueFull) return { ok: false, reason: 'queue_full' }; // rolled back: nothing written
      throw err;
    }
  }

  async get(accountId: string, taskId: string): Promise<TaskRecord | null> {
    return this.one('taskByAccountAndId', [accountId, taskId]);
  }

  async getByIdOrExternalId(accountId: string, id: string): Promise<TaskRecord | null> {
    return this.one('taskByIdOrExternalId', [accountId, id]);
  }

  async getByExternalId(accountId: string, externalTaskId: string): Promise<TaskRecord | null> {
    return this.one('taskByExternalId', [accountId, externalTaskId]);
  }

  async getById(taskId: string): Promise<TaskRecord | null> {
    return this.one('taskById', [taskId]);
  }

  async list(accountId: string, page: ListPage): Promise<TaskRecord[]> {
    const offset = (page.pageNum - 1) * page.pageSize;
    const { rows } = await this.pool.query<TaskRow>(stmt('listTasks', [accountId, page.pageSize, offset]));
    return rows.map(taskFromRow);
  }

  async updateStatus(taskId: string, change: StatusChange): Promise<TaskRecord | null> {
    return inTransaction(this.pool, async (client) => {
      const { rows } = await client.query<TaskRow>(stmt('updateTaskStatus', [
        taskId,
        change.from,
        change.status,
        change.statusMsg ?? '',
        change.images ? JSON.stringify(change.images) : null,
        change.at,
      ]));
      if (rows.length === 0) return null;
      const updated = taskFromRow(rows[0]);
      await recordCallback(client, taskId, updated.accountId, updated.params.callbackUrl, change.callbackBody);
      return updated;
    });
  }

  async setProgress(taskId: string, progress: number): Promise<void> {
    await this.pool.query(stmt('raiseProgress', [taskId, progress]));
  }

  async countByStatus(): Promise<Record<TaskStatus, number>> {
    const counts: Record<TaskStatus, number> = { submitted: 0, processing: 0, succeed: 0, failed: 0 };
    const { rows } = await this.pool.query<{ status: TaskStatus; n: number }>(stmt('tasksByStatus'));
    for (const row of rows) counts[row.status] = row.n;
    return counts;
  }

  private async one(name: StatementName, params: unknown[]): Promise<TaskRecord | null> {
    const { rows } = await this.pool.query<TaskRow>(stmt(name, params));
    return rows.length ? taskFromRow(rows[0]) : null;
  }
}

/** Thrown inside create's transaction to roll back what it wrote before the queue was found full. */
class QueueFull extends Error {}

/** Inside the caller's transaction. A body without a callback URL has nowhere to go and is dropped. */
async function recordCallback(db: Queryable, taskId: string, accountId: string, url: string | null, body: string | null): Promise<void> {
  if (body === null || !url) return;
  await db.query(stmt('insertCallback', [newCallbackId(), taskId, accountId, url, body]));
}
