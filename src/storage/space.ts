/**
 * Room to write. A full disk must never leave a half-written file behind a link, nor turn into 5000s:
 * the storage reports how much room it has (a guard with a floor, OUTPAINT_MIN_FREE_MB, so that running
 * jobs and the database keep headroom), and every adapter's "no space" error is recognised here.
 */

/** Whether there is room to take more work; a backend without a disk of its own always has. */
export interface SpaceGuard {
  /** Null when there is room; otherwise why not, for people ("12 MB free on /srv/data, below 256 MB"). */
  shortage(): Promise<string | null>;
}

export const UNLIMITED_SPACE: SpaceGuard = { shortage: async () => null };

/**
 * A write failed for lack of space: ENOSPC and EDQUOT from the file system, SQLITE_FULL from SQLite,
 * SQLSTATE 53100 (disk_full) from PostgreSQL. Retrying later is the answer, not failing the work.
 */
export function isStorageFull(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL' || code === '53100') return true;
  const cause = (err as { cause?: unknown } | null)?.cause;
  return cause !== undefined && cause !== err && isStorageFull(cause);
}
