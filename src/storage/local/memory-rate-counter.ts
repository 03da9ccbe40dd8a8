import { LruCache } from '../../util/lru.js';
import type { RateCounter, RateHit } from '../rate-counter.js';

interface Window {
  count: number;
  startedAt: number;
}

/**
 * Fixed windows counted in this process's memory, for the embedded mode (one server). The least recently
 * seen keys are forgotten past `maxKeys`, which bounds memory under a flood of distinct IPs.
 */
export class MemoryRateCounter implements RateCounter {
  private readonly windows: LruCache<string, Window>;

  constructor(
    maxKeys = 10_000,
    private readonly now: () => number = Date.now,
  ) {
    this.windows = new LruCache(maxKeys);
  }

  async hit(key: string, windowMs: number): Promise<RateHit> {
    const now = this.now();
    let w = this.windows.get(key);
    if (!w || w.startedAt + windowMs <= now) {
      w = { count: 0, startedAt: now };
      this.windows.set(key, w);
    }
    w.count++;
    return { count: w.count, resetInMs: w.startedAt + windowMs - now };
  }
}
