/** A claimed job: run the task, then `complete` it, or `release` it to hand it back. */
export interface ClaimedJob {
  id: string;
  taskId: string;
  /** How many times this job has been claimed, this claim included. */
  attempt: number;
}

/**
 * Jobs for the engine workers, claimed with a lease: a job whose lease runs out (its worker died) is
 * claimed again by the next `claim`. Jobs are enqueued by TaskStore.create in the task's transaction.
 */
export interface JobQueue {
  /** Enqueues a job for a task unless one is already pending or running for it (recovery path). */
  enqueue(taskId: string): Promise<void>;
  claim(workerId: string, leaseMs: number): Promise<ClaimedJob | null>;
  /** Extends the lease; false when the job is no longer this worker's. */
  heartbeat(jobId: string, workerId: string, leaseMs: number): Promise<boolean>;
  complete(jobId: string, workerId: string): Promise<void>;
  /** Hands the job back at once (graceful shutdown) without counting a failed attempt. */
  release(jobId: string, workerId: string): Promise<void>;
  /** Jobs waiting to be claimed. */
  queued(): Promise<number>;
  close(): Promise<void>;
}
