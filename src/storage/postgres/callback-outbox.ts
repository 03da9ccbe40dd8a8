import type { CallbackDelivery, CallbackOutbox } from '../callback-outbox.js';
import { callbackFromRow, type CallbackRow } from '../rows.js';
import { PgPort } from './connection.js';
import { stmt } from './statements.js';

export class PgCallbackOutbox extends PgPort implements CallbackOutbox {
  async claimDue(now: number, limit: number, leaseMs: number): Promise<CallbackDelivery[]> {
    // One statement: the rows are locked, leased and returned at once (SKIP LOCKED keeps claimers apart).
    const { rows } = await this.pool.query<CallbackRow & { due_at: number; seq: number }>(stmt('claimDueCallbacks', [now, limit, leaseMs]));
    // RETURNING has no order of its own: oldest due first, as they were picked.
    rows.sort((a, b) => a.due_at - b.due_at || a.seq - b.seq);
    return rows.map(callbackFromRow);
  }

  async markDelivered(id: string, at: number): Promise<void> {
    await this.pool.query(stmt('callbackDelivered', [id, at]));
  }

  async reschedule(id: string, nextAttemptAt: number | null, lastError: string): Promise<void> {
    if (nextAttemptAt === null) await this.pool.query(stmt('callbackDead', [id, lastError]));
    else await this.pool.query(stmt('callbackRescheduled', [id, nextAttemptAt, lastError]));
  }

  async pending(): Promise<number> {
    return (await this.pool.query<{ n: number }>(stmt('pendingCallbacks'))).rows[0].n;
  }
}
