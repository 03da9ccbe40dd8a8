import type pg from 'pg';
import type { RateCounter, RateHit } from '../rate-counter.js';
import { SQL } from './statements.js';

/** How often a node deletes windows that are long over (their keys are forgotten, as an LRU would). */
const SWEEP_EVERY_MS = 60_000;

/** Fixed windows counted in the shared database: a limit holds for an account over all API nodes. */
export class PgRateCounter implements RateCounter {
  private lastSweep = Date.now();

  constructor(private readonly pool: pg.Pool) {}

  async hit(key: string, windowMs: number): Promise<RateHit> {
    this.sweepSometimes();
    const { rows } = await this.pool.query<{ count: number; reset_in_ms: number }>(SQL.rateHit, [key, windowMs]);
    return { count: rows[0].count, resetInMs: rows[0].reset_in_ms };
  }

  private sweepSometimes(): void {
    if (Date.now() - this.lastSweep < SWEEP_EVERY_MS) return;
    this.lastSweep = Date.now();
    // Off the request's path; a failed sweep is retried at the next one.
    this.pool.query(SQL.sweepRateWindows).catch(() => undefined);
  }
}
