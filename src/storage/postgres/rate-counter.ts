import type pg from 'pg';
import type { RateCounter, RateHit } from '../rate-counter.js';
import { stmt } from './statements.js';

/** How often a node deletes windows that are long over (their keys are forgotten, as an LRU would). */
const SWEEP_EVERY_MS = 60_000;

interface Waiter {
  resolve(hit: RateHit): void;
  reject(err: unknown): void;
}

/**
 * Fixed windows counted in the shared database: a limit holds for an account over all API nodes.
 * Hits of one key that arrive while its upsert is in flight are counted together by the next one
 * (count + n), and each caller gets its own number of the n: the counts stay exact, and a busy
 * client costs one statement per round trip rather than one per request.
 */
export class PgRateCounter implements RateCounter {
  private lastSweep = Date.now();
  /** Keys with an upsert in flight, and the hits waiting for the next one. */
  private readonly inFlight = new Map<string, { windowMs: number; waiting: Waiter[] }>();

  constructor(private readonly pool: pg.Pool) {}

  hit(key: string, windowMs: number): Promise<RateHit> {
    this.sweepSometimes();
    return new Promise((resolve, reject) => {
      const busy = this.inFlight.get(key);
      if (busy && busy.windowMs === windowMs) {
        busy.waiting.push({ resolve, reject });
        return;
      }
      if (busy) {
        // Another window length for the same key (a changed setting): counted on its own.
        void this.count(key, windowMs, [{ resolve, reject }], false);
        return;
      }
      this.inFlight.set(key, { windowMs, waiting: [] });
      void this.count(key, windowMs, [{ resolve, reject }], true);
    });
  }

  /** One upsert for `batch`; then, while hits kept arriving meanwhile, one for them. */
  private async count(key: string, windowMs: number, batch: Waiter[], owner: boolean): Promise<void> {
    for (;;) {
      try {
        const { rows } = await this.pool.query<{ count: number; reset_in_ms: number }>(stmt('rateHit', [key, windowMs, batch.length]));
        const first = rows[0].count - batch.length + 1;
        batch.forEach((w, i) => w.resolve({ count: first + i, resetInMs: rows[0].reset_in_ms }));
      } catch (err) {
        for (const w of batch) w.reject(err);
      }
      if (!owner) return;
      const state = this.inFlight.get(key)!;
      if (state.waiting.length === 0) {
        this.inFlight.delete(key);
        return;
      }
      batch = state.waiting;
      state.waiting = [];
    }
  }

  private sweepSometimes(): void {
    if (Date.now() - this.lastSweep < SWEEP_EVERY_MS) return;
    this.lastSweep = Date.now();
    // Off the request's path; a failed sweep is retried at the next one.
    this.pool.query(stmt('sweepRateWindows')).catch(() => undefined);
  }
}
