export interface BlobMeta {
  contentType: string;
  /** Unix ms after which the blob is gone for readers and the sweep deletes it; null keeps it. */
  expiresAt: number | null;
}

export interface Blob extends BlobMeta {
  data: Buffer;
}

/**
 * Input images and results. Keys are relative paths of [A-Za-z0-9._-] segments joined by "/" (no empty,
 * "." or ".." segment); every method rejects a key that breaks the rule before touching storage.
 * A `put` is atomic: readers see the whole blob or none.
 */
export interface BlobStore {
  /** Stores (or replaces) the blob under `key`. */
  put(key: string, data: Uint8Array, meta: BlobMeta): Promise<void>;
  /** Null when missing or expired (expiresAt ≤ now). */
  get(key: string): Promise<Blob | null>;
  /** Deleting a missing blob is not an error. */
  delete(key: string): Promise<void>;
  /** Deletes every blob expired at `now` (expiresAt ≤ now); returns how many. */
  sweepExpired(now: number): Promise<number>;
  /**
   * Resolves when a blob could be written now (for readiness): a real small write, removed again, not a
   * look at permissions. Rejects with the store's error (e.g. EROFS, EACCES, EPERM, ENOSPC) when not.
   */
  checkWritable(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Links that fetch a blob straight from where it is stored (presigned S3 GET URLs), so downloads need
 * no API node. Such a link is valid for a limited time from when it was made, so it depends on when it
 * was asked for, not only on the key and the expiry.
 */
export interface BlobLinks {
  /** The longest a link can be valid, counted from when it is made (S3: 7 days). */
  readonly maxValidityMs: number;
  /** Scheme, host and port the links point at (e.g. for a web page's Content-Security-Policy). */
  readonly origin: string;
  /** A URL that GETs `key` until `expiresAt` or for `maxValidityMs` from now, whichever comes first. */
  link(key: string, expiresAt: number): Promise<string>;
}
