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
 * Leases are measured on the database's clock, so that workers on machines whose clocks differ agree.
 */
export interface JobQueue {
  /** Enqueues a job for a task unless one is already queued or running for it (recovery path). */
  enqueue(taskId: string): Promise<void>;
  /**
   * Atomically takes the oldest claimable job (queued, or running with an expired lease), leases it to
   * `workerId` for `leaseMs` and counts the claim in `attempt`. Null when there is none. Concurrent
   * claims, from any number of processes, never hand one job to two workers.
   */
  claim(workerId: string, leaseMs: number): Promise<ClaimedJob | null>;
  /**
   * Extends the lease to now + leaseMs; false when the job is no longer this worker's (completed,
   * released, or re-claimed by another worker after the lease ran out).
   */
  heartbeat(jobId: string, workerId: string, leaseMs: number): Promise<boolean>;
  /** Finishes the job for good; does nothing when the job is no longer this worker's. */
  complete(jobId: string, workerId: string): Promise<void>;
  /**
   * Hands the job back at once (graceful shutdown) without counting a failed attempt: the next claim
   * sees the same `attempt` as this one did. Does nothing when the job is no longer this worker's.
   */
  release(jobId: string, workerId: string): Promise<void>;
  /** Jobs that a claim would take now: queued ones and running ones whose lease ran out. */
  queued(): Promise<number>;
  /**
   * How long the oldest of those (the jobs `queued` counts) has waited since it was enqueued, in ms on
   * the database's clock; null when there is none. For the metrics scrape.
   */
  oldestWaitingMs(): Promise<number | null>;
  close(): Promise<void>;
}
