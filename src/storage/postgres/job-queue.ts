/**
 * The JobQueue on pg-boss 10, with a lease table of our own beside it.
 *
 * pg-boss holds the waiting jobs: a task's job is sent in the task's own transaction (pg-boss's `db`
 * option, on that transaction's client), and claims take the oldest one with pg-boss's fetch (FOR
 * UPDATE SKIP LOCKED), which marks it active. From that claim until `complete`, the job's lease is a
 * row in job_leases, written in the fetch's transaction. The JobQueue contract asks for three things
 * pg-boss 10 does not give, so the lease row gives them:
 *   - Heartbeats. pg-boss 10 fixes a job's expiry when it is sent (expire_in, under 24 h) and has no
 *     way to extend it; ours is expires_at, renewed by `heartbeat` on the database's clock.
 *   - Re-claiming at once after a lease runs out. pg-boss notices expired jobs only in its maintenance
 *     loop (every maintenanceIntervalSeconds, minutes by default) and at whole seconds; ours are
 *     claimable by the very next `claim` once expires_at has passed.
 *   - Owners and attempts. pg-boss has no owner (anyone may complete any job id), counts every
 *     fail/retry in retry_count and has no hand-back without counting one. Ours has `owner`, so a
 *     worker that lost its lease can no longer complete, heartbeat or release, and `attempt`, which
 *     `release` gives back. The retry limit is OUTPAINT_JOB_MAX_ATTEMPTS: the runner marks a task
 *     failed ("processing was interrupted N times; giving up") when a claim's attempt passes it, so
 *     pg-boss's own retries are off (retryLimit 0).
 * pg-boss's own expiry is left as a backstop only: 23 h (its maximum is 24). A job heartbeated for
 * longer is marked failed in pg-boss's table; its lease row, which is what claims look at, is kept.
 */
import PgBoss from 'pg-boss';
import type pg from 'pg';
import type { ClaimedJob, JobQueue } from '../job-queue.js';
import { bossDb, inTransaction, PgPort, type Queryable } from './connection.js';
import { JOB_QUEUE, stmt } from './statements.js';

/** pg-boss's job ids are UUIDs; anything else names no job (and would be a cast error in SQL). */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface LeaseRow {
  job_id: string;
  task_id: string;
  attempt: number;
}

const claimed = (r: LeaseRow): ClaimedJob => ({ id: r.job_id, taskId: r.task_id, attempt: r.attempt });

export class PgJobQueue extends PgPort implements JobQueue {
  constructor(
    pool: pg.Pool,
    private readonly boss: PgBoss,
  ) {
    super(pool);
  }

  /** Queues the task's job on `client`'s transaction (TaskStore.create's). */
  async send(client: Queryable, taskId: string): Promise<void> {
    const id = await this.boss.send(JOB_QUEUE, { taskId }, { db: bossDb(client), singletonKey: taskId });
    if (!id) throw new Error(`pg-boss did not queue the job of task ${taskId} (no queue ${JOB_QUEUE}?)`);
  }

  /** JobQueue.queued, on a given connection (TaskStore.create counts inside its transaction). */
  async claimable(db: Queryable = this.pool): Promise<number> {
    return (await db.query<{ n: number }>(stmt('claimableJobs'))).rows[0].n;
  }

  async enqueue(taskId: string): Promise<void> {
    await inTransaction(this.pool, async (client) => {
      await client.query(stmt('lockTaskJob', [taskId]));
      if (!(await client.query(stmt('taskExists', [taskId]))).rowCount) throw new Error(`cannot queue a job for task ${taskId}: no such task`);
      if ((await client.query<{ found: boolean }>(stmt('taskHasUnfinishedJob', [taskId]))).rows[0].found) return;
      await this.send(client, taskId);
    });
  }

  async claim(workerId: string, leaseMs: number): Promise<ClaimedJob | null> {
    // Idle workers poll: one count answers most of their claims, instead of a transaction each.
    if ((await this.claimable()) === 0) return null;
    // A job that was claimed before is older than any still waiting in pg-boss (fetch is FIFO). One
    // UPDATE … RETURNING is atomic by itself.
    const reclaimed = await this.pool.query<LeaseRow>(stmt('reclaimJob', [workerId, leaseMs]));
    if (reclaimed.rows.length) return claimed(reclaimed.rows[0]);
    return inTransaction(this.pool, async (client) => {
      const db = bossDb(client);
      const [job] = await this.boss.fetch<{ taskId: string }>(JOB_QUEUE, { db, batchSize: 1 });
      if (db.failure) throw db.failure;
      if (!job) return null;
      const { rows } = await client.query<LeaseRow>(stmt('insertLease', [job.id, job.data.taskId, workerId, leaseMs]));
      if (rows.length) return claimed(rows[0]);
      // Finished here rather than failing every claim after this one; the worker polls again.
      await this.boss.complete(JOB_QUEUE, job.id, { orphaned: true }, { db });
      return null;
    });
  }

  async heartbeat(jobId: string, workerId: string, leaseMs: number): Promise<boolean> {
    if (!UUID.test(jobId)) return false;
    return ((await this.pool.query(stmt('heartbeatJob', [jobId, workerId, leaseMs]))).rowCount ?? 0) > 0;
  }

  async complete(jobId: string, workerId: string): Promise<void> {
    if (!UUID.test(jobId)) return;
    await inTransaction(this.pool, async (client) => {
      if (!(await client.query(stmt('completeLease', [jobId, workerId]))).rowCount) return;
      await this.boss.complete(JOB_QUEUE, jobId, {}, { db: bossDb(client) });
    });
  }

  async release(jobId: string, workerId: string): Promise<void> {
    if (!UUID.test(jobId)) return;
    await this.pool.query(stmt('releaseJob', [jobId, workerId]));
  }

  async queued(): Promise<number> {
    return this.claimable();
  }

  async oldestWaitingMs(): Promise<number | null> {
    const { ms } = (await this.pool.query<{ ms: string | null }>(stmt('oldestClaimableAge'))).rows[0];
    return ms === null ? null : Math.max(0, Number(ms));
  }
}

/**
 * Starts pg-boss on the backend's pool in `schema` (its tables beside ours) and creates the queue. Nodes
 * starting together take turns: pg-boss's install and its queue's partition table are DDL that deadlocks
 * when run concurrently, so a transaction of our own holds an advisory lock meanwhile (a transaction,
 * not a session lock: it ends with the connection, and a transaction-mode pooler keeps it on one
 * server connection). pg-boss's maintenance (archiving finished jobs) runs on every node, one at a time;
 * its cron scheduler is not used.
 */
export async function startBoss(pool: pg.Pool, schema: string, onError: (err: Error) => void): Promise<PgBoss> {
  const boss = new PgBoss({ db: bossDb(pool), schema, schedule: false, supervise: true, migrate: true });
  boss.on('error', onError);
  try {
    await inTransaction(pool, async (turn) => {
      await turn.query(stmt('lockBossSetup', [schema]));
      await boss.start();
      if (!(await boss.getQueue(JOB_QUEUE))) {
        await boss.createQueue(JOB_QUEUE, { name: JOB_QUEUE, retryLimit: 0, expireInSeconds: 23 * 3600, retentionMinutes: 30 * 24 * 60 });
      }
    });
  } catch (err) {
    // Its timers would keep the process alive.
    await boss.stop({ graceful: false, close: false }).catch(() => undefined);
    throw err;
  }
  return boss;
}
