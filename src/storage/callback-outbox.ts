/** A durable callback (webhook) delivery, recorded by TaskStore in the transaction of its status change. */
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

/**
 * The transactional outbox the callback dispatchers drain. Times are passed in by the dispatcher (its
 * clock), so that adapters never read a clock of their own. Several dispatchers (processes, machines)
 * may share one outbox: claims are leases.
 */
export interface CallbackOutbox {
  /**
   * Up to `limit` pending deliveries with nextAttemptAt ≤ `now`, oldest due first. Each is leased: its
   * nextAttemptAt moves to now + leaseMs (the value returned), so no other dispatcher takes it meanwhile,
   * and a dispatcher that dies mid-delivery leaves it to be retried after the lease.
   */
  claimDue(now: number, limit: number, leaseMs: number): Promise<CallbackDelivery[]>;
  /** Marks a pending delivery delivered (counting the attempt); it is never claimed again. */
  markDelivered(id: string, at: number): Promise<void>;
  /**
   * Counts a failed attempt and records `lastError`. A number schedules the next attempt at that time;
   * null gives up: the delivery is kept, marked dead, and never claimed again.
   */
  reschedule(id: string, nextAttemptAt: number | null, lastError: string): Promise<void>;
  /** Deliveries neither delivered nor given up on (leased ones included). */
  pending(): Promise<number>;
  close(): Promise<void>;
}
