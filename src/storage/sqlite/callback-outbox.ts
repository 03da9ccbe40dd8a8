import type { CallbackDelivery, CallbackOutbox } from '../callback-outbox.js';
import { SqlitePort } from './connection.js';
import { callbackFromRow } from '../rows.js';

export class SqliteCallbackOutbox extends SqlitePort implements CallbackOutbox {
  async claimDue(now: number, limit: number, leaseMs: number): Promise<CallbackDelivery[]> {
    const claim = this.db.transaction((): CallbackDelivery[] => {
      const rows = this.sql.dueCallbacks.all({ now, limit });
      const until = now + leaseMs;
      for (const r of rows) this.sql.leaseCallback.run({ id: r.id, until });
      return rows.map((r) => callbackFromRow({ ...r, next_attempt_at: until }));
    });
    return claim.immediate();
  }

  async markDelivered(id: string, at: number): Promise<void> {
    this.sql.callbackDelivered.run({ id, at });
  }

  async reschedule(id: string, nextAttemptAt: number | null, lastError: string): Promise<void> {
    if (nextAttemptAt === null) this.sql.callbackDead.run({ id, error: lastError });
    else this.sql.callbackRescheduled.run({ id, next: nextAttemptAt, error: lastError });
  }

  async pending(): Promise<number> {
    return this.sql.pendingCallbacks.get()!.n;
  }
}
