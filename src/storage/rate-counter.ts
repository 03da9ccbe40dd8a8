/** One counted request: how many the key made in its current window, and when the window ends. */
export interface RateHit {
  count: number;
  /** Milliseconds until the window resets. */
  resetInMs: number;
}

/**
 * Fixed-window request counts per key (an account, or an IP), behind the API's rate limit. The embedded
 * storage counts in memory (one process); a shared backend counts for every node at once.
 */
export interface RateCounter {
  hit(key: string, windowMs: number): Promise<RateHit>;
}
