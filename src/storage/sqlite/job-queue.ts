import type { ClaimedJob, JobQueue } from '../job-queue.js';
import { SqlitePort } from './connection.js';

/** Job ids are the table's integer ids, as strings for the interface. */
function jobRowId(jobId: string): number {
  const id = Number(jobId);
  return Number.isSafeInteger(id) ? id : -1;
}

export class SqliteJobQueue extends SqlitePort implements JobQueue {
  async enqueue(taskId: string): Promise<void> {
    this.sql.insertJob.run(taskId);
  }

  async claim(workerId: string, leaseMs: number): Promise<ClaimedJob | null> {
    // One UPDATE … WHERE id = (SELECT …) is atomic by itself; IMMEDIATE only avoids a lock upgrade.
    const claim = this.db.transaction(() => this.sql.claimJob.get({ owner: workerId, leaseMs }));
    const row = claim.immediate();
    return row ? { id: String(row.id), taskId: row.task_id, attempt: row.attempt } : null;
  }

  async heartbeat(jobId: string, workerId: string, leaseMs: number): Promise<boolean> {
    return this.sql.heartbeatJob.run({ id: jobRowId(jobId), owner: workerId, leaseMs }).changes > 0;
  }

  async complete(jobId: string, workerId: string): Promise<void> {
    this.sql.completeJob.run({ id: jobRowId(jobId), owner: workerId });
  }

  async release(jobId: string, workerId: string): Promise<void> {
    this.sql.releaseJob.run({ id: jobRowId(jobId), owner: workerId });
  }

  async queued(): Promise<number> {
    return this.sql.claimableJobs.get()!.n;
  }

  async oldestWaitingMs(): Promise<number | null> {
    const { ms } = this.sql.oldestClaimableAge.get()!;
    return ms === null ? null : Math.max(0, ms);
  }
}
